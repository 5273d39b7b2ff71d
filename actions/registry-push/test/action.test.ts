// The committed bundle, run as the runner runs it (main, then post), against openshift-sim with its real
// registry behind the router: the routes' hosts resolve through /etc/hosts, which needs root, as the data
// path tests of core do.
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ClusterClient, exposeRegistry, Resources, type RegistryConfig } from '@registry-push/core';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import {
  buildOciImage,
  createCertificateAuthority,
  findOnPath,
  makeWorkDir,
  runSkopeo,
  type BuiltImage,
} from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatBytes } from '@registry-push/core';
import { actionOutputs, FakeRunner, type StepResult } from './runner.js';

let cluster: RunningCluster;
let work: string;
let admin: ClusterClient;
let image: BuiltImage;
let ciBotToken: string;

const ROUTE_PREFIX = 'default-route-openshift-image-registry';

function defaultHost(): string {
  return `${ROUTE_PREFIX}.${cluster.appsDomain}`;
}

function token(user: string): string {
  return cluster.users[user]?.token ?? '';
}

async function newRunner(name: string): Promise<FakeRunner> {
  return FakeRunner.create(await mkdir(join(work, name), { recursive: true }).then(() => join(work, name)));
}

/** Every form in which a token could leak: as is, base64, and base64 of the `user:token` an auth file holds. */
function leakForms(secret: string): string[] {
  const b64 = (text: string): string => Buffer.from(text).toString('base64');
  return [secret, b64(secret), b64(`registry-push:${secret}`), b64(`ci-bot:${secret}`)];
}

/** The token is nowhere but in the mask command: not in the log, the files, RUNNER_TEMP or a tool's argv/env. */
async function expectNoLeak(runner: FakeRunner, steps: StepResult[], secret: string): Promise<void> {
  const toolLog = await readFile(runner.toolLog, 'utf8');
  const places: Record<string, string> = {
    'tool argv and environment': toolLog,
    'RUNNER_TEMP after post': await runner.tempContents(),
  };
  steps.forEach((step, index) => {
    places[`step ${index + 1} log`] = step.log;
    places[`step ${index + 1} outputs`] = JSON.stringify(step.outputs);
    places[`step ${index + 1} state`] = step.stateFile;
    places[`step ${index + 1} summary`] = step.summary;
  });
  for (const [place, text] of Object.entries(places)) {
    for (const form of leakForms(secret)) {
      expect(text.includes(form), `the token shows in ${place}`).toBe(false);
    }
  }
  // ...and it was handed to the runner's masking before anything else was printed.
  const first = steps[0];
  if (first !== undefined) {
    expect(first.masks).toContain(secret);
    const lines = first.stdout.split('\n');
    const firstOther = lines.findIndex((line) => !line.startsWith('::add-mask::'));
    expect(lines.indexOf(`::add-mask::${secret}`)).toBeLessThan(firstOther);
  }
}

