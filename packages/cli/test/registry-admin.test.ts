import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterClient } from '@registry-push/core';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type Run } from './run.js';

let cluster: RunningCluster;
let scratch: string;

const run = (argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> => runCli(argv, scratch, env);

const as = (user: string): string[] => ['--kubeconfig', cluster.users[user]!.kubeconfig];

const ACCESS_KEY = 'AKIACLITESTACCESS77';
const SECRET_KEY = 'cli/Secret+Key/never-printed-0042';

/** Nothing of either key, plain or base64, in what the command printed. */
function expectNoSecrets(result: Run): void {
  const printed = `${result.stdout}\n${result.stderr}`;
  for (const secret of [ACCESS_KEY, SECRET_KEY]) {
    expect(printed).not.toContain(secret);
    expect(printed).not.toContain(Buffer.from(secret).toString('base64'));
  }
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'cli-admin-'));
  cluster = await startCluster({ storage: 'none', routerMode: 'port', registryRolloutDelayMs: 100 });
  await writeFile(join(scratch, 'access'), `${ACCESS_KEY}\n`, { mode: 0o600 });
  await writeFile(join(scratch, 'secret'), `${SECRET_KEY}\n`, { mode: 0o600 });
});

afterAll(async () => {
  await cluster.stop();
  await rm(scratch, { recursive: true, force: true });
});

