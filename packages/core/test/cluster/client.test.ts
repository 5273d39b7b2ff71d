import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { freePort } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterClient, type KubeObject } from '../../src/cluster/client.js';
import { Resources } from '../../src/cluster/resources.js';
import { RegistryPushError } from '../../src/errors.js';
import { failure } from '../failure.js';

let cluster: RunningCluster;
let scratch: string;

beforeAll(async () => {
  cluster = await startCluster({ routerMode: 'port' });
  scratch = await mkdtemp(join(tmpdir(), 'core-cluster-'));
});

afterAll(async () => {
  await cluster.stop();
  await rm(scratch, { recursive: true, force: true });
});

function developer(): ClusterClient {
  return ClusterClient.fromOptions({ kubeconfig: cluster.users.developer!.kubeconfig });
}

describe('building a client', () => {
  it('reads a kubeconfig file and names the user', async () => {
    const client = developer();
    expect(client.source).toBe('kubeconfig');
    expect(await client.whoami()).toMatchObject({ username: 'developer' });
  });

  it('takes kubeconfig content instead of a path', async () => {
    const { readFile } = await import('node:fs/promises');
    const content = await readFile(cluster.users.viewer!.kubeconfig, 'utf8');
    expect((await ClusterClient.fromOptions({ kubeconfig: content }).whoami()).username).toBe('viewer');
  });

  it('takes server, token and CA', async () => {
    const client = ClusterClient.fromOptions({
      server: cluster.apiServer,
      token: cluster.users.developer!.token,
      caPem: cluster.apiCaPem,
    });
    expect(client.source).toBe('server-token');
    const namespace = await client.get(Resources.namespace, 'demo');
    expect(namespace.metadata.name).toBe('demo');
    expect(await client.bearerToken()).toBe(cluster.users.developer!.token);
  });

  it('refuses an untrusted API certificate unless told to skip verification', async () => {
    const token = cluster.users.developer!.token;
    const error = await failure(ClusterClient.fromOptions({ server: cluster.apiServer, token }).whoami());
    expect(error.code).toBe('CLUSTER_TLS_UNTRUSTED');
    const insecure = ClusterClient.fromOptions({
      server: cluster.apiServer,
      token,
      insecureSkipTlsVerify: true,
    });
    expect((await insecure.whoami()).username).toBe('developer');
  });

  it('never falls back to localhost:8080 when nothing is configured', () => {
    let thrown: unknown;
    try {
      ClusterClient.fromOptions({ env: { HOME: scratch } });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(RegistryPushError);
    expect((thrown as RegistryPushError).code).toBe('KUBECONFIG_MISSING');
  });

  it('uses $KUBECONFIG from the given environment', async () => {
    const client = ClusterClient.fromOptions({
      env: { KUBECONFIG: cluster.users.viewer!.kubeconfig, HOME: scratch },
    });
    expect((await client.whoami()).username).toBe('viewer');
  });

  it('explains a missing or broken kubeconfig and an unknown context', async () => {
    expect(() => ClusterClient.fromOptions({ kubeconfig: join(scratch, 'nope') })).toThrow(/does not exist/);
    const broken = join(scratch, 'broken');
    await writeFile(broken, 'apiVersion: v1\nclusters: [\n');
    expect(() => ClusterClient.fromOptions({ kubeconfig: broken })).toThrow(/could not be parsed/);
    expect(() => ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig, context: 'elsewhere' })).toThrow(
      /no context "elsewhere"/,
    );
  });

  it('wants https and a token with a server', () => {
    expect(() => ClusterClient.fromOptions({ server: 'http://127.0.0.1:1', token: 'x' })).toThrow(
      /must use https/,
    );
    expect(() => ClusterClient.fromOptions({ server: cluster.apiServer })).toThrow(/token is needed/);
  });
});

describe('errors', () => {
  it('says a wrong token is wrong or expired, without repeating it', async () => {
    const token = 'sha256~' + 'x'.repeat(43);
    const client = ClusterClient.fromOptions({ server: cluster.apiServer, token, caPem: cluster.apiCaPem });
    const error = await failure(client.whoami());
    expect(error.code).toBe('TOKEN_INVALID');
    expect(error.message).toMatch(/wrong or has expired/);
    expect(JSON.stringify(error.toJSON())).not.toContain(token);
  });

  it('names the verb, resource and namespace that were denied', async () => {
    const viewer = ClusterClient.fromOptions({ kubeconfig: cluster.users.viewer!.kubeconfig });
    const error = await failure(viewer.list(Resources.secret, { namespace: 'demo' }));
    expect(error.code).toBe('FORBIDDEN');
    expect(error.message).toBe('User "viewer" may not list secrets in namespace "demo".');
    const patch = await failure(
      viewer.mergePatch(Resources.registryConfig, 'cluster', { spec: { defaultRoute: true } }),
    );
    expect(patch.message).toBe(
      'User "viewer" may not patch configs.imageregistry.operator.openshift.io "cluster" at the cluster scope.',
    );
  });

  it('reports an unreachable server', async () => {
    const client = ClusterClient.fromOptions({
      server: `https://127.0.0.1:${await freePort()}`,
      token: 't',
      insecureSkipTlsVerify: true,
    });
    const error = await failure(client.whoami());
    expect(error.code).toBe('CLUSTER_UNREACHABLE');
    expect(error.retryable).toBe(true);
  });

  it('maps 404, 409 and 422', async () => {
    const client = developer();
    expect(await client.find(Resources.configMap, 'absent', 'demo')).toBeUndefined();
    expect((await failure(client.get(Resources.configMap, 'absent', 'demo'))).code).toBe('NOT_FOUND');
    const created = await client.create(Resources.configMap, {
      metadata: { name: 'conflicted', namespace: 'demo' },
      data: { a: '1' },
    });
    await client.mergePatch(Resources.configMap, 'conflicted', { data: { a: '2' } }, 'demo');
    expect((await failure(client.replace(Resources.configMap, { ...created, data: { a: '3' } }))).code).toBe(
      'CONFLICT',
    );
    const invalid = await failure(
      client.create(Resources.configMap, { metadata: { name: 'Not_A_Name', namespace: 'demo' } }),
    );
    expect(invalid.code).toBe('INVALID');
    expect(invalid.message).toMatch(/metadata.name/);
  });
});

