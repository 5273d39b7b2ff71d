import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { createCertificateAuthority, freePort } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterClient } from '../../src/cluster/client.js';
import { Resources } from '../../src/cluster/resources.js';
import type { DataObject, ImageConfig } from '../../src/cluster/openshift-objects.js';
import { exposeRegistry } from '../../src/expose/expose.js';
import { additionalTrustedCaKey } from '../../src/trust/additional-trusted-ca.js';
import { addAdditionalTrustedCA } from '../../src/trust/trusted-ca-admin.js';
import { installTrust, uninstallTrust } from '../../src/trust/install.js';
import { registryTrust } from '../../src/trust/registry-trust.js';
import { failure } from '../failure.js';

let cluster: RunningCluster;
let admin: ClusterClient;
let developer: ClusterClient;
let host: string;
let scratch: string;

beforeAll(async () => {
  cluster = await startCluster({ routerMode: 'port', defaultRoute: true });
  admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
  developer = ClusterClient.fromOptions({ kubeconfig: cluster.users.developer!.kubeconfig });
  host = (await exposeRegistry(admin, { mode: 'default-route', timeoutMs: 10_000, intervalMs: 50 })).host;
  scratch = await mkdtemp(join(tmpdir(), 'core-trust-'));
});

afterAll(async () => {
  await cluster.stop();
  await rm(scratch, { recursive: true, force: true });
});

