// Registry storage as the operator checks it, the registry pods, the image pruner's CronJob and status, and
// who may read the registry's metrics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest } from '@registry-push/testkit';
import { startCluster, type RunningCluster } from '../src/index.js';
import { eventually, raw } from './helpers.js';

const CONFIG = '/apis/imageregistry.operator.openshift.io/v1/configs/cluster';
const NS = '/api/v1/namespaces/openshift-image-registry';

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}
interface RegistryConfigObject {
  metadata: { generation: number };
  spec: { storage: Record<string, unknown>; replicas: number; rolloutStrategy?: string };
  status: { conditions: Condition[]; readyReplicas: number; observedGeneration: number };
}

describe('registry storage, pods, pruner and metrics', () => {
  let cluster: RunningCluster;
  beforeAll(async () => {
    cluster = await startCluster({ storage: 'none', registryRolloutDelayMs: 150 });
  });
  afterAll(async () => {
    await cluster.stop();
  });

  const config = async (): Promise<RegistryConfigObject> =>
    (await raw(cluster, 'GET', CONFIG)).json as unknown as RegistryConfigObject;
  const patch = async (body: unknown): Promise<number> =>
    (
      await raw(cluster, 'PATCH', CONFIG, {
        body,
        contentType: 'application/merge-patch+json',
      })
    ).status;
  const condition = (c: RegistryConfigObject, type: string): Condition | undefined =>
    c.status.conditions.find((entry) => entry.type === type);
  /** The config once the operator has seen its latest spec and the predicate holds. */
  const settled = (predicate: (c: RegistryConfigObject) => boolean): Promise<RegistryConfigObject> =>
    eventually(async () => {
      const c = await config();
      return c.status.observedGeneration === c.metadata.generation && predicate(c) ? c : undefined;
    });
  const registryPods = async (): Promise<
    Array<{ metadata: { name: string }; status: Record<string, unknown> }>
  > =>
    (await raw(cluster, 'GET', `${NS}/pods?labelSelector=docker-registry%3Ddefault`)).json['items'] as never;

  it('validates claims as the API server does', async () => {
    const noModes = await raw(cluster, 'POST', `${NS}/persistentvolumeclaims`, {
      body: { metadata: { name: 'bad' }, spec: { resources: { requests: { storage: '1Gi' } } } },
    });
    expect(noModes.status).toBe(422);
    expect(JSON.stringify(noModes.json)).toMatch(/at least 1 access mode is required/);
    const created = await raw(cluster, 'POST', `${NS}/persistentvolumeclaims`, {
      body: {
        metadata: { name: 'rwo' },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } } },
      },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ spec: { volumeMode: 'Filesystem' }, status: { phase: 'Pending' } });
    const changed = await raw(cluster, 'PATCH', `${NS}/persistentvolumeclaims/rwo`, {
      body: { spec: { accessModes: ['ReadWriteMany'] } },
      contentType: 'application/merge-patch+json',
    });
    expect(changed.status).toBe(422);
    expect(JSON.stringify(changed.json)).toMatch(/spec is immutable after creation/);
  });

  it('refuses a ReadWriteOnce claim for two replicas and runs it with one replica and Recreate', async () => {
    expect(
      await patch({ spec: { managementState: 'Managed', replicas: 2, storage: { pvc: { claim: 'rwo' } } } }),
    ).toBe(200);
    const refused = await settled((c) => condition(c, 'StorageExists')?.status === 'False');
    expect(condition(refused, 'StorageExists')).toMatchObject({
      reason: 'PVC Issues Found',
      message: 'cannot use ReadWriteOnce access mode with more than one replica of the image registry',
    });
    expect(condition(refused, 'Available')).toMatchObject({ status: 'False', reason: 'DeploymentNotFound' });
    expect(condition(refused, 'Progressing')?.message).toMatch(
      /^Unable to apply resources: .*more than one replica/,
    );
    expect(await registryPods()).toHaveLength(0);

    expect(await patch({ spec: { replicas: 1 } })).toBe(200);
    const strategy = await settled((c) =>
      /RollingUpdate rollout strategy/.test(condition(c, 'StorageExists')?.message ?? ''),
    );
    expect(condition(strategy, 'StorageExists')?.status).toBe('False');

    expect(await patch({ spec: { rolloutStrategy: 'Recreate' } })).toBe(200);
    const starting = await settled((c) => condition(c, 'StorageExists')?.status === 'True');
    expect(starting.spec.storage).toMatchObject({ managementState: 'Unmanaged', pvc: { claim: 'rwo' } });
    const ready = await settled((c) => condition(c, 'Available')?.reason === 'Ready');
    expect(ready.status.readyReplicas).toBe(1);
    const pods = await registryPods();
    expect(pods).toHaveLength(1);
    expect(pods[0]?.metadata.name).toMatch(/^image-registry-[0-9a-f]{9}-[0-9a-f]{5}$/);
    expect(pods[0]?.status).toMatchObject({ phase: 'Running' });
  });

  it('creates the default ReadWriteMany claim, scales pods with replicas, and reports progress', async () => {
    expect(
      await patch({
        spec: { replicas: 3, rolloutStrategy: 'RollingUpdate', storage: { pvc: { claim: null } } },
      }),
    ).toBe(200);
    const progressing = await settled(
      (c) => condition(c, 'Progressing')?.reason === 'DeploymentNotCompleted',
    );
    expect(condition(progressing, 'Available')?.reason).toMatch(
      /^(NoReplicasAvailable|MinimumAvailability)$/,
    );
    const ready = await settled(
      (c) => condition(c, 'Available')?.reason === 'Ready' && c.status.readyReplicas === 3,
    );
    expect(ready.spec.storage).toMatchObject({ pvc: { claim: 'image-registry-storage' } });
    const claim = await raw(cluster, 'GET', `${NS}/persistentvolumeclaims/image-registry-storage`);
    expect(claim.json).toMatchObject({
      metadata: { annotations: { 'imageregistry.openshift.io': 'true' } },
      spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '100Gi' } } },
    });
    expect(await registryPods()).toHaveLength(3);
  });

  it('needs the credentials secret and a named bucket for S3, and refuses two backends at once', async () => {
    expect(
      await patch({
        spec: { replicas: 1, storage: { pvc: null, s3: { bucket: 'b', region: 'us-east-1' } } },
      }),
    ).toBe(200);
    const missing = await settled((c) =>
      /REGISTRY_STORAGE_S3_ACCESSKEY/.test(condition(c, 'StorageExists')?.message ?? ''),
    );
    expect(condition(missing, 'Available')?.status).toBe('False');
    const secret = await raw(cluster, 'POST', `${NS}/secrets`, {
      body: {
        metadata: { name: 'image-registry-private-configuration-user' },
        data: {
          REGISTRY_STORAGE_S3_ACCESSKEY: Buffer.from('AKIA').toString('base64'),
          REGISTRY_STORAGE_S3_SECRETKEY: Buffer.from('secret').toString('base64'),
        },
      },
    });
    expect(secret.status).toBe(201);
    const ready = await settled((c) => condition(c, 'Available')?.reason === 'Ready');
    expect(condition(ready, 'StorageExists')).toMatchObject({ status: 'True', reason: 'S3 Bucket Exists' });

    expect(await patch({ spec: { storage: { emptyDir: {} } } })).toBe(200);
    const two = await settled((c) => condition(c, 'Available')?.status === 'False');
    expect(condition(two, 'Progressing')?.message).toMatch(
      /exactly one storage type should be configured at the same time, got 2: \[emptyDir s3\]/,
    );
  });

  it('uses IBM COS and OSS with the keys the operator reads from the credentials secret', async () => {
    const crn = 'crn:v1:bluemix:public:cloud-object-storage:global:a/1:2:resource-key:3';
    expect(
      await patch({
        spec: {
          storage: {
            emptyDir: null,
            s3: null,
            ibmcos: { bucket: 'cos', location: 'us-south', resourceKeyCRN: crn },
          },
        },
      }),
    ).toBe(200);
    await settled((c) =>
      /REGISTRY_STORAGE_IBMCOS_IAMAPIKEY/.test(condition(c, 'StorageExists')?.message ?? ''),
    );
    const secretPath = `${NS}/secrets/image-registry-private-configuration-user`;
    const add = async (key: string, value: string): Promise<number> =>
      (
        await raw(cluster, 'PATCH', secretPath, {
          body: { data: { [key]: Buffer.from(value).toString('base64') } },
          contentType: 'application/merge-patch+json',
        })
      ).status;
    expect(await add('REGISTRY_STORAGE_IBMCOS_IAMAPIKEY', 'iam-key')).toBe(200);
    const cos = await settled((c) => condition(c, 'Available')?.reason === 'Ready');
    expect(condition(cos, 'StorageExists')).toMatchObject({
      status: 'True',
      reason: 'IBM COS Bucket Exists',
    });

    expect(
      await patch({ spec: { storage: { ibmcos: null, oss: { bucket: 'oss-b', region: 'cn-hangzhou' } } } }),
    ).toBe(200);
    await settled((c) => /has no credentials/.test(condition(c, 'StorageExists')?.message ?? ''));
    expect(
      await add('credentials', '[default]\ntype = access_key\naccess_key_id = id\naccess_key_secret = s\n'),
    ).toBe(200);
    const oss = await settled((c) => condition(c, 'Available')?.reason === 'Ready');
    expect(condition(oss, 'StorageExists')).toMatchObject({ status: 'True', reason: 'OSS Bucket Exists' });
    // Back to the state the tests after this one start from (emptyDir and s3: refused as two backends).
    expect(
      await patch({
        spec: { storage: { oss: null, emptyDir: {}, s3: { bucket: 'b', region: 'us-east-1' } } },
      }),
    ).toBe(200);
    await settled((c) => condition(c, 'Available')?.status === 'False');
  });

  it('drives the image-pruner CronJob and reports suspension and the last job result', async () => {
    await raw(cluster, 'PATCH', '/apis/imageregistry.operator.openshift.io/v1/imagepruners/cluster', {
      body: { spec: { suspend: true, schedule: '*/5 * * * *' } },
      contentType: 'application/merge-patch+json',
    });
    const cronJob = await eventually(async () => {
      const job = await raw(
        cluster,
        'GET',
        '/apis/batch/v1/namespaces/openshift-image-registry/cronjobs/image-pruner',
      );
      return job.json['spec'] !== undefined && (job.json['spec'] as { suspend: boolean }).suspend
        ? job.json
        : undefined;
    });
    expect(cronJob).toMatchObject({ spec: { schedule: '*/5 * * * *', suspend: true } });
    const job = await raw(cluster, 'POST', '/apis/batch/v1/namespaces/openshift-image-registry/jobs', {
      body: {
        metadata: { name: 'image-pruner-1', labels: { 'created-by': 'image-pruner' } },
        spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'p', image: 'oc' }] } } },
      },
    });
    expect(job.status).toBe(201);
    await raw(
      cluster,
      'PUT',
      '/apis/batch/v1/namespaces/openshift-image-registry/jobs/image-pruner-1/status',
      {
        body: {
          ...job.json,
          status: {
            conditions: [
              {
                type: 'Failed',
                status: 'True',
                reason: 'BackoffLimitExceeded',
                message: 'Job has reached the specified backoff limit',
              },
            ],
          },
        },
      },
    );
    const pruner = await eventually(async () => {
      const p = await raw(
        cluster,
        'GET',
        '/apis/imageregistry.operator.openshift.io/v1/imagepruners/cluster',
      );
      const conditions = (p.json['status'] as { conditions?: Condition[] } | undefined)?.conditions ?? [];
      return conditions.some((c) => c.type === 'Failed' && c.status === 'True') ? conditions : undefined;
    });
    expect(pruner).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'Scheduled', status: 'False', reason: 'Suspended' }),
        expect.objectContaining({ type: 'Degraded', status: 'True', reason: 'JobFailed' }),
      ]),
    );
  });

  it('serves metrics to cluster-admin only, like the registry checks get on registry/metrics', async () => {
    expect(await patch({ spec: { storage: { s3: null } } })).toBe(200);
    await settled((c) => condition(c, 'Available')?.reason === 'Ready');
    const get = (token: string | undefined) =>
      httpRequest(`https://${cluster.registryServiceAddress}/extensions/v2/metrics`, {
        caPem: cluster.serviceCaPem,
        headers: token === undefined ? {} : { Authorization: `Bearer ${token}` },
      });
    expect((await get(cluster.users.developer?.token)).status).toBe(401);
    expect((await get(undefined)).status).toBe(401);
    await httpRequest(
      `https://${cluster.registryServiceAddress}/v2/demo/app/blobs/sha256:${'a'.repeat(64)}`,
      {
        method: 'HEAD',
        caPem: cluster.serviceCaPem,
        headers: { Authorization: `Bearer ${cluster.users.developer?.token ?? ''}` },
      },
    );
    const admin = await get(cluster.users.kubeadmin?.token);
    expect(admin.status).toBe(200);
    const text = admin.body.toString('utf8');
    expect(text).toMatch(/^imageregistry_http_in_flight_requests \d+$/m);
    expect(text).toMatch(/^imageregistry_digest_cache_requests_total\{type="Miss"\} 1$/m);
  });
});