describe('reads and writes', () => {
  it('lists in pages and restarts when the continue token expires', async () => {
    const client = developer();
    for (let i = 0; i < 7; i++) {
      await client.create(Resources.configMap, {
        metadata: { name: `paged-${i}`, namespace: 'demo', labels: { paged: 'yes' } },
      });
    }
    let pages = 0;
    const items = await client.list(Resources.configMap, {
      namespace: 'demo',
      labelSelector: 'paged=yes',
      pageSize: 2,
      onPage: () => {
        pages++;
        if (pages === 2) cluster.compact();
      },
    });
    expect(items.map((item) => item.metadata.name).sort()).toEqual(
      [0, 1, 2, 3, 4, 5, 6].map((i) => `paged-${i}`),
    );
    expect(pages).toBeGreaterThan(4);
  });

  it('pages through OpenShift kinds too (their continue token is plain JSON, not a client-node model)', async () => {
    const client = developer();
    for (let i = 0; i < 5; i++) {
      await client.create(Resources.imageStream, { metadata: { name: `paged-is-${i}`, namespace: 'demo' } });
    }
    let pages = 0;
    const streams = await client.list(Resources.imageStream, {
      namespace: 'demo',
      pageSize: 2,
      onPage: () => pages++,
    });
    const names = streams
      .map((stream) => stream.metadata.name)
      .filter((name) => name.startsWith('paged-is-'));
    expect(names.sort()).toEqual([0, 1, 2, 3, 4].map((i) => `paged-is-${i}`));
    expect(pages).toBeGreaterThanOrEqual(3);
  });

  it('waits for beforePage before requesting each page of a paged list (the rate limit of its caller)', async () => {
    const client = developer();
    for (let i = 0; i < 5; i++) {
      await client.create(Resources.configMap, {
        metadata: { name: `paced-${i}`, namespace: 'demo', labels: { paced: 'yes' } },
      });
    }
    const log: string[] = [];
    let received = 0;
    const count = await client.listPages(
      Resources.configMap,
      {
        namespace: 'demo',
        labelSelector: 'paced=yes',
        pageSize: 2,
        beforePage: async () => {
          log.push(`slot after ${received}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        },
      },
      (items) => {
        received += items.length;
        log.push(`page of ${items.length}`);
      },
    );
    expect(count).toBe(5);
    expect(log).toEqual([
      'slot after 0',
      'page of 2',
      'slot after 2',
      'page of 2',
      'slot after 4',
      'page of 1',
    ]);
  });

  it('merge-patches a custom resource and updates a status subresource', async () => {
    const admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
    const patched = await admin.mergePatch<{ metadata: { name: string }; spec: { logLevel?: string } }>(
      Resources.registryConfig,
      'cluster',
      { spec: { logLevel: 'Debug' } },
    );
    expect(patched.spec.logLevel).toBe('Debug');
    await admin.mergePatch(Resources.registryConfig, 'cluster', { spec: { logLevel: 'Normal' } });

    const stream = await admin.create(Resources.imageStream, {
      metadata: { name: 'status-demo', namespace: 'demo' },
    });
    const updated = await admin.replaceStatus(Resources.imageStream, {
      ...stream,
      status: { dockerImageRepository: '', tags: [] },
    });
    expect(updated.metadata.name).toBe('status-demo');
  });

  it('deletes with preconditions and reports an absent object as already gone', async () => {
    const client = developer();
    const created = await client.create<KubeObject>(Resources.configMap, {
      metadata: { name: 'to-delete', namespace: 'demo' },
    });
    await client.mergePatch(Resources.configMap, 'to-delete', { data: { changed: 'yes' } }, 'demo');
    const stale = await failure(
      client.delete(Resources.configMap, 'to-delete', 'demo', {
        resourceVersion: created.metadata.resourceVersion,
      }),
    );
    expect(stale.code).toBe('CONFLICT');
    expect(await client.delete(Resources.configMap, 'to-delete', 'demo')).toBe(true);
    expect(await client.delete(Resources.configMap, 'to-delete', 'demo')).toBe(false);
  });

  it('answers access reviews', async () => {
    const client = developer();
    expect(
      await client.canI({
        verb: 'update',
        resource: 'imagestreams',
        subresource: 'layers',
        group: 'image.openshift.io',
        namespace: 'demo',
      }),
    ).toBe(true);
    expect(
      await client.canI({
        verb: 'patch',
        resource: 'configs',
        group: 'imageregistry.operator.openshift.io',
        name: 'cluster',
      }),
    ).toBe(false);
  });
});
