/**
 * The contract of the core's cluster port (`ClusterApi`): what the product relies on from an API server,
 * as vitest cases any implementation must pass — the in-memory cluster, the core's `ClusterClient` against
 * openshift-sim, and the same client against a real OpenShift cluster.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  ClusterObject,
  ClusterWatchEvent,
  ContractCluster,
  ResourceKind,
} from '../memory/cluster-types.js';

/** What {@link clusterApiContract} runs against. */
export interface ClusterContractTarget {
  /** A client that may create, change, delete, list and watch ConfigMaps, Secrets, Deployments and Routes in `namespace`. */
  client: ContractCluster;
  /** An existing namespace to work in; every object the suite makes there carries a unique name and is removed. */
  namespace: string;
  /** A client of a user with no rights in `namespace` (the 403 case); absent: skipped. */
  restricted?: ContractCluster;
  /**
   * Expire continue tokens and old resourceVersions now, as etcd compaction does (the 410 cases); absent
   * on a real cluster, whose compaction runs every 5 minutes: those cases are skipped.
   */
  compact?: () => void | Promise<void>;
  /**
   * One HTTP request to the API server with the client's credentials, for the cases the port cannot express
   * (a forged continue token, strict field validation); absent (the in-memory cluster): those are skipped.
   */
  raw?: (request: RawRequest) => Promise<RawAnswer>;
  /** Called after the suite (close clients, stop servers). */
  stop?: () => Promise<void>;
}

/** A request for {@link ClusterContractTarget.raw}. */
export interface RawRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH';
  /** Path and query, e.g. `/api/v1/namespaces/x/configmaps?limit=1`. */
  path: string;
  body?: string;
  contentType?: string;
}

/** What {@link ClusterContractTarget.raw} answers. */
export interface RawAnswer {
  status: number;
  /** The body, parsed when it is JSON. */
  body: unknown;
  /** The text of each `Warning` header (`299 - "text"` → `text`). */
  warnings?: string[];
}

const ConfigMap: ResourceKind = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  plural: 'configmaps',
  namespaced: true,
};
const Secret: ResourceKind = { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true };
const Deployment: ResourceKind = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  plural: 'deployments',
  namespaced: true,
};

const Route: ResourceKind = {
  apiVersion: 'route.openshift.io/v1',
  kind: 'Route',
  plural: 'routes',
  namespaced: true,
};

interface RouteObject extends ClusterObject {
  spec: { to: { kind: string; name: string } };
}

interface ConfigMapObject extends ClusterObject {
  data?: Record<string, string>;
}
interface DeploymentObject extends ClusterObject {
  spec: { replicas?: number; paused?: boolean; selector: object; template: object };
  status?: { observedGeneration?: number; replicas?: number; conditions?: unknown[] };
}

/** The error a promise rejects with (fails when it resolves). */
async function rejection(
  promise: Promise<unknown>,
): Promise<{ code?: string; message: string; details?: unknown }> {
  try {
    await promise;
  } catch (error) {
    return error as { code?: string; message: string };
  }
  throw new Error('expected the call to fail');
}

/** The HTTP status an error stands for: the core's `details.status`, or the in-memory one. */
function statusOf(error: { details?: unknown }): number | undefined {
  return (error.details as { status?: number } | undefined)?.status;
}

function deployment(
  name: string,
  run: string,
  extra: Partial<DeploymentObject['spec']> = {},
): DeploymentObject {
  return {
    metadata: { name, labels: { 'registry-push-contract': run } },
    spec: {
      replicas: 0,
      paused: true,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] },
      },
      ...extra,
    },
  };
}

/**
 * Registers the cluster-port contract as a vitest `describe` block.
 *
 * @param name What runs (`memory`, `openshift-sim`, `a real cluster`).
 * @param setup Makes the target, once, before the cases; a target of `undefined` skips the suite.
 */
