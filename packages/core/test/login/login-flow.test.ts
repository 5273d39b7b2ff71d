// The whole access flow as a CI job runs it, with the real skopeo: expose (admin, once), then as the
// project's developer: discover, trust, preflight, log in through skopeo, push through the route.
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { buildOciImage, makeWorkDir, runSkopeo } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterClient } from '../../src/cluster/client.js';
import { RegistryPushError } from '../../src/errors.js';
import { exposeRegistry } from '../../src/expose/expose.js';
import { registryLogin, registryLogout } from '../../src/login/login.js';
import { preflightPush } from '../../src/login/preflight.js';
import { installTrust, uninstallTrust } from '../../src/trust/install.js';
import { registryTrust } from '../../src/trust/registry-trust.js';

let cluster: RunningCluster;
let work: string;

beforeAll(async () => {
  cluster = await startCluster({ defaultRoute: true });
  work = await makeWorkDir('core-login-flow');
});

afterAll(async () => {
  await cluster.stop();
  await rm(work, { recursive: true, force: true });
});

describe.runIf(process.getuid?.() === 0)('through the route, with skopeo', () => {
  it('a developer discovers, trusts, logs in with skopeo and pushes; logout and cleanup leave nothing', async () => {
    const developer = ClusterClient.fromOptions({ kubeconfig: cluster.users.developer!.kubeconfig });
    const { host, source } = await exposeRegistry(developer, {
      mode: 'auto',
      namespace: 'demo',
      timeoutMs: 10_000,
    });
    expect(source).toBe('imagestream');
    const trust = await registryTrust({
      host,
      client: ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig }),
    });
    const certs = await installTrust({ host, caPem: trust.caPem! });
    await preflightPush(developer, 'demo');
    const login = await registryLogin({
      host,
      client: developer,
      tool: 'skopeo',
      certDir: certs.certDir,
      verify: false,
    });
    expect(login.tokenSource).toBe('kubeconfig');
    const authFile = await readFile(login.authFile, 'utf8');
    expect(authFile).toContain(host);

    const image = await buildOciImage({
      outDir: join(work, 'image'),
      layers: 2,
      layerSize: 4096,
      seed: 'flow',
    });
    await runSkopeo([
      'copy',
      '--dest-authfile',
      login.authFile,
      '--dest-cert-dir',
      certs.certDir,
      `oci:${image.layoutDir}`,
      `docker://${host}/demo/flow:v1`,
    ]);
    const inspected = await runSkopeo([
      'inspect',
      '--authfile',
      login.authFile,
      '--cert-dir',
      certs.certDir,
      '--raw',
      `docker://${host}/demo/flow:v1`,
    ]);
    expect(inspected.stdout).toContain(image.manifests[0]!.layers[0]!.digest);

    await registryLogout(login);
    await uninstallTrust(certs);
    await expect(readFile(login.authFile)).rejects.toThrow();
    await expect(readFile(join(certs.certDir, host, 'ca.crt'))).rejects.toThrow();
  });

  it('a wrong token fails at login through skopeo, without the token in the error', async () => {
    const host = `default-route-openshift-image-registry.${cluster.appsDomain}`;
    const token = 'sha256~' + 'W'.repeat(43);
    const certs = await installTrust({ host, caPem: cluster.ingressCaPem });
    try {
      await registryLogin({ host, token, tool: 'skopeo', certDir: certs.certDir, verify: false });
      expect.unreachable('login should fail');
    } catch (error) {
      expect(error).toBeInstanceOf(RegistryPushError);
      expect((error as RegistryPushError).code).toBe('LOGIN_TOOL_FAILED');
      // The failure must be the token, not trust: a certificate problem would hide the real cause.
      expect((error as RegistryPushError).message).toMatch(
        /unauthori[sz]ed|authentication required|invalid username\/password/i,
      );
      expect((error as RegistryPushError).message).not.toMatch(/x509|certificate/i);
      expect(JSON.stringify((error as RegistryPushError).toJSON())).not.toContain(token);
    } finally {
      await uninstallTrust(certs);
    }
  });
});
