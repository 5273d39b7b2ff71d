import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryDoctor } from '../../src/admin/doctor.js';
import { enableRegistry } from '../../src/admin/enable.js';
import {
  AdminResources,
  type AdminProgress,
  type PersistentVolumeClaim,
} from '../../src/admin/admin-objects.js';
import { registryStatus } from '../../src/admin/status.js';
import { ClusterClient } from '../../src/cluster/client.js';
import { RegistryNames, Resources } from '../../src/cluster/resources.js';
import type { DataObject, RegistryConfig } from '../../src/cluster/openshift-objects.js';
import { IMAGE_REGISTRY_REMOVED_ADVICE } from '../../src/expose/registry-state.js';
import { failure } from '../failure.js';

const fast = { timeoutMs: 15_000, intervalMs: 50 };

describe('a cluster that started without storage (Removed)', () => {
  let cluster: RunningCluster;
  let admin: ClusterClient;
  const config = (): Promise<RegistryConfig> =>
    admin.get<RegistryConfig>(Resources.registryConfig, RegistryNames.operatorConfig);

  beforeAll(async () => {
    cluster = await startCluster({ storage: 'none', routerMode: 'port', registryRolloutDelayMs: 150 });
    admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
    await admin.create<PersistentVolumeClaim>(AdminResources.persistentVolumeClaim, {
      metadata: { name: 'block', namespace: RegistryNames.namespace },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '20Gi' } } },
    });
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('doctor reports the missing storage with the Removed advice and the enable command', async () => {
    const report = await registryDoctor(admin, { namespace: 'demo' });
    expect(report.ok).toBe(false);
    const byId = Object.fromEntries(report.checks.map((check) => [check.id, check]));
    expect(byId['registry-config']).toMatchObject({ status: 'fail' });
    expect(byId['registry-config']?.detail).toContain(IMAGE_REGISTRY_REMOVED_ADVICE);
    expect(byId['storage']).toMatchObject({ status: 'fail' });
    expect(byId['storage']?.detail).toMatch(/No storage is configured/);
    expect(byId['storage']?.fix).toMatch(/registry-push enable --storage pvc/);
    expect(byId['push-permission']).toMatchObject({ status: 'pass' });
  });

  it('refuses a ReadWriteOnce claim for two replicas, and for a rolling update, and changes nothing', async () => {
    const before = await config();
    const two = await failure(
      enableRegistry(admin, { storage: { kind: 'pvc', claim: 'block' }, replicas: 2, ...fast }),
    );
    expect(two.code).toBe('STORAGE_REFUSED');
    expect(two.message).toMatch(/ReadWriteOnce \(block storage\).*2 replicas.*needs a ReadWriteMany claim/);
    expect(two.hint).toBe(
      'Use --replicas 1 --rollout-strategy Recreate with this claim, or a ReadWriteMany claim for 2 replicas.',
    );
    const rolling = await failure(
      enableRegistry(admin, { storage: { kind: 'pvc', claim: 'block' }, replicas: 1, ...fast }),
    );
    expect(rolling.message).toMatch(/needs rolloutStrategy Recreate/);
    expect(rolling.hint).toBe('Add --rollout-strategy Recreate.');
    const missing = await failure(
      enableRegistry(admin, { storage: { kind: 'pvc', claim: 'nope' }, ...fast }),
    );
    expect(missing.message).toBe('Claim nope does not exist in openshift-image-registry.');
    const emptyDir = await failure(
      enableRegistry(admin, { storage: { kind: 'emptyDir' }, replicas: 2, ...fast }),
    );
    expect(emptyDir.message).toMatch(
      /with 2 replicas an image pushed through one pod is missing on the others/,
    );
    expect((await config()).metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  });

  it('prints the patch in a dry run without changing anything', async () => {
    const before = await config();
    const result = await enableRegistry(admin, {
      storage: { kind: 'pvc', claim: 'block' },
      replicas: 1,
      rolloutStrategy: 'Recreate',
      dryRun: true,
    });
    expect(result).toMatchObject({ dryRun: true, applied: false });
    expect(result.patch).toEqual({
      spec: { managementState: 'Managed', storage: { pvc: { claim: 'block' } }, rolloutStrategy: 'Recreate' },
    });
    expect(result.warnings.join(' ')).toMatch(/block storage\): supported with one replica/);
    expect((await config()).metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  });

  it('enables emptyDir: Removed becomes Managed and Available, with progress along the way', async () => {
    const progress: AdminProgress[] = [];
    const result = await enableRegistry(admin, {
      storage: { kind: 'emptyDir' },
      ...fast,
      onProgress: (event) => progress.push(event),
    });
    expect(result).toMatchObject({ applied: true, available: true, readyReplicas: 1 });
    expect(result.patch).toEqual({ spec: { managementState: 'Managed', storage: { emptyDir: {} } } });
    expect(result.warnings.join(' ')).toMatch(/non-production clusters only/);
    const waits = progress.filter((event) => event.step === 'wait').map((event) => event.message);
    expect(
      waits.some((line) => /^0\/1 replicas ready; Available=False \(NoReplicasAvailable/.test(line)),
    ).toBe(true);
    expect(waits.at(-1)).toMatch(/^1\/1 replicas ready; Available=True \(Ready/);

    const status = await registryStatus(admin, { skipMetrics: true });
    expect(status).toMatchObject({
      managementState: 'Managed',
      storage: { kind: 'emptyDir', managementState: 'Managed' },
      replicas: { desired: 1, ready: 1, source: 'pods' },
      rolloutStrategy: 'RollingUpdate',
      pruner: { schedule: '0 0 * * * (default)', suspended: false },
    });
    const again = await enableRegistry(admin, { storage: { kind: 'emptyDir' }, ...fast });
    expect(again).toMatchObject({ applied: false, available: true, patch: { spec: {} } });
  });

  it('writes S3 credentials to the secret without ever returning or reporting them', async () => {
    const accessKey = 'AKIAEXAMPLEACCESS42';
    const secretKey = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzSECRET';
    const progress: AdminProgress[] = [];
    const result = await enableRegistry(admin, {
      storage: { kind: 's3', bucket: 'registry-bucket', region: 'eu-west-1' },
      credentials: { kind: 's3', accessKey, secretKey },
      ...fast,
      onProgress: (event) => progress.push(event),
    });
    expect(result.credentials).toEqual({
      namespace: 'openshift-image-registry',
      name: 'image-registry-private-configuration-user',
      keys: ['REGISTRY_STORAGE_S3_ACCESSKEY', 'REGISTRY_STORAGE_S3_SECRETKEY'],
      action: 'create',
    });
    expect(result.patch.spec['storage']).toEqual({
      s3: { bucket: 'registry-bucket', region: 'eu-west-1' },
      emptyDir: null,
    });
    const seen = JSON.stringify({ result, progress });
    for (const secret of [accessKey, secretKey]) {
      expect(seen).not.toContain(secret);
      expect(seen).not.toContain(Buffer.from(secret).toString('base64'));
    }
    const stored = await admin.get<DataObject>(
      Resources.secret,
      'image-registry-private-configuration-user',
      RegistryNames.namespace,
    );
    expect(Buffer.from(stored.data?.['REGISTRY_STORAGE_S3_SECRETKEY'] ?? '', 'base64').toString()).toBe(
      secretKey,
    );
    const current = await config();
    expect(current.status?.conditions?.find((c) => c.type === 'StorageExists')).toMatchObject({
      status: 'True',
      reason: 'S3 Bucket Exists',
    });
    const same = await enableRegistry(admin, {
      storage: { kind: 's3', bucket: 'registry-bucket', region: 'eu-west-1' },
      credentials: { kind: 's3', accessKey, secretKey },
      ...fast,
    });
    expect(same.credentials?.action).toBe('unchanged');
  });

  it('fails with the operator’s reason when it cannot use the storage', async () => {
    // Straight to the config, as an admin could with oc patch: two replicas on the ReadWriteOnce claim.
    await admin.mergePatch(Resources.registryConfig, 'cluster', {
      spec: { replicas: 2, storage: { s3: null, pvc: { claim: 'block' } } },
    });
    const report = await registryDoctor(admin, {});
    const storage = report.checks.find((check) => check.id === 'storage');
    expect(storage?.status).toBe('fail');
    expect(storage?.detail).toMatch(/ReadWriteOnce/);
    const error = await failure(enableRegistry(admin, { storage: { kind: 'pvc', claim: 'block' }, ...fast }));
    expect(error.code).toBe('STORAGE_REFUSED');
    const developer = ClusterClient.fromOptions({ kubeconfig: cluster.users.developer!.kubeconfig });
    const forbidden = await failure(enableRegistry(developer, { storage: { kind: 'emptyDir' }, ...fast }));
    expect(forbidden.code).toBe('ENABLE_FORBIDDEN');
    expect(forbidden.hint).toMatch(/needs cluster-admin/);
  });
});

describe('enable on the other object stores of the CRD (Swift, IBM COS, Alibaba OSS)', () => {
  let cluster: RunningCluster;
  let admin: ClusterClient;
  const secretData = async (): Promise<Record<string, string>> => {
    const stored = await admin.get<DataObject>(
      Resources.secret,
      'image-registry-private-configuration-user',
      RegistryNames.namespace,
    );
    return Object.fromEntries(
      Object.entries(stored.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString()]),
    );
  };

  beforeAll(async () => {
    cluster = await startCluster({ storage: 'none', routerMode: 'port', registryRolloutDelayMs: 150 });
    admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('enables Swift with its user name and password in the documented keys, never reported', async () => {
    const password = 'swift-pass-word-42';
    const result = await enableRegistry(admin, {
      storage: {
        kind: 'swift',
        container: 'registry',
        authURL: 'https://keystone.example:5000/v3',
        authVersion: '3',
      },
      credentials: { kind: 'swift', username: 'registry-user', password },
      ...fast,
    });
    expect(result.patch.spec['storage']).toEqual({
      swift: { container: 'registry', authURL: 'https://keystone.example:5000/v3', authVersion: '3' },
    });
    expect(result.credentials?.keys).toEqual([
      'REGISTRY_STORAGE_SWIFT_USERNAME',
      'REGISTRY_STORAGE_SWIFT_PASSWORD',
    ]);
    expect(JSON.stringify(result)).not.toContain(password);
    expect(result.available).toBe(true);
    expect(await secretData()).toMatchObject({
      REGISTRY_STORAGE_SWIFT_USERNAME: 'registry-user',
      REGISTRY_STORAGE_SWIFT_PASSWORD: password,
    });
    const current = await admin.get<RegistryConfig>(Resources.registryConfig, RegistryNames.operatorConfig);
    expect(current.status?.conditions?.find((c) => c.type === 'StorageExists')).toMatchObject({
      status: 'True',
      reason: 'Swift Container Exists',
    });
  });

  it('refuses an IBM COS resource key that is not a CRN, naming the field and the rule, and changes nothing', async () => {
    const before = await admin.get<RegistryConfig>(Resources.registryConfig, RegistryNames.operatorConfig);
    const error = await failure(
      enableRegistry(admin, {
        storage: { kind: 'ibmcos', bucket: 'registry', location: 'us-east', resourceKeyCRN: 'not-a-crn' },
        credentials: { kind: 'ibmcos', iamApiKey: 'iam-key-1' },
        ...fast,
      }),
    );
    expect(error.code).toBe('OPTION_INVALID');
    expect(error.message).toMatch(/storage\.ibmcos\.resourceKeyCRN/);
    expect(error.message).toMatch(/resource key CRN/);
    const after = await admin.get<RegistryConfig>(Resources.registryConfig, RegistryNames.operatorConfig);
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(await secretData()).not.toHaveProperty('REGISTRY_STORAGE_IBMCOS_IAMAPIKEY');
  });

  it('enables IBM COS with its IAM API key, then Alibaba OSS with the credentials profile the operator reads', async () => {
    const crn = 'crn:v1:bluemix:public:cloud-object-storage:global:a/1234:5678::';
    const keyCrn = 'crn:v1:bluemix:public:cloud-object-storage:global:a/1234:5678:resource-key:9abc';
    const cos = await enableRegistry(admin, {
      storage: {
        kind: 'ibmcos',
        bucket: 'registry',
        location: 'us-east',
        resourceKeyCRN: keyCrn,
        serviceInstanceCRN: crn,
      },
      credentials: { kind: 'ibmcos', iamApiKey: 'iam-key-1' },
      ...fast,
    });
    // The other backend goes in the same patch: one stanza at a time.
    expect(cos.patch.spec['storage']).toMatchObject({ ibmcos: { bucket: 'registry' }, swift: null });
    expect(cos.available).toBe(true);
    expect((await secretData())['REGISTRY_STORAGE_IBMCOS_IAMAPIKEY']).toBe('iam-key-1');

    const oss = await enableRegistry(admin, {
      storage: {
        kind: 'oss',
        bucket: 'registry-oss',
        region: 'cn-hangzhou',
        endpointAccessibility: 'Internal',
      },
      credentials: { kind: 'oss', accessKeyId: 'LTAI-id', accessKeySecret: 'oss-secret-7' },
      ...fast,
    });
    expect(oss.patch.spec['storage']).toMatchObject({ oss: { bucket: 'registry-oss' }, ibmcos: null });
    expect(oss.credentials?.keys).toEqual(['credentials']);
    expect(JSON.stringify(oss)).not.toContain('oss-secret-7');
    expect((await secretData())['credentials']).toBe(
      '[default]\ntype = access_key\naccess_key_id = LTAI-id\naccess_key_secret = oss-secret-7\n',
    );
    expect(oss.available).toBe(true);
  });
});