describe('registry admin commands', () => {
  it('lists the commands and refuses bad storage and secrets on argv', async () => {
    const top = await run(['--help']);
    expect(top.stdout).toMatch(/status .*\n.*doctor .*\n.*enable .*\n.*metrics /);
    const help = await run(['enable', '--help']);
    expect(help.stdout).toMatch(
      /--storage KIND +enable: emptydir \(non-production\), pvc, pvc=CLAIM, s3, gcs, azure, swift, ibmcos or oss/,
    );
    expect(help.stdout).toMatch(/REGISTRY_PUSH_S3_SECRET_KEY/);
    const bad = await run(['enable', '--storage', 'nfs', ...as('kubeadmin')]);
    expect(bad).toMatchObject({ code: 2 });
    expect(bad.stderr).toMatch(
      /--storage must be emptydir, pvc, pvc=CLAIM, s3, gcs, azure, swift, ibmcos or oss, not "nfs"/,
    );
    const misplaced = await run(['enable', '--storage', 'emptydir', '--bucket', 'b', ...as('kubeadmin')]);
    expect(misplaced.stderr).toMatch(/--bucket does not apply to emptyDir storage/);
    const onArgv = await run(['enable', '--storage', 's3', '--s3-secret-key', SECRET_KEY]);
    expect(onArgv.code).toBe(2);
  });

  it('doctor: missing storage fails with the enable command, and a viewer is told the role to ask for', async () => {
    const admin = await run(['doctor', '-n', 'demo', ...as('kubeadmin')]);
    expect(admin.code).toBe(1);
    expect(admin.stdout).toMatch(/^\[FAIL\] registry storage: No storage is configured/m);
    expect(admin.stdout).toMatch(
      /^ +fix: A cluster admin configures storage .*`registry-push enable --storage pvc`/m,
    );
    expect(admin.stdout).toMatch(
      /^\[FAIL\] registry operator config: managementState is Removed\. Image Registry has been removed/m,
    );
    expect(admin.stdout).toMatch(/^\d+ checks: \d+ passed, \d+ warnings, [1-9]\d* failed, \d+ skipped$/m);

    const viewer = await run(['doctor', '-n', 'demo', '-o', 'json', ...as('viewer')]);
    expect(viewer.code).toBe(1);
    const report = JSON.parse(viewer.stdout) as { ok: boolean; checks: { id: string; fix?: string }[] };
    expect(report.ok).toBe(false);
    expect(report.checks.find((check) => check.id === 'push-permission')?.fix).toBe(
      'Ask a project admin to run `oc policy add-role-to-user system:image-builder viewer -n demo`.',
    );
  });

  it('enable refuses a ReadWriteOnce claim for two replicas, and prints the patch on a dry run', async () => {
    await ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig }).create(
      { apiVersion: 'v1', kind: 'PersistentVolumeClaim', plural: 'persistentvolumeclaims', namespaced: true },
      {
        metadata: { name: 'block', namespace: 'openshift-image-registry' },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } } },
      },
    );
    const refused = await run(['enable', '--storage', 'pvc=block', '--replicas', '2', ...as('kubeadmin')]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /registry-push enable: Claim block is ReadWriteOnce \(block storage\), but the registry has 2 replicas: more than one replica needs a ReadWriteMany claim.* Use --replicas 1 --rollout-strategy Recreate .*\[STORAGE_REFUSED\]/,
    );

    const dry = await run([
      'enable',
      '--storage',
      's3',
      '--bucket',
      'images',
      '--region',
      'us-east-2',
      '--s3-access-key-file',
      join(scratch, 'access'),
      '--s3-secret-key-file',
      join(scratch, 'secret'),
      '--dry-run',
      ...as('kubeadmin'),
    ]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(
      /would create secret openshift-image-registry\/image-registry-private-configuration-user \(keys REGISTRY_STORAGE_S3_ACCESSKEY, REGISTRY_STORAGE_S3_SECRETKEY\)/,
    );
    expect(dry.stdout).toContain(
      'would patch configs.imageregistry.operator.openshift.io/cluster (--type merge):',
    );
    expect(dry.stdout).toContain('"bucket": "images"');
    expectNoSecrets(dry);
    const status = JSON.parse((await run(['status', '-o', 'json', ...as('kubeadmin')])).stdout) as {
      managementState: string;
    };
    expect(status.managementState).toBe('Removed');
  });

  it('enable emptydir: Removed to Available with progress; status shows it', async () => {
    const enabled = await run(['enable', '--storage', 'emptydir', '--timeout', '20', ...as('kubeadmin')]);
    expect(enabled.code).toBe(0);
    expect(enabled.stderr).toMatch(
      /^\[patch\] patching configs.imageregistry.operator.openshift.io\/cluster: /m,
    );
    expect(enabled.stderr).toMatch(/^\[wait\] 1\/1 replicas ready; Available=True \(Ready/m);
    expect(enabled.stderr).toMatch(/^warning: emptyDir is for non-production clusters only/m);
    expect(enabled.stdout).toMatch(/registry Available: 1 replica\(s\) ready$/);

    const status = await run(['status', ...as('kubeadmin')]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^management state +Managed$/m);
    expect(status.stdout).toMatch(/^storage +emptyDir \(Managed\)$/m);
    expect(status.stdout).toMatch(/^replicas +1\/1 ready$/m);
    expect(status.stdout).toMatch(/^conditions +Available=True Ready: The registry is ready$/m);
    expect(status.stdout).toMatch(
      /^image pruner +schedule 0 0 \* \* \* \(default\); last run: no pruner job/m,
    );
    expect(status.stdout).toMatch(/^metrics +no-host: /m);
  });

  it('metrics: read with an admin token, refused for a developer with the grant to ask for', async () => {
    const caFile = join(scratch, 'service-ca.crt');
    await writeFile(caFile, cluster.serviceCaPem);
    const target = ['--registry', cluster.registryServiceAddress, '--ca-file', caFile];
    const admin = await run(['metrics', ...target, ...as('kubeadmin')]);
    expect(admin.code).toBe(0);
    expect(admin.stdout).toMatch(/^in flight +1$/m);
    expect(admin.stdout).toMatch(/^imageregistry_http_in_flight_requests 1$/m);
    const developer = await run(['metrics', ...target, ...as('developer')]);
    expect(developer.code).toBe(1);
    expect(developer.stderr).toMatch(/registry\/metrics.*\[METRICS_FORBIDDEN\]/);
    expect(developer.stderr).not.toContain(cluster.users.developer!.token);
    const basic = await run(['metrics', ...target, '--basic-auth-user', 'prometheus', ...as('kubeadmin')]);
    expect(basic.code).toBe(0);
    expect(basic.stdout).toMatch(/^imageregistry_http_in_flight_requests 1$/m);
    const colon = await run(['metrics', ...target, '--basic-auth-user', 'a:b', ...as('kubeadmin')]);
    expect(colon.code).toBe(1);
    expect(colon.stderr).toMatch(/without ":".*\[OPTION_INVALID\]$/);
  });

  it('enable s3 with keys from the environment never prints them, as text or JSON', async () => {
    const env = { REGISTRY_PUSH_S3_ACCESS_KEY: ACCESS_KEY, REGISTRY_PUSH_S3_SECRET_KEY: SECRET_KEY };
    const args = [
      'enable',
      '--storage',
      's3',
      '--bucket',
      'images',
      '--region',
      'us-east-2',
      '--timeout',
      '20',
    ];
    const text = await run([...args, ...as('kubeadmin')], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(
      /^create secret openshift-image-registry\/image-registry-private-configuration-user/m,
    );
    expectNoSecrets(text);
    const json = await run([...args, '-o', 'json', ...as('kubeadmin')], env);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ credentials: { action: 'unchanged' }, available: true });
    expectNoSecrets(json);
    const half = await run([...args, ...as('kubeadmin')], { REGISTRY_PUSH_S3_SECRET_KEY: SECRET_KEY });
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/S3 credentials need both keys/);
    expectNoSecrets(half);
  });

  it('enable swift, ibmcos and oss: stanza options per store, secrets from files or the environment only', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'registry-push-enable-'));
    try {
      const password = join(dir, 'password');
      await writeFile(password, `${SECRET_KEY}\n`, { mode: 0o600 });
      const swift = [
        'enable',
        '--storage',
        'swift',
        '--container',
        'images',
        '--auth-url',
        'https://keystone.example:5000/v3',
        '--swift-password-file',
        password,
        '--dry-run',
        '-o',
        'json',
        ...as('kubeadmin'),
      ];
      const dry = await run(swift, { REGISTRY_PUSH_SWIFT_USERNAME: ACCESS_KEY });
      expect(dry.code, dry.stderr).toBe(0);
      expect(JSON.parse(dry.stdout)).toMatchObject({
        dryRun: true,
        patch: {
          spec: { storage: { swift: { container: 'images', authURL: 'https://keystone.example:5000/v3' } } },
        },
        credentials: { keys: ['REGISTRY_STORAGE_SWIFT_USERNAME', 'REGISTRY_STORAGE_SWIFT_PASSWORD'] },
      });
      expectNoSecrets(dry);
      const half = await run(swift);
      expect(half.code).toBe(2);
      expect(half.stderr).toMatch(
        /Swift credentials need both keys: --swift-username-file and --swift-password-file/,
      );
      expectNoSecrets(half);
      const misplaced = await run([
        'enable',
        '--storage',
        'oss',
        '--auth-url',
        'https://x',
        ...as('kubeadmin'),
      ]);
      expect(misplaced.code).toBe(2);
      expect(misplaced.stderr).toMatch(/--auth-url does not apply to oss storage/);
      const crn = await run([
        'enable',
        '--storage',
        'ibmcos',
        '--bucket',
        'images',
        '--resource-key-crn',
        'not-a-crn',
        '--dry-run',
        ...as('kubeadmin'),
      ]);
      expect(crn.code).toBe(1);
      expect(crn.stderr).toMatch(/storage\.ibmcos\.resourceKeyCRN.*resource key CRN.*\[OPTION_INVALID\]$/);
      const access = await run(
        [
          'enable',
          '--storage',
          'oss',
          '--bucket',
          'images-oss',
          '--endpoint-accessibility',
          'Public',
          '--dry-run',
          ...as('kubeadmin'),
        ],
        { REGISTRY_PUSH_OSS_ACCESS_KEY_ID: ACCESS_KEY, REGISTRY_PUSH_OSS_ACCESS_KEY_SECRET: SECRET_KEY },
      );
      expect(access.code, access.stderr).toBe(0);
      // The secret exists from the S3 case: it is updated with the key the operator reads for OSS.
      expect(access.stdout).toMatch(/would update secret .*\(keys credentials\)/);
      expect(access.stdout).toMatch(/"endpointAccessibility": "Public"/);
      expectNoSecrets(access);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