describe('finding the CA of a registry route', () => {
  it('reads the published ingress CA and proves it with a handshake', async () => {
    const trust = await registryTrust({ host, client: admin, connectTo: cluster.routerAddress });
    expect(trust).toMatchObject({ source: 'default-ingress-cert', verified: true, tried: [] });
    expect(trust.caPem).toContain(cluster.ingressCaPem.trim().split('\n')[1]);
    expect(trust.servedNotAfter!.getTime()).toBeGreaterThan(Date.now());
  });

  it('tells a user who may read none of the sources what was tried and what to do', async () => {
    const error = await failure(registryTrust({ host, client: developer, connectTo: cluster.routerAddress }));
    expect(error.code).toBe('CA_NOT_FOUND');
    expect(error.message).toMatch(
      /configmap openshift-config-managed\/default-ingress-cert: not allowed to read/,
    );
    expect(error.message).toMatch(/the system trust store: /);
    expect(error.hint).toMatch(/ca-file/);
  });

  it('takes a given CA, and refuses one that does not verify the host', async () => {
    const given = await registryTrust({
      host,
      caPem: cluster.ingressCaPem,
      connectTo: cluster.routerAddress,
    });
    expect(given).toMatchObject({ source: 'explicit', verified: true });
    const other = await createCertificateAuthority('unrelated CA');
    const error = await failure(
      registryTrust({ host, caPem: other.certPem, connectTo: cluster.routerAddress }),
    );
    expect(error.code).toBe('CA_MISMATCH');
    expect(error.hint).toMatch(/default-ingress-cert/);
  });

  it('refuses text that is not a certificate without echoing it', async () => {
    const ca = await createCertificateAuthority('key holder');
    const error = await failure(registryTrust({ host, caPem: ca.keyPem, connectTo: cluster.routerAddress }));
    expect(error.code).toBe('CA_INVALID');
    expect(error.message).not.toContain('PRIVATE');
  });

  it('uses a custom route certificate for that route', async () => {
    const hostname = `registry.${cluster.appsDomain}`;
    const ca = await createCertificateAuthority('custom route CA');
    const leaf = await ca.issue({ commonName: hostname });
    await exposeRegistry(admin, {
      mode: 'custom-route',
      route: { name: 'public', hostname, certPem: leaf.certPem, keyPem: leaf.keyPem, caPem: ca.certPem },
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    const trust = await registryTrust({
      host: hostname,
      client: admin,
      routeName: 'public',
      connectTo: cluster.routerAddress,
    });
    expect(trust).toMatchObject({ source: 'route', verified: true });
    expect(trust.caPem).toContain(ca.certPem.trim().split('\n')[1]);
  });

  it('says the registry is unreachable rather than blaming the CA', async () => {
    const port = await freePort();
    const error = await failure(registryTrust({ host: `127.0.0.1:${port}`, caPem: cluster.ingressCaPem }));
    expect(error.code).toBe('REGISTRY_UNREACHABLE');
  });
});

describe('with an admin-provided default certificate', () => {
  let custom: RunningCluster;
  afterAll(async () => {
    await custom.stop();
  });

  it('follows the IngressController default certificate when no published CA is readable', async () => {
    custom = await startCluster({ routerMode: 'port', defaultRoute: true, customDefaultCertificate: true });
    const customAdmin = ClusterClient.fromOptions({ kubeconfig: custom.kubeconfig });
    const customHost = (
      await exposeRegistry(customAdmin, { mode: 'default-route', timeoutMs: 10_000, intervalMs: 50 })
    ).host;
    expect(
      await customAdmin.find(Resources.secret, 'router-certs-default', 'openshift-ingress'),
    ).toBeUndefined();
    const trust = await registryTrust({
      host: customHost,
      client: customAdmin,
      connectTo: custom.routerAddress,
    });
    expect(trust.verified).toBe(true);
    expect(['default-ingress-cert', 'ingress-default-certificate']).toContain(trust.source);

    await customAdmin.delete(Resources.configMap, 'default-ingress-cert', 'openshift-config-managed');
    const fromSecret = await registryTrust({
      host: customHost,
      client: customAdmin,
      connectTo: custom.routerAddress,
    });
    expect(fromSecret.source).toBe('ingress-default-certificate');
    expect(fromSecret.detail).toMatch(/^secret openshift-ingress\//);
    expect(fromSecret.tried).toEqual(['configmap openshift-config-managed/default-ingress-cert: not found']);
    expect(fromSecret.verified).toBe(true);
  });
});

describe('installing the CA', () => {
  it('writes a private certs.d tree and removes exactly what it wrote', async () => {
    const installation = await installTrust({
      host: 'registry.example.com:5000',
      caPem: cluster.ingressCaPem,
    });
    const file = join(installation.certDir, 'ca.crt');
    expect(installation.certDir).toBe(join(installation.certsRoot, 'registry.example.com:5000'));
    expect(await readFile(file, 'utf8')).toBe(cluster.ingressCaPem);
    expect((await stat(installation.certsRoot)).mode & 0o077).toBe(0);
    await uninstallTrust(installation);
    expect(existsSync(installation.certsRoot)).toBe(false);
  });

  it('adds Docker and system anchors only when asked, and cleans them up', async () => {
    const certDir = join(scratch, 'certs');
    const dockerRoot = join(scratch, 'docker-certs.d');
    const anchors = join(scratch, 'anchors');
    const marker = join(scratch, 'updated');
    await import('node:fs/promises').then((fs) => fs.mkdir(anchors));
    const installation = await installTrust({
      host: 'r.example.com',
      caPem: cluster.ingressCaPem,
      certsRoot: certDir,
      docker: true,
      dockerCertsRoot: dockerRoot,
      system: true,
      systemStore: { anchorsDir: anchors, updateCommand: ['touch', marker] },
    });
    expect(installation.files).toEqual([
      join(certDir, 'r.example.com', 'ca.crt'),
      join(dockerRoot, 'r.example.com', 'ca.crt'),
      join(anchors, 'registry-push-r.example.com.crt'),
    ]);
    expect(existsSync(marker)).toBe(true);
    await writeFile(join(certDir, 'keep-me'), 'not ours');
    await uninstallTrust(installation);
    for (const path of installation.files) expect(existsSync(path)).toBe(false);
    expect(existsSync(join(certDir, 'keep-me'))).toBe(true);
    expect(existsSync(anchors)).toBe(true);
  });

  it('refuses a Docker store it cannot write instead of asking for sudo', async () => {
    const error = await failure(
      installTrust({
        host: 'r.example.com',
        caPem: cluster.ingressCaPem,
        docker: true,
        dockerCertsRoot: '/proc/registry-push/certs.d',
      }),
    );
    expect(error.code).toBe('TRUST_STORE_UNWRITABLE');
  });
});

describe('additionalTrustedCA', () => {
  it.each(['[fd00::1]:5000', 'fd00::1', '[::1]', 'host:5000:1', 'reg/x:5000', '.hidden:5000'])(
    'refuses %s, which no config map key can name (OPTION_INVALID, nothing written)',
    async (bad) => {
      expect(() => additionalTrustedCaKey(bad)).toThrow(
        /cannot be named in the cluster's additionalTrustedCA/,
      );
      const error = await failure(addAdditionalTrustedCA(admin, { host: bad, caPem: cluster.ingressCaPem }));
      expect(error.code).toBe('OPTION_INVALID');
    },
  );

  it('keys the CA by host..port, creates the config map and references it once', async () => {
    expect(additionalTrustedCaKey('registry.corp.example:5000')).toBe('registry.corp.example..5000');
    expect(additionalTrustedCaKey('registry.corp.example')).toBe('registry.corp.example');
    const first = await addAdditionalTrustedCA(admin, {
      host: 'registry.corp.example:5000',
      caPem: cluster.ingressCaPem,
    });
    expect(first).toMatchObject({
      configMap: 'registry-cas',
      key: 'registry.corp.example..5000',
      configMapChange: 'created',
      imageConfigPatched: true,
    });
    const config = await admin.get<ImageConfig>(Resources.imageConfig, 'cluster');
    expect(config.spec.additionalTrustedCA?.name).toBe('registry-cas');
    const again = await addAdditionalTrustedCA(admin, {
      host: 'registry.corp.example:5000',
      caPem: cluster.ingressCaPem,
    });
    expect(again).toMatchObject({ configMapChange: 'unchanged', imageConfigPatched: false });
    const second = await addAdditionalTrustedCA(admin, {
      host: 'other.example',
      caPem: cluster.ingressCaPem,
    });
    expect(second.configMapChange).toBe('updated');
    const map = await admin.get<DataObject>(Resources.configMap, 'registry-cas', 'openshift-config');
    expect(Object.keys(map.data ?? {}).sort()).toEqual(['other.example', 'registry.corp.example..5000']);
  });
});