/** The pushed manifest, read back with skopeo through the route (as a separate client would). */
async function inspectDigest(reference: string, caPem: string, user = 'kubeadmin'): Promise<string> {
  const dir = await makeWorkDir('action-inspect');
  try {
    const host = reference.split('/')[0] ?? '';
    await mkdir(join(dir, 'certs', host), { recursive: true });
    await writeFile(join(dir, 'certs', host, 'ca.crt'), caPem);
    const auth = Buffer.from(`inspect:${token(user)}`).toString('base64');
    await writeFile(join(dir, 'auth.json'), JSON.stringify({ auths: { [host]: { auth } } }));
    const { stdout } = await runSkopeo([
      'inspect',
      '--raw',
      '--authfile',
      join(dir, 'auth.json'),
      '--cert-dir',
      join(dir, 'certs', host),
      `docker://${reference}`,
    ]);
    return `sha256:${createHash('sha256').update(stdout).digest('hex')}`;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function registryConfig(): Promise<RegistryConfig> {
  return admin.get<RegistryConfig>(Resources.registryConfig, 'cluster');
}

async function setDefaultRoute(on: boolean): Promise<void> {
  await admin.mergePatch(Resources.registryConfig, 'cluster', { spec: { defaultRoute: on } });
  if (on) await exposeRegistry(admin, { mode: 'none', timeoutMs: 10_000, intervalMs: 50 });
}

/** The `refs` output, parsed. */
function refsOf(step: StepResult): { tag: string; reference: string; digest: string }[] {
  return JSON.parse(step.outputs.refs ?? '[]') as { tag: string; reference: string; digest: string }[];
}

/** The error line the runner shows for a failed step. */
function errorLine(step: StepResult): string {
  return /^::error::(.*)$/m.exec(step.stdout)?.[1] ?? '';
}

function warnings(step: StepResult): string[] {
  return [...step.stdout.matchAll(/^::warning[^:]*::(.*)$/gm)].map((match) => match[1] ?? '');
}

beforeAll(async () => {
  work = await makeWorkDir('action');
  cluster = await startCluster({
    users: [{ name: 'ci-bot', roles: [{ role: 'system:image-builder', namespace: 'demo' }] }],
  });
  ciBotToken = token('ci-bot');
  admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
  image = await buildOciImage({
    outDir: join(work, 'image'),
    layers: 2,
    layerSize: 8192,
    seed: 'action',
    formats: ['oci', 'oci-archive', 'docker-archive'],
  });
});

afterAll(async () => {
  await cluster?.stop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe('inputs', () => {
  it('a missing input fails the step with the input named, and the post step has nothing to do', async () => {
    const runner = await newRunner('inputs');
    const { main, post } = await runner.job({ image: 'app', source: 'oci:/nowhere' });
    expect(main.code).toBe(1);
    expect(errorLine(main)).toBe(
      'The "namespace" input is required. Set it in the step\'s "with:", e.g. namespace: demo. [OPTION_INVALID]',
    );
    expect(post.code).toBe(0);
    expect(post.stdout).toMatch(/nothing to clean up/);
    expect(await runner.leftInTemp()).toEqual([]);
  });

  it('a kubeconfig flattened onto one line is masked whole and by token, and refused without being shown', async () => {
    const runner = await newRunner('one-line-kubeconfig');
    const secret = 'sha256~oneLineKubeconfigToken0123456789abcdef';
    const keyData = 'LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCk1IY0NBUUVFSU';
    const kubeconfig = `apiVersion: v1 kind: Config users: - name: u user: token: ${secret} client-key-data: ${keyData} current-context: x`;
    const { main, post } = await runner.job({
      kubeconfig,
      namespace: 'demo',
      image: 'app',
      source: `oci:${image.layoutDir}`,
    });
    expect(main.code).toBe(1);
    expect(errorLine(main)).toMatch(
      /^The "kubeconfig" input is neither a readable file nor kubeconfig content .*\[OPTION_INVALID\]$/,
    );
    for (const value of [kubeconfig, secret, keyData]) expect(main.masks).toContain(value);
    for (const step of [main, post]) {
      expect(step.log).not.toContain(secret);
      expect(step.log).not.toContain(keyData);
    }
    await expectNoLeak(runner, [main, post], secret);
  });
});

describe.runIf(process.getuid?.() === 0)('against openshift-sim, through the router', () => {
  it('a non-admin finds nothing exposed and is told who can expose it; nothing is changed', async () => {
    const runner = await newRunner('not-exposed');
    const before = await registryConfig();
    const { main, post } = await runner.job({
      kubeconfig: cluster.users.developer!.kubeconfig,
      namespace: 'demo',
      image: 'app',
      source: `oci:${image.layoutDir}`,
    });
    expect(main.code).toBe(1);
    expect(errorLine(main)).toMatch(/\[REGISTRY_NOT_EXPOSED\]$/);
    expect(errorLine(main)).toMatch(/cluster-admin/);
    expect((await registryConfig()).metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(post.code).toBe(0);
    expect(await runner.leftInTemp()).toEqual([]);
    await expectNoLeak(runner, [main, post], token('developer'));
  });

  it('an admin exposes the registry, pushes two tags, and the post step reverts the exposure', async () => {
    const runner = await newRunner('admin');
    const inputs = {
      kubeconfig: cluster.kubeconfig,
      namespace: 'demo',
      image: 'app',
      tags: 'v1, latest',
      source: `oci:${image.layoutDir}`,
      'revert-expose': 'true',
    };
    const main = await runner.step('main', inputs);
    expect(main.code, main.stdout).toBe(0);
    expect(Object.keys(main.outputs).sort()).toEqual((await actionOutputs()).sort());
    expect(main.outputs).toMatchObject({
      registry: defaultHost(),
      'registry-source': 'default-route',
      image: `${defaultHost()}/demo/app`,
      digest: image.digest,
      'internal-ref': `image-registry.openshift-image-registry.svc:5000/demo/app@${image.digest}`,
    });
    expect(refsOf(main)).toEqual([
      { tag: 'v1', reference: `${defaultHost()}/demo/app:v1`, digest: image.digest },
      { tag: 'latest', reference: `${defaultHost()}/demo/app:latest`, digest: image.digest },
    ]);
    expect(main.stdout).toMatch(/^::group::Find the registry$/m);
    expect(main.stdout).toMatch(/changed: default-route-enabled \(undone by the post step\)/);
    expect(main.stdout).toMatch(/CA: .*verified by a TLS handshake/);
    // The summary: one row per tag with digest, size and the in-cluster pull spec.
    expect(main.summary).toContain('<th>Tag</th><th>Digest</th><th>Size</th><th>Internal pull spec</th>');
    const manifest = image.manifests[0]!;
    const size = manifest.config.size + manifest.layers.reduce((sum, layer) => sum + layer.size, 0);
    expect(main.summary).toContain(
      `<td><code>v1</code></td><td><code>${image.digest}</code></td><td>${formatBytes(size)}</td>`,
    );
    expect(main.summary).toContain('image-registry.openshift-image-registry.svc:5000/demo/app:latest');
    expect(await inspectDigest(`${defaultHost()}/demo/app:v1`, cluster.ingressCaPem)).toBe(image.digest);

    const post = await runner.step('post', inputs, main.state);
    expect(post.code).toBe(0);
    expect(post.stdout).toMatch(/set spec.defaultRoute back to false/);
    expect((await registryConfig()).spec.defaultRoute).toBe(false);
    expect(await runner.leftInTemp()).toEqual([]);
    await expectNoLeak(runner, [main, post], token('kubeadmin'));
  });

  describe('with the default route on', () => {
    beforeAll(async () => {
      await setDefaultRoute(true);
    });

    it('without the CA a non-admin is told to give it; with it, the push verifies TLS against the private CA', async () => {
      const inputs = {
        kubeconfig: cluster.users.developer!.kubeconfig,
        namespace: 'demo',
        image: 'web',
        tags: 'v2\nv2.0\nstable',
        source: `oci-archive:${image.ociArchive ?? ''}`,
      };
      const refusedRunner = await newRunner('no-ca');
      const refused = await refusedRunner.job(inputs);
      expect(refused.main.code).toBe(1);
      expect(await refusedRunner.leftInTemp()).toEqual([]);
      expect(errorLine(refused.main)).toMatch(/No CA that verifies .* could be found/);
      expect(errorLine(refused.main)).toMatch(/ca-file/);

      const runner = await newRunner('developer');
      const { main, post } = await runner.job({ ...inputs, 'ca-data': cluster.ingressCaPem });
      expect(main.code, main.stdout).toBe(0);
      expect(main.outputs['registry-source']).toBe('imagestream');
      expect(main.outputs.registry).toBe(defaultHost());
      expect(refsOf(main).map((ref) => ref.tag)).toEqual(['v2', 'v2.0', 'stable']);
      for (const tag of ['v2', 'v2.0', 'stable']) {
        expect(await inspectDigest(`${defaultHost()}/demo/web:${tag}`, cluster.ingressCaPem)).toBe(
          image.digest,
        );
      }
      expect(main.stdout).toMatch(/developer may push to project demo/);
      expect(post.code).toBe(0);
      expect(post.stdout).toMatch(/removed the private auth directory|removed the .* entry/);
      expect(await runner.leftInTemp()).toEqual([]);
      await expectNoLeak(runner, [refused.main, main, post], token('developer'));
    });

    it('pushes with skopeo to a given registry host: token only in the auth file, never on argv or in the environment', async () => {
      const runner = await newRunner('skopeo');
      const { main, post } = await runner.job({
        server: cluster.apiServer,
        token: ciBotToken,
        'server-ca': cluster.apiCaPem,
        registry: defaultHost(),
        username: 'ci-bot',
        namespace: 'demo',
        image: 'tool',
        tags: 'from-skopeo',
        source: `docker-archive:${image.dockerArchive ?? ''}`,
        'ca-data': cluster.ingressCaPem,
        'push-tool': 'skopeo',
      });
      expect(main.code, main.stdout).toBe(0);
      expect(main.outputs['registry-source']).toBe('explicit');
      const tools = await readFile(runner.toolLog, 'utf8');
      expect(tools).toMatch(
        /^argv: skopeo copy --retry-times 3 --authfile \S+\/auth\/config.json --dest-cert-dir \S+/m,
      );
      expect(tools).not.toMatch(/^env: INPUT_/m);
      const digest = main.outputs.digest ?? '';
      expect(await inspectDigest(`${defaultHost()}/demo/tool:from-skopeo`, cluster.ingressCaPem)).toBe(
        digest,
      );
      expect(post.code).toBe(0);
      expect(await runner.leftInTemp()).toEqual([]);
      await expectNoLeak(runner, [main, post], ciBotToken);
    });

    it('a push tool runs through @actions/exec: its output in its own log group, its environment only what it needs', async () => {
      const runner = await newRunner('tool-group');
      // A skopeo that prints a line and its whole environment to the log, then pushes (the real one).
      const real = findOnPath('skopeo');
      if (real === undefined) throw new Error('skopeo is not installed (the setup script installs it)');
      const fake = join(runner.binDir, 'skopeo');
      await writeFile(
        fake,
        `#!/bin/sh\necho "fake skopeo: $1"\nenv | sed 's/^/tool-env: /'\nexec '${real}' "$@"\n`,
      );
      await chmod(fake, 0o755);
      // The workflow's own environment, as a job puts its secrets in `env:`.
      const callerSecrets = {
        GITHUB_TOKEN: 'ghs_callerGithubToken0123456789',
        ACTIONS_RUNTIME_TOKEN: 'callerRuntimeToken0123456789',
        AWS_SECRET_ACCESS_KEY: 'callerAwsSecret0123456789',
        DEPLOY_PASSWORD: 'callerDeployPassword0123456789',
        REGISTRY_PUSH_TOKEN: ciBotToken,
      };
      const { main, post } = await runner.job(
        {
          token: ciBotToken,
          registry: defaultHost(),
          username: 'ci-bot',
          namespace: 'demo',
          image: 'tool-group',
          source: `oci:${image.layoutDir}`,
          'ca-data': cluster.ingressCaPem,
          'push-tool': 'skopeo',
        },
        callerSecrets,
      );
      expect(main.code, main.stdout).toBe(0);
      expect(main.outputs.digest).toBe(image.digest);
      const lines = main.stdout.split('\n');
      // Groups never nest (the runner does not nest them): the push phase closes around the tool's group.
      let depth = 0;
      for (const line of lines) {
        if (line.startsWith('::group::')) depth++;
        if (line === '::endgroup::') depth--;
        expect(depth === 0 || depth === 1, `groups nest at ${line}`).toBe(true);
      }
      expect(depth).toBe(0);
      const start = lines.indexOf('::group::skopeo copy');
      const end = lines.indexOf('::endgroup::', start);
      expect(start).toBeGreaterThan(0);
      expect(lines[start - 1]).toBe('::endgroup::');
      expect(lines[end + 1]).toMatch(/^::group::Push oci:.* \(continued\)$/);
      const inside = lines.slice(start + 1, end);
      // exec's command line, then the tool's own output, streamed into the group, workflow commands off.
      expect(inside[0]).toMatch(/^::stop-commands::/);
      expect(inside.some((line) => /^\[command\]\S*skopeo copy --retry-times 3 --authfile /.test(line))).toBe(
        true,
      );
      expect(inside).toContain('fake skopeo: copy');
      expect(inside.some((line) => /^Writing manifest to image destination/.test(line))).toBe(true);
      for (const line of [...lines.slice(0, start), ...lines.slice(end)]) {
        expect(
          line.startsWith('tool-env: ') || line.startsWith('fake skopeo'),
          `outside the group: ${line}`,
        ).toBe(false);
      }
      // The environment the tool got: what the core allows (PATH, HOME, the auth file), nothing of the caller's.
      const toolEnv = inside.filter((line) => line.startsWith('tool-env: ')).map((line) => line.slice(10));
      const names = toolEnv.map((line) => line.split('=')[0] ?? '');
      expect(names).toContain('PATH');
      expect(names).toContain('REGISTRY_AUTH_FILE');
      for (const name of [...Object.keys(callerSecrets), 'RUNNER_TEMP', 'GITHUB_STATE']) {
        expect(names).not.toContain(name);
      }
      expect(names.filter((name) => name.startsWith('INPUT_') || name.startsWith('GITHUB_'))).toEqual([]);
      const printed = toolEnv.join('\n');
      for (const value of Object.values(callerSecrets)) expect(printed).not.toContain(value);
      expect(post.code).toBe(0);
      await expectNoLeak(runner, [main, post], ciBotToken);
    });

    it('with only a registry host and a token (no cluster access) it pushes, and says what it could not check', async () => {
      const runner = await newRunner('no-cluster');
      const { main, post } = await runner.job({
        token: ciBotToken,
        registry: defaultHost(),
        namespace: 'demo',
        image: 'bare',
        source: `oci:${image.layoutDir}`,
        'ca-data': cluster.ingressCaPem,
      });
      expect(main.code, main.stdout).toBe(0);
      expect(warnings(main).join('\n')).toMatch(/No cluster access .* preflight are skipped/);
      expect(main.stdout).toMatch(/skipped: no cluster access to check push rights with/);
      expect(main.outputs.digest).toBe(image.digest);
      expect(post.code).toBe(0);
      expect(await runner.leftInTemp()).toEqual([]);
      await expectNoLeak(runner, [main, post], ciBotToken);
    });

    it('tls-verify false works but warns loudly, as an annotation', async () => {
      const runner = await newRunner('insecure');
      const { main } = await runner.job({
        kubeconfig: cluster.users.developer!.kubeconfig,
        namespace: 'demo',
        image: 'insecure',
        source: `oci:${image.layoutDir}`,
        'tls-verify': 'false',
      });
      expect(main.code, main.stdout).toBe(0);
      expect(warnings(main).join('\n')).toMatch(/tls-verify is false: the certificate of .* is NOT checked/);
    });

    it('a user without push rights is told the exact role and command, before any upload', async () => {
      const runner = await newRunner('viewer');
      const { main, post } = await runner.job({
        kubeconfig: cluster.users.viewer!.kubeconfig,
        namespace: 'demo',
        image: 'app',
        source: `oci:${image.layoutDir}`,
        'ca-data': cluster.ingressCaPem,
      });
      expect(main.code).toBe(1);
      expect(errorLine(main)).toContain(
        'User "viewer" cannot push to project "demo": pushing needs the system:image-builder role',
      );
      expect(errorLine(main)).toContain('oc policy add-role-to-user system:image-builder viewer -n demo');
      expect(errorLine(main)).toMatch(/\[PUSH_FORBIDDEN\]$/);
      expect(main.stdout).not.toMatch(/^::group::Push/m);
      expect(post.code).toBe(0);
      expect(await runner.leftInTemp()).toEqual([]);
    });

    it('a wrong token fails at once, at the API or at the registry, and is never shown', async () => {
      const bad = 'sha256~' + 'Q'.repeat(43);
      const atApi = await newRunner('bad-token-api');
      const api = await atApi.job({
        server: cluster.apiServer,
        token: bad,
        'server-ca': cluster.apiCaPem,
        namespace: 'demo',
        image: 'app',
        source: `oci:${image.layoutDir}`,
      });
      expect(api.main.code).toBe(1);
      expect(errorLine(api.main)).toMatch(/\[TOKEN_INVALID\]$/);
      await expectNoLeak(atApi, [api.main, api.post], bad);

      const atRegistry = await newRunner('bad-token-registry');
      const registry = await atRegistry.job({
        kubeconfig: cluster.users.developer!.kubeconfig,
        token: bad,
        namespace: 'demo',
        image: 'app',
        source: `oci:${image.layoutDir}`,
        'ca-data': cluster.ingressCaPem,
      });
      expect(registry.main.code).toBe(1);
      expect(errorLine(registry.main)).toMatch(/\[TOKEN_REJECTED\]$/);
      expect(registry.post.code).toBe(0);
      expect(await atRegistry.leftInTemp()).toEqual([]);
      await expectNoLeak(atRegistry, [registry.main, registry.post], bad);
    });

    it('a read-only registry: the push fails with the registry refusing it, and the cleanup still runs', async () => {
      await admin.mergePatch(Resources.registryConfig, 'cluster', { spec: { readOnly: true } });
      try {
        const runner = await newRunner('read-only');
        const { main, post } = await runner.job({
          kubeconfig: cluster.kubeconfig,
          namespace: 'demo',
          image: 'frozen',
          source: `oci:${image.layoutDir}`,
        });
        expect(main.code).toBe(1);
        expect(errorLine(main)).toMatch(/\[REGISTRY_READ_ONLY\]$/);
        expect(post.code).toBe(0);
        expect(await runner.leftInTemp()).toEqual([]);
      } finally {
        await admin.mergePatch(Resources.registryConfig, 'cluster', { spec: { readOnly: false } });
      }
    });
  });

  it('a custom route with its own certificate: created, trusted through ca-file, pushed to, then reverted', async () => {
    const ca = await createCertificateAuthority('custom route CA');
    const hostname = `registry.${cluster.appsDomain}`;
    // A certificate that runs out within 30 days gets an annotation.
    const leaf = await ca.issue({ commonName: hostname, validDays: 10 });
    const runner = await newRunner('custom-route');
    const caFile = join(runner.dir, 'route-ca.crt');
    await writeFile(caFile, ca.certPem);
    const inputs = {
      kubeconfig: cluster.kubeconfig,
      namespace: 'demo',
      image: 'custom',
      source: `oci:${image.layoutDir}`,
      expose: 'custom-route',
      'route-name': 'public-registry',
      'route-hostname': hostname,
      'route-cert': leaf.certPem,
      'route-key': leaf.keyPem,
      'ca-file': caFile,
      'revert-expose': 'true',
    };
    const main = await runner.step('main', inputs);
    expect(main.code, main.stdout).toBe(0);
    expect(main.outputs).toMatchObject({ registry: hostname, 'registry-source': 'custom-route' });
    expect(warnings(main).join('\n')).toMatch(/certificate served by .* expires on/);
    expect(await inspectDigest(`${hostname}/demo/custom:latest`, ca.certPem)).toBe(image.digest);
    // The private key was masked line by line before anything was logged.
    const keyLine =
      leaf.keyPem.split('\n').find((line) => line.length > 20 && !line.startsWith('-----')) ?? '';
    expect(main.masks).toContain(keyLine);
    expect(main.log).not.toContain(keyLine);

    const post = await runner.step('post', inputs, main.state);
    expect(post.code).toBe(0);
    expect((await registryConfig()).spec.routes ?? []).toEqual([]);
    expect(
      await admin.find(Resources.secret, 'public-route-tls', 'openshift-image-registry'),
    ).toBeUndefined();
    expect(await runner.leftInTemp()).toEqual([]);
    await expectNoLeak(runner, [main, post], token('kubeadmin'));
  });

  it('a removed registry: the operator advice, and nothing left behind', async () => {
    await admin.mergePatch(Resources.registryConfig, 'cluster', { spec: { managementState: 'Removed' } });
    try {
      const runner = await newRunner('removed');
      const { main, post } = await runner.job({
        kubeconfig: cluster.kubeconfig,
        namespace: 'demo',
        image: 'app',
        source: `oci:${image.layoutDir}`,
      });
      expect(main.code).toBe(1);
      expect(errorLine(main)).toMatch(/\[REGISTRY_REMOVED\]$/);
      expect(post.code).toBe(0);
      expect(await runner.leftInTemp()).toEqual([]);
    } finally {
      await admin.mergePatch(Resources.registryConfig, 'cluster', { spec: { managementState: 'Managed' } });
    }
  });
});