export function clusterApiContract(
  name: string,
  setup: () => Promise<ClusterContractTarget | undefined>,
): void {
  describe(`cluster port contract: ${name}`, () => {
    let target: ClusterContractTarget | undefined;
    const run = randomBytes(4).toString('hex');
    const made: [ResourceKind, string][] = [];
    const unique = (base: string): string => `rpc-${run}-${base}`;
    const t = (): ClusterContractTarget => {
      if (target === undefined) throw new Error('no target');
      return target;
    };
    /** A case; skipped when the setup gave no target (no real cluster configured). */
    const test = (title: string, body: () => Promise<void>, timeout?: number): void => {
      it(
        title,
        async (context) => {
          if (target === undefined) return context.skip();
          await body();
        },
        timeout,
      );
    };
    async function create<T extends ClusterObject>(type: ResourceKind, body: T): Promise<T> {
      const created = await t().client.create(type, {
        ...body,
        metadata: { ...body.metadata, namespace: t().namespace },
      });
      made.push([type, created.metadata.name]);
      return created;
    }
    function configMap(base: string, data: Record<string, string> = {}): ConfigMapObject {
      return { metadata: { name: unique(base), labels: { 'registry-push-contract': run } }, data };
    }

    beforeAll(async () => {
      target = await setup();
    }, 120_000);
    afterAll(async () => {
      if (target === undefined) return;
      for (const [type, objectName] of made.reverse()) {
        await target.client.delete(type, objectName, target.namespace).catch(() => undefined);
      }
      await target.stop?.();
    }, 120_000);

    test('pages a list with limit and continue, in name order, and reads a negative page size as no limit', async () => {
      for (const i of [3, 1, 4, 0, 2]) await create(ConfigMap, configMap(`page-${i}`));
      const pages: string[][] = [];
      const options = {
        namespace: t().namespace,
        labelSelector: `registry-push-contract=${run}`,
        pageSize: 2,
      };
      const count = await t().client.listPages<ConfigMapObject>(ConfigMap, options, (items) =>
        pages.push(items.map((item) => item.metadata.name)),
      );
      expect(count).toBe(5);
      expect(pages).toEqual([
        [unique('page-0'), unique('page-1')],
        [unique('page-2'), unique('page-3')],
        [unique('page-4')],
      ]);
      const all = await t().client.list(ConfigMap, { ...options, pageSize: -1 });
      expect(all.map((item) => item.metadata.name)).toEqual(pages.flat());
    });

    it('answers 410 for a continue token that expired, and list() starts again to one consistent result', async (context) => {
      const compact = target?.compact;
      if (compact === undefined) return context.skip();
      for (const i of [0, 1, 2]) await create(ConfigMap, configMap(`gone-${i}`));
      const selector = {
        namespace: t().namespace,
        labelSelector: `registry-push-contract=${run}`,
        pageSize: 1,
      };
      let pages = 0;
      const expired = await rejection(
        t().client.listPages(ConfigMap, selector, () => {
          if (++pages === 1) void compact();
        }),
      );
      expect(expired.code).toBe('GONE');
      expect(statusOf(expired)).toBe(410);
      let compacted = false;
      const listed = await t().client.list(ConfigMap, {
        ...selector,
        onPage: () => {
          if (!compacted) void compact();
          compacted = true;
        },
      });
      expect(listed.length).toBeGreaterThanOrEqual(3);
    });

    test('answers 409 for an existing name, a stale resourceVersion and a stale delete precondition', async () => {
      const created = await create(ConfigMap, configMap('conflict', { a: '1' }));
      expect((await rejection(t().client.create(ConfigMap, created))).code).toBe('CONFLICT');
      const updated = await t().client.replace(ConfigMap, { ...created, data: { a: '2' } });
      expect(updated.metadata.resourceVersion).not.toBe(created.metadata.resourceVersion);
      const stale = await rejection(t().client.replace(ConfigMap, { ...created, data: { a: '3' } }));
      expect(stale.code).toBe('CONFLICT');
      expect(statusOf(stale)).toBe(409);
      const staleDelete = await rejection(
        t().client.delete(ConfigMap, created.metadata.name, t().namespace, {
          resourceVersion: created.metadata.resourceVersion ?? '',
        }),
      );
      expect(staleDelete.code).toBe('CONFLICT');
      expect(
        (await t().client.get<ConfigMapObject>(ConfigMap, created.metadata.name, t().namespace)).data,
      ).toEqual({
        a: '2',
      });
    });

    test('deletes with false for what is already gone, and finds nothing then', async () => {
      const created = await create(ConfigMap, configMap('gone'));
      expect(await t().client.delete(ConfigMap, created.metadata.name, t().namespace)).toBe(true);
      expect(await t().client.delete(ConfigMap, created.metadata.name, t().namespace)).toBe(false);
      expect(await t().client.find(ConfigMap, created.metadata.name, t().namespace)).toBeUndefined();
      const missing = await rejection(t().client.get(ConfigMap, created.metadata.name, t().namespace));
      expect(missing.code).toBe('NOT_FOUND');
    });

    test('merge-patches (null removes a key)', async () => {
      const created = await create(ConfigMap, configMap('patch', { keep: '1', drop: '2' }));
      const patched = await t().client.mergePatch<ConfigMapObject>(
        ConfigMap,
        created.metadata.name,
        { data: { drop: null, add: '3' }, metadata: { labels: { extra: 'yes' } } },
        t().namespace,
      );
      expect(patched.data).toEqual({ keep: '1', add: '3' });
      expect(patched.metadata.labels).toEqual({ 'registry-push-contract': run, extra: 'yes' });
    });

    for (const key of ['a/b', 'host:5000']) {
      test(`answers 422 for the ConfigMap key ${JSON.stringify(key)}, naming the field`, async () => {
        const refused = await rejection(
          create(ConfigMap, configMap(`key-${randomBytes(2).toString('hex')}`, { [key]: 'v' })),
        );
        expect(refused.code).toBe('INVALID');
        expect(statusOf(refused)).toBe(422);
        expect(refused.message).toContain(`data[${key}]`);
      });
    }

    test('accepts the key host..port, as the cluster image config names a registry with a port', async () => {
      const created = await create(ConfigMap, configMap('hostport', { 'registry.example..5000': 'pem' }));
      expect(created.data).toEqual({ 'registry.example..5000': 'pem' });
    });

    test('answers 422 for a container named C_1 and for replicas -1, naming the fields', async () => {
      const badName = deployment(unique('c1'), run);
      (badName.spec.template as { spec: { containers: { name: string }[] } }).spec.containers = [
        { name: 'C_1', image: 'registry.example/app:1' } as { name: string },
      ];
      const byName = await rejection(create(Deployment, badName));
      expect(byName.code).toBe('INVALID');
      expect(byName.message).toContain('spec.template.spec.containers[0].name');
      const negative = await rejection(create(Deployment, deployment(unique('neg'), run, { replicas: -1 })));
      expect(negative.code).toBe('INVALID');
      expect(negative.message).toContain('spec.replicas');
    });

    test('answers 400 (not 422) for Secret data that is not base64', async () => {
      const refused = await rejection(
        create(Secret, {
          metadata: { name: unique('secret') },
          data: { key: 'not base64!' },
        } as ClusterObject),
      );
      expect(refused.code).toBe('API_ERROR');
      expect(statusOf(refused)).toBe(400);
    });

    test('returns the uid and creationTimestamp of a dry-run create and stores nothing', async () => {
      const body = configMap('dry');
      const dry = await t().client.create(
        ConfigMap,
        { ...body, metadata: { ...body.metadata, namespace: t().namespace } },
        {
          dryRun: true,
        },
      );
      expect(dry.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
      // client-node hands core kinds' timestamps over as Date objects, the wire (and the memory cluster) as text.
      expect(new Date(dry.metadata.creationTimestamp ?? '').getTime()).toBeGreaterThan(
        Date.now() - 3_600_000,
      );
      expect(await t().client.find(ConfigMap, body.metadata.name, t().namespace)).toBeUndefined();
    });

    test('keeps status and spec apart on a kind with a status subresource', async () => {
      const created = await create(Deployment, {
        ...deployment(unique('status'), run),
        status: { replicas: 9 },
      });
      expect(created.status?.replicas).toBeUndefined();
      expect(created.metadata.generation).toBe(1);
      // A real cluster's controller writes the status too: read, write, and try again on a conflict.
      let written: DeploymentObject | undefined;
      for (let attempt = 0; written === undefined && attempt < 5; attempt++) {
        const current = await t().client.get<DeploymentObject>(
          Deployment,
          created.metadata.name,
          t().namespace,
        );
        written = await t()
          .client.replaceStatus<DeploymentObject>(Deployment, {
            ...current,
            spec: { ...current.spec, replicas: 5 },
            status: { ...current.status, observedGeneration: 1, replicas: 0, conditions: [] },
          })
          .catch((error: { code?: string }) => {
            if (error.code === 'CONFLICT') return undefined;
            throw error;
          });
      }
      expect(written?.spec.replicas).toBe(0);
      expect(written?.status?.observedGeneration).toBe(1);
      expect(written?.metadata.generation).toBe(1);
      const respec = await t().client.mergePatch<DeploymentObject>(
        Deployment,
        created.metadata.name,
        { spec: { replicas: 0, paused: false }, status: { replicas: 7 } },
        t().namespace,
      );
      expect(respec.metadata.generation).toBe(2);
      expect(respec.status?.replicas).not.toBe(7);
    });

    it('answers 403 naming the user, the verb and the object', async (context) => {
      const restricted = target?.restricted;
      if (restricted === undefined) return context.skip();
      const created = await create(ConfigMap, configMap('forbidden'));
      const { username } = await restricted.whoami();
      const refused = await rejection(restricted.delete(ConfigMap, created.metadata.name, t().namespace));
      expect(refused.code).toBe('FORBIDDEN');
      expect(refused.message).toContain(
        `User "${username}" may not delete configmaps "${created.metadata.name}"`,
      );
      expect(refused.message).toContain(`in namespace "${t().namespace}"`);
      expect(
        await restricted.canI({ verb: 'delete', resource: 'configmaps', namespace: t().namespace }),
      ).toBe(false);
      expect(
        await t().client.canI({ verb: 'delete', resource: 'configmaps', namespace: t().namespace }),
      ).toBe(true);
    });

    test('watches from a resourceVersion: the changes after it in order, then a bookmark when the request ends', async () => {
      const from = await t().client.currentVersion(ConfigMap);
      const name = unique('watched');
      const stream = await t().client.watch<ConfigMapObject>(ConfigMap, {
        namespace: t().namespace,
        resourceVersion: from,
        fieldSelector: `metadata.name=${name}`,
        allowWatchBookmarks: true,
        timeoutSeconds: 3,
      });
      const created = await create<ConfigMapObject>(ConfigMap, { metadata: { name }, data: { v: '1' } });
      await t().client.mergePatch(ConfigMap, name, { data: { v: '2' } }, t().namespace);
      await t().client.delete(ConfigMap, name, t().namespace);
      const events: { type: string; rv: string; v?: string }[] = [];
      for await (const event of stream) {
        events.push({
          type: event.type,
          rv: event.object.metadata.resourceVersion ?? '',
          ...(event.type === 'BOOKMARK' ? {} : { v: event.object.data?.v ?? '' }),
        });
      }
      expect(events.filter((e) => e.type !== 'BOOKMARK').map((e) => [e.type, e.v])).toEqual([
        ['ADDED', '1'],
        ['MODIFIED', '2'],
        ['DELETED', '2'],
      ]);
      expect(events[0]?.rv).toBe(created.metadata.resourceVersion);
      const last = events.at(-1);
      expect(last?.type).toBe('BOOKMARK');
      expect(BigInt(last?.rv ?? '0')).toBeGreaterThanOrEqual(BigInt(events.at(-2)?.rv ?? '0'));
    }, 20_000);

    it('answers 400 to a continue token with characters added, even when its length stays a multiple of 4', async (context) => {
      const raw = target?.raw;
      if (raw === undefined) return context.skip();
      for (const i of [0, 1, 2]) await create(ConfigMap, configMap(`forged-${i}`));
      const collection = `/api/v1/namespaces/${t().namespace}/configmaps?limit=1&labelSelector=registry-push-contract%3D${run}`;
      const first = await raw({ method: 'GET', path: collection });
      const token = (first.body as { metadata?: { continue?: string } }).metadata?.continue ?? '';
      expect(token).not.toBe('');
      const next = await raw({ method: 'GET', path: `${collection}&continue=${encodeURIComponent(token)}` });
      expect(next.status).toBe(200);
      for (const extra of ['A', 'AAAA']) {
        const forged = await raw({
          method: 'GET',
          path: `${collection}&continue=${encodeURIComponent(token + extra)}`,
        });
        expect(forged.status, `token + ${extra}`).toBe(400);
      }
    });

    it('answers a strict merge patch with an unknown field with 422 on the field "patch"', async (context) => {
      const raw = target?.raw;
      if (raw === undefined) return context.skip();
      const created = await create<RouteObject>(Route, {
        metadata: { name: unique('strict'), labels: { 'registry-push-contract': run } },
        spec: { to: { kind: 'Service', name: 'web' } },
      });
      const patch = JSON.stringify({ spec: { to: { name: 'other' }, unknownField: 1 } });
      const answer = await raw({
        method: 'PATCH',
        path: `/apis/route.openshift.io/v1/namespaces/${t().namespace}/routes/${created.metadata.name}?fieldValidation=Strict`,
        body: patch,
        contentType: 'application/merge-patch+json',
      });
      expect(answer.status).toBe(422);
      const causes = (answer.body as { details?: { causes?: { field?: string; message?: string }[] } })
        .details?.causes;
      expect(causes?.[0]?.field).toBe('patch');
      expect(causes?.[0]?.message).toContain('unknown field "spec.unknownField"');
      const after = await t().client.get<RouteObject>(Route, created.metadata.name, t().namespace);
      expect(after.spec.to.name).toBe('web');
    });

    /** A watch's events until the server ends it, as `[type, name, data.v, resourceVersion]`. */
    async function drainWithVersions(
      stream: AsyncIterable<ClusterWatchEvent<ConfigMapObject>>,
    ): Promise<string[][]> {
      const events: string[][] = [];
      for await (const event of stream) {
        if (event.type === 'BOOKMARK') continue;
        const { name, resourceVersion } = event.object.metadata;
        events.push([event.type, name, event.object.data?.v ?? '', resourceVersion ?? '']);
      }
      return events;
    }

    /** A watch's events until the server ends it, as `[type, name, data.v]` (BOOKMARKs as `[type, rv]`). */
    async function drain(stream: AsyncIterable<ClusterWatchEvent<ConfigMapObject>>): Promise<string[][]> {
      const events: string[][] = [];
      for await (const event of stream) {
        events.push(
          event.type === 'BOOKMARK'
            ? [event.type, event.object.metadata.resourceVersion]
            : [event.type, event.object.metadata.name, event.object.data?.v ?? ''],
        );
      }
      return events;
    }

    test('lists at a resourceVersion, and a watch from it sees exactly the changes after the list, made before the watch opened or while it is open', async () => {
      const labels = { 'registry-push-contract': run, 'registry-push-case': 'list-watch' };
      const labelSelector = `registry-push-contract=${run},registry-push-case=list-watch`;
      const namespace = t().namespace;
      const [a, b, c] = [unique('lw-a'), unique('lw-b'), unique('lw-c')];
      await create<ConfigMapObject>(ConfigMap, { metadata: { name: a, labels }, data: { v: '1' } });
      const second = await create<ConfigMapObject>(ConfigMap, {
        metadata: { name: b, labels },
        data: { v: '1' },
      });
      const pages: string[][] = [];
      const listed = await t().client.listVersioned<ConfigMapObject>(
        ConfigMap,
        { namespace, labelSelector, pageSize: 1 },
        async (items) => {
          // Awaited before the next page is read.
          await new Promise((resolve) => setTimeout(resolve, 10));
          pages.push(items.map((item) => item.metadata.name));
        },
      );
      expect(pages).toEqual([[a], [b]]);
      expect(listed.count).toBe(2);
      expect(BigInt(listed.resourceVersion)).toBeGreaterThanOrEqual(
        BigInt(second.metadata.resourceVersion ?? '0'),
      );
      await t().client.mergePatch(ConfigMap, a, { data: { v: '2' } }, namespace);
      await create<ConfigMapObject>(ConfigMap, { metadata: { name: c, labels }, data: { v: '1' } });
      await t().client.delete(ConfigMap, b, namespace);
      const stream = await t().client.watch<ConfigMapObject>(ConfigMap, {
        namespace,
        labelSelector,
        resourceVersion: listed.resourceVersion,
        allowWatchBookmarks: false,
        timeoutSeconds: 3,
      });
      const open = await t().client.mergePatch(ConfigMap, c, { data: { v: '2' } }, namespace);
      expect(open.metadata.resourceVersion).not.toBe(listed.resourceVersion);
      expect(await drain(stream)).toEqual([
        ['MODIFIED', a, '2'],
        ['ADDED', c, '1'],
        ['DELETED', b, '1'],
        ['MODIFIED', c, '2'],
      ]);
    }, 20_000);

    test('sends bookmarks only when asked: a quiet watch that asked ends with one at or past where it started', async () => {
      const namespace = t().namespace;
      const fieldSelector = `metadata.name=${unique('quiet')}`;
      const from = await t().client.currentVersion(ConfigMap);
      const [asked, notAsked] = await Promise.all([
        t()
          .client.watch<ConfigMapObject>(ConfigMap, {
            namespace,
            fieldSelector,
            resourceVersion: from,
            allowWatchBookmarks: true,
            timeoutSeconds: 3,
          })
          .then(drain),
        t()
          .client.watch<ConfigMapObject>(ConfigMap, {
            namespace,
            fieldSelector,
            resourceVersion: from,
            allowWatchBookmarks: false,
            timeoutSeconds: 3,
          })
          .then(drain),
      ]);
      expect(notAsked).toEqual([]);
      expect(asked.length).toBeGreaterThan(0);
      for (const [type, rv] of asked) {
        expect(type).toBe('BOOKMARK');
        expect(BigInt(rv ?? '0')).toBeGreaterThanOrEqual(BigInt(from));
      }
    }, 20_000);

    test('a watch with a label selector sees an object that stops matching as DELETED and one that starts matching as ADDED', async () => {
      const namespace = t().namespace;
      const name = unique('selected');
      const labelSelector = `registry-push-contract=${run},registry-push-selected=yes`;
      await create<ConfigMapObject>(ConfigMap, {
        metadata: { name, labels: { 'registry-push-contract': run, 'registry-push-selected': 'yes' } },
        data: { v: '1' },
      });
      // From the current state: the objects that match now arrive as ADDED first.
      const stream = await t().client.watch<ConfigMapObject>(ConfigMap, {
        namespace,
        labelSelector,
        allowWatchBookmarks: false,
        timeoutSeconds: 3,
      });
      const label = (value: string | null, v: string): Promise<ConfigMapObject> =>
        t().client.mergePatch<ConfigMapObject>(
          ConfigMap,
          name,
          { metadata: { labels: { 'registry-push-selected': value } }, data: { v } },
          namespace,
        );
      const unlabelled = await label('no', '2');
      await t().client.mergePatch(ConfigMap, name, { data: { v: '3' } }, namespace);
      await label('yes', '4');
      await t().client.mergePatch(ConfigMap, name, { data: { v: '5' } }, namespace);
      const last = await label(null, '6');
      const events = await drainWithVersions(stream);
      // The DELETED of an object that stopped matching carries its content before the change (the last the
      // watch could see) at the change's resourceVersion, as kube's watch cache sends it.
      expect(events.map(([type, , v]) => [type, v])).toEqual([
        ['ADDED', '1'],
        ['DELETED', '1'],
        ['ADDED', '4'],
        ['MODIFIED', '5'],
        ['DELETED', '5'],
      ]);
      expect(events[1]?.[3]).toBe(unlabelled.metadata.resourceVersion);
      expect(events[4]?.[3]).toBe(last.metadata.resourceVersion);
    }, 20_000);

    test('a watch with a label selector resumed from a resourceVersion sees an object that starts matching as ADDED, not MODIFIED', async () => {
      const namespace = t().namespace;
      const name = unique('resumed');
      const labels = { 'registry-push-contract': run, 'registry-push-resumed': 'no' };
      const labelSelector = `registry-push-contract=${run},registry-push-resumed=yes`;
      // Made, and changed, before the point the watch resumes from: the watch never saw it match.
      await create<ConfigMapObject>(ConfigMap, { metadata: { name, labels }, data: { v: '1' } });
      const before = await t().client.mergePatch<ConfigMapObject>(
        ConfigMap,
        name,
        { data: { v: '2' } },
        namespace,
      );
      const stream = await t().client.watch<ConfigMapObject>(ConfigMap, {
        namespace,
        labelSelector,
        resourceVersion: before.metadata.resourceVersion ?? '',
        allowWatchBookmarks: false,
        timeoutSeconds: 3,
      });
      const label = (value: string, v: string): Promise<ConfigMapObject> =>
        t().client.mergePatch<ConfigMapObject>(
          ConfigMap,
          name,
          { metadata: { labels: { 'registry-push-resumed': value } }, data: { v } },
          namespace,
        );
      await label('yes', '3');
      await t().client.mergePatch(ConfigMap, name, { data: { v: '4' } }, namespace);
      const stopped = await label('no', '5');
      await t().client.mergePatch(ConfigMap, name, { data: { v: '6' } }, namespace);
      await label('yes', '7');
      await t().client.delete(ConfigMap, name, namespace);
      const events = await drainWithVersions(stream);
      expect(events.map(([type, , v]) => [type, v])).toEqual([
        ['ADDED', '3'],
        ['MODIFIED', '4'],
        ['DELETED', '4'],
        ['ADDED', '7'],
        ['DELETED', '7'],
      ]);
      expect(events[2]?.[3]).toBe(stopped.metadata.resourceVersion);
    }, 20_000);

    it('answers 410 for a versioned list whose continue token expired, and for a watch from the resourceVersion of a list before a compaction', async (context) => {
      const compact = target?.compact;
      if (compact === undefined) return context.skip();
      for (const i of [0, 1, 2]) await create(ConfigMap, configMap(`vgone-${i}`));
      const options = {
        namespace: t().namespace,
        labelSelector: `registry-push-contract=${run}`,
        pageSize: 1,
      };
      let pages = 0;
      const expired = await rejection(
        t().client.listVersioned(ConfigMap, options, async () => {
          if (++pages === 1) await compact();
        }),
      );
      expect(expired.code).toBe('GONE');
      expect(statusOf(expired)).toBe(410);
      const listed = await t().client.listVersioned(
        ConfigMap,
        { ...options, pageSize: 500 },
        () => undefined,
      );
      await create(ConfigMap, configMap('vgone-after'));
      await compact();
      const gone = await rejection(
        t()
          .client.watch(ConfigMap, { namespace: t().namespace, resourceVersion: listed.resourceVersion })
          .then((stream) => stream.next()),
      );
      expect(gone.code).toBe('GONE');
    });

    // Built-in kinds are decoded into their Go types: a field the type lacks is dropped, and refused under
    // fieldValidation=Strict (what kubectl create and apply send), as a 400 for a body and a 422 for a patch.
    it('refuses a strict create of a ConfigMap with an unknown field: 400 BadRequest, nothing stored', async (context) => {
      const raw = target?.raw;
      if (raw === undefined) return context.skip();
      const name = unique('strict-create');
      const answer = await raw({
        method: 'POST',
        path: `/api/v1/namespaces/${t().namespace}/configmaps?fieldValidation=Strict`,
        body: JSON.stringify({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name, labels: { 'registry-push-contract': run } },
          data: { k: 'v' },
          unknownField: 1,
        }),
        contentType: 'application/json',
      });
      if (answer.status === 201) made.push([ConfigMap, name]);
      expect(answer.status).toBe(400);
      const status = answer.body as { reason?: string; message?: string };
      expect(status.reason).toBe('BadRequest');
      expect(status.message).toContain('strict decoding error: unknown field "unknownField"');
      const missing = await rejection(t().client.get(ConfigMap, name, t().namespace));
      expect(missing.code).toBe('NOT_FOUND');
    });

    it('refuses a strict create whose body has a key twice: 400 naming the duplicate field', async (context) => {
      const raw = target?.raw;
      if (raw === undefined) return context.skip();
      const name = unique('strict-dupe');
      // Written by hand: JSON.stringify cannot repeat a key.
      const body = `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"${name}","labels":{"registry-push-contract":"${run}"}},"data":{"k":"1","k":"2"}}`;
      const answer = await raw({
        method: 'POST',
        path: `/api/v1/namespaces/${t().namespace}/configmaps?fieldValidation=Strict`,
        body,
        contentType: 'application/json',
      });
      if (answer.status === 201) made.push([ConfigMap, name]);
      expect(answer.status).toBe(400);
      expect((answer.body as { message?: string }).message).toContain(
        'strict decoding error: duplicate field "data.k"',
      );
    });

    it('answers a strict merge patch of a Deployment with an unknown field with 422 on the field "patch"', async (context) => {
      const raw = target?.raw;
      if (raw === undefined) return context.skip();
      const created = await create<DeploymentObject>(Deployment, deployment(unique('strict-patch'), run));
      const answer = await raw({
        method: 'PATCH',
        path: `/apis/apps/v1/namespaces/${t().namespace}/deployments/${created.metadata.name}?fieldValidation=Strict`,
        body: JSON.stringify({ spec: { replicas: 1, unknownField: 1 } }),
        contentType: 'application/merge-patch+json',
      });
      expect(answer.status).toBe(422);
      const causes = (answer.body as { details?: { causes?: { field?: string; message?: string }[] } })
        .details?.causes;
      expect(causes?.[0]?.field).toBe('patch');
      expect(causes?.[0]?.message).toContain('strict decoding error: unknown field "spec.unknownField"');
      const after = await t().client.get<DeploymentObject>(Deployment, created.metadata.name, t().namespace);
      expect(after.spec.replicas).toBe(0);
    });

    it('warns of an unknown field of a built-in kind by default and drops it', async (context) => {
      const raw = target?.raw;
      if (raw === undefined) return context.skip();
      const name = unique('warn');
      const answer = await raw({
        method: 'POST',
        path: `/api/v1/namespaces/${t().namespace}/secrets`,
        body: JSON.stringify({
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name, labels: { 'registry-push-contract': run } },
          stringData: { k: 'v' },
          unknownField: 1,
        }),
        contentType: 'application/json',
      });
      if (answer.status === 201) made.push([Secret, name]);
      expect(answer.status).toBe(201);
      expect(answer.warnings).toContain('unknown field "unknownField"');
      const stored = await t().client.get<ClusterObject & Record<string, unknown>>(
        Secret,
        name,
        t().namespace,
      );
      expect(stored).not.toHaveProperty('unknownField');
    });

    /** A Deployment as text, with `spec` members given as text (for keys sent twice). */
    function deploymentText(name: string, specMembers: string): string {
      const meta = JSON.stringify({ name, labels: { 'registry-push-contract': run } });
      return `{"apiVersion":"apps/v1","kind":"Deployment","metadata":${meta},"spec":{${specMembers}}}`;
    }
    const NESTED_UNKNOWN_SPEC =
      '"replicas":0,"selector":{"matchLabels":{"app":"n"}},"template":{"metadata":{"labels":{"app":"n"}},' +
      '"spec":{"containers":[{"name":"app","image":"registry.example/app:1",' +
      '"livenessProbe":{"httpGet":{"path":"/","port":8080,"pathX":"/"}}}],' +
      '"volumes":[{"name":"v","configMap":{"name":"c","nameX":"c"}}]}},' +
      '"strategy":{"rollingUpdate":{"maxSurge":1,"maxSurgeX":1}}';

    // kube's strict decoder reads the body into the kind's Go type and names, at any depth and in the
    // body's order, each field the type lacks and each key sent twice.
    it("refuses a strict create with unknown fields deep in a Deployment: 400 naming each by its full path, in the body's order", async (context) => {
      const raw = target?.raw;
      if (raw === undefined) return context.skip();
      const name = unique('deep');
      const answer = await raw({
        method: 'POST',
        path: `/apis/apps/v1/namespaces/${t().namespace}/deployments?fieldValidation=Strict`,
        body: deploymentText(name, `${NESTED_UNKNOWN_SPEC},"paused":true,"paused":true`),
        contentType: 'application/json',
      });
      if (answer.status === 201) made.push([Deployment, name]);
      expect(answer.status).toBe(400);
      const status = answer.body as { reason?: string; message?: string };
      expect(status.reason).toBe('BadRequest');
      expect(status.message).toBe(
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: ' +
          'unknown field "spec.template.spec.containers[0].livenessProbe.httpGet.pathX", ' +
          'unknown field "spec.template.spec.volumes[0].configMap.nameX", ' +
          'unknown field "spec.strategy.rollingUpdate.maxSurgeX", duplicate field "spec.paused"',
      );
    });

    it('warns of unknown fields deep in a Deployment by default, and with fieldValidation=Ignore silently drops them', async (context) => {
      const raw = target?.raw;
      if (raw === undefined) return context.skip();
      for (const [query, warned] of [
        ['', true],
        ['?fieldValidation=Ignore', false],
      ] as const) {
        const name = unique(`deep-${warned ? 'warn' : 'ignore'}`);
        const answer = await raw({
          method: 'POST',
          path: `/apis/apps/v1/namespaces/${t().namespace}/deployments${query}`,
          body: deploymentText(name, NESTED_UNKNOWN_SPEC),
          contentType: 'application/json',
        });
        if (answer.status === 201) made.push([Deployment, name]);
        expect(answer.status).toBe(201);
        const unknown = [
          'unknown field "spec.template.spec.containers[0].livenessProbe.httpGet.pathX"',
          'unknown field "spec.template.spec.volumes[0].configMap.nameX"',
          'unknown field "spec.strategy.rollingUpdate.maxSurgeX"',
        ];
        expect((answer.warnings ?? []).filter((w) => w.startsWith('unknown field'))).toEqual(
          warned ? unknown : [],
        );
        const stored = await t().client.get<DeploymentObject>(Deployment, name, t().namespace);
        const podSpec = (
          stored.spec.template as {
            spec: {
              containers: { livenessProbe?: { httpGet?: object } }[];
              volumes?: { configMap?: object }[];
            };
          }
        ).spec;
        expect(podSpec.containers[0]?.livenessProbe?.httpGet).not.toHaveProperty('pathX');
        expect(podSpec.volumes?.[0]?.configMap).toEqual({ name: 'c' });
      }
    });

    it("answers a strict merge patch with nested unknown fields with kube's 422: no kind or name, the fields in sorted order", async (context) => {
      const raw = target?.raw;
      if (raw === undefined) return context.skip();
      const created = await create<DeploymentObject>(Deployment, deployment(unique('strict-nested'), run));
      const patch = '{"spec":{"zzz":1,"strategy":{"rollingUpdate":{"maxSurgeX":1}},"aaa":1}}';
      const answer = await raw({
        method: 'PATCH',
        path: `/apis/apps/v1/namespaces/${t().namespace}/deployments/${created.metadata.name}?fieldValidation=Strict`,
        body: patch,
        contentType: 'application/merge-patch+json',
      });
      expect(answer.status).toBe(422);
      const status = answer.body as {
        reason?: string;
        message?: string;
        details?: { name?: string; kind?: string; causes?: { field?: string; message?: string }[] };
      };
      expect(status.reason).toBe('Invalid');
      // kube answers field.Invalid(field.NewPath("patch"), <patched object>, …) of an empty kind and name.
      expect(status.message).toMatch(/^ "" is invalid: patch: Invalid value: "\{/);
      expect(status.details?.name ?? '').toBe('');
      expect(status.details?.kind ?? '').toBe('');
      // The patched object, as Go writes it from maps, has its keys sorted: so are the errors.
      const strict =
        'strict decoding error: unknown field "spec.aaa", ' +
        'unknown field "spec.strategy.rollingUpdate.maxSurgeX", unknown field "spec.zzz"';
      expect(status.message?.endsWith(`: ${strict}`)).toBe(true);
      expect(status.details?.causes?.[0]?.field).toBe('patch');
      expect(status.details?.causes?.[0]?.message?.endsWith(`: ${strict}`)).toBe(true);
    });

    it('names a JSON patch operation\'s unknown field under strict validation: 422 "json patch unknown field"', async (context) => {
      const raw = target?.raw;
      if (raw === undefined) return context.skip();
      const created = await create(ConfigMap, configMap('json-patch', { a: '1' }));
      const answer = await raw({
        method: 'PATCH',
        path: `/api/v1/namespaces/${t().namespace}/configmaps/${created.metadata.name}?fieldValidation=Strict`,
        body: '[{"op":"replace","path":"/data/a","value":"2","valuee":"3"}]',
        contentType: 'application/json-patch+json',
      });
      expect(answer.status).toBe(422);
      const causes = (answer.body as { details?: { causes?: { field?: string; message?: string }[] } })
        .details?.causes;
      expect(causes?.[0]?.field).toBe('patch');
      expect(causes?.[0]?.message).toMatch(
        /: strict decoding error: json patch unknown field "\[0\]\.valuee"$/,
      );
      const after = await t().client.get<ConfigMapObject>(ConfigMap, created.metadata.name, t().namespace);
      expect(after.data).toEqual({ a: '1' });
    });

    it('answers a watch from a compacted resourceVersion with 410', async (context) => {
      const compact = target?.compact;
      if (compact === undefined) return context.skip();
      const from = await t().client.currentVersion(ConfigMap);
      await create(ConfigMap, configMap('compacted'));
      await compact();
      const stream = await t().client.watch(ConfigMap, { namespace: t().namespace, resourceVersion: from });
      const gone = await rejection(stream.next());
      expect(gone.code).toBe('GONE');
    });
  });
}
