// Requests replayed against a real kube-apiserver (v1.26) answered differently from the simulator; each case
// here is one such difference, with the real server's answer: what it refuses (ConfigMap and Secret keys,
// container names, negative replicas, undecodable Secret data, forged continue tokens, unknown fields in a
// strict PATCH) and what it accepts (a negative limit), and what a dry-run create shows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RunningCluster } from '../src/index.js';
import { raw } from './helpers.js';

let cluster: RunningCluster;

beforeAll(async () => {
  cluster = await startCluster({ namespaces: ['fid'] });
}, 120_000);

afterAll(async () => {
  await cluster.stop();
});

const causesOf = (json: Record<string, unknown>): { reason: string; field: string; message: string }[] =>
  ((json['details'] as { causes?: unknown[] } | undefined)?.causes ?? []) as {
    reason: string;
    field: string;
    message: string;
  }[];

const configMap = (name: string, data: Record<string, string>, binaryData?: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name },
  data,
  ...(binaryData === undefined ? {} : { binaryData }),
});

const pod = (name: string, containers: { name: string }[]) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name },
  spec: { containers: containers.map((c) => ({ ...c, image: 'quay.io/x/y:1' })) },
});

describe('what a real API server refuses', () => {
  it.each(['a/b', 'host:5000', '..x', '.', 'sp ace'])('a ConfigMap key %j (422)', async (key) => {
    const response = await raw(cluster, 'POST', '/api/v1/namespaces/fid/configmaps', {
      body: configMap(`cm-${Math.random().toString(36).slice(2, 8)}`, { [key]: 'v' }),
    });
    expect(response.status).toBe(422);
    expect(causesOf(response.json)[0]).toMatchObject({ reason: 'FieldValueInvalid', field: `data[${key}]` });
    expect(causesOf(response.json)[0]?.message).toMatch(/^Invalid value: /);
  });

  it('accepts the keys a real server accepts, host..port among them', async () => {
    const response = await raw(cluster, 'POST', '/api/v1/namespaces/fid/configmaps', {
      body: configMap('cm-ok', { 'registry.example.com..5000': 'pem', KEY_NAME: 'v', 'a-b.c': 'v' }),
    });
    expect(response.status).toBe(201);
  });

  it('the same key in data and binaryData (422)', async () => {
    const response = await raw(cluster, 'POST', '/api/v1/namespaces/fid/configmaps', {
      body: configMap('cm-dup', { k: 'v' }, { k: 'dg==' }),
    });
    expect(response.status).toBe(422);
    expect(causesOf(response.json)[0]).toMatchObject({ field: 'binaryData[k]' });
    expect(causesOf(response.json)[0]?.message).toMatch(/duplicate of key present in data/);
  });

  it('a Secret key with a slash (422), and Secret data that is not base64 (400, before validation)', async () => {
    const secret = (data: Record<string, string>) => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `s-${Math.random().toString(36).slice(2, 8)}` },
      data,
    });
    const badKey = await raw(cluster, 'POST', '/api/v1/namespaces/fid/secrets', {
      body: secret({ 'a/b': 'dg==' }),
    });
    expect(badKey.status).toBe(422);
    expect(causesOf(badKey.json)[0]).toMatchObject({ field: 'data[a/b]' });
    for (const [value, offset] of [
      ['not base64!', 3],
      ['dg=', 2],
      ['dgx', 0],
    ] as const) {
      const response = await raw(cluster, 'POST', '/api/v1/namespaces/fid/secrets', {
        body: secret({ 'a/b': value }),
      });
      expect(response.status, value).toBe(400);
      expect(response.json).toMatchObject({ reason: 'BadRequest', code: 400 });
      expect(String(response.json['message'])).toContain(
        `Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte ${offset}`,
      );
    }
  });

  it('a container name that is not an RFC 1123 label, and a name used twice (422)', async () => {
    const bad = await raw(cluster, 'POST', '/api/v1/namespaces/fid/pods', {
      body: pod('p-bad', [{ name: 'C_1' }]),
    });
    expect(bad.status).toBe(422);
    expect(causesOf(bad.json)[0]).toMatchObject({
      reason: 'FieldValueInvalid',
      field: 'spec.containers[0].name',
    });
    expect(causesOf(bad.json)[0]?.message).toContain('a lowercase RFC 1123 label must consist of');
    const twice = await raw(cluster, 'POST', '/api/v1/namespaces/fid/pods', {
      body: pod('p-twice', [{ name: 'app' }, { name: 'app' }]),
    });
    expect(twice.status).toBe(422);
    expect(causesOf(twice.json)[0]).toMatchObject({
      reason: 'FieldValueDuplicate',
      field: 'spec.containers[1].name',
    });
  });

  it('a Deployment with replicas below 0 (422)', async () => {
    const response = await raw(cluster, 'POST', '/apis/apps/v1/namespaces/fid/deployments', {
      body: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'd-neg' },
        spec: {
          replicas: -1,
          selector: { matchLabels: { app: 'x' } },
          template: { metadata: { labels: { app: 'x' } }, spec: pod('x', [{ name: 'app' }]).spec },
        },
      },
    });
    expect(response.status).toBe(422);
    expect(causesOf(response.json)).toContainEqual({
      reason: 'FieldValueInvalid',
      message: 'Invalid value: -1: must be greater than or equal to 0',
      field: 'spec.replicas',
    });
  });

  it('a continue token with one character added, even when its length stays a multiple of 4 (400)', async () => {
    for (const name of ['c1', 'c2', 'c3']) {
      await raw(cluster, 'POST', '/api/v1/namespaces/fid/configmaps', { body: configMap(name, {}) });
    }
    const first = await raw(cluster, 'GET', '/api/v1/namespaces/fid/configmaps?limit=1');
    const token = String((first.json['metadata'] as { continue?: string }).continue);
    expect(token.length).toBeGreaterThan(0);
    const next = await raw(cluster, 'GET', `/api/v1/namespaces/fid/configmaps?limit=1&continue=${token}`);
    expect(next.status).toBe(200);
    for (const extra of ['A', 'AA', 'AAA', 'AAAA']) {
      const forged = await raw(
        cluster,
        'GET',
        `/api/v1/namespaces/fid/configmaps?limit=1&continue=${token}${extra}`,
      );
      expect(forged.status, `token + ${extra}`).toBe(400);
    }
  });

  it('unknown fields in a strict PATCH: 422 on the field "patch" (a strict POST stays 400)', async () => {
    const patch = JSON.stringify({ spec: { keepTagRevisions: 3, unknownField: 1 } });
    const response = await raw(
      cluster,
      'PATCH',
      '/apis/imageregistry.operator.openshift.io/v1/imagepruners/cluster?fieldValidation=Strict',
      { body: patch, contentType: 'application/merge-patch+json' },
    );
    expect(response.status).toBe(422);
    const causes = causesOf(response.json) as { reason: string; message: string; field: string }[];
    expect(causes).toHaveLength(1);
    expect(causes[0]?.reason).toBe('FieldValueInvalid');
    expect(causes[0]?.field).toBe('patch');
    // A real server quotes the patched object (kube's patch.go: field.Invalid(field.NewPath("patch"),
    // string(patchedObjJS), ...)), not the patch.
    const quoted =
      /^Invalid value: ("(?:[^"\\]|\\.)*"): strict decoding error: unknown field "spec\.unknownField"$/.exec(
        causes[0]?.message ?? '',
      );
    const patchedObject = JSON.parse(JSON.parse(quoted?.[1] ?? '""') as string) as {
      kind?: string;
      metadata?: { name?: string };
      spec?: Record<string, unknown>;
    };
    expect(patchedObject.kind).toBe('ImagePruner');
    expect(patchedObject.metadata?.name).toBe('cluster');
    expect(patchedObject.spec).toMatchObject({ keepTagRevisions: 3, unknownField: 1 });
    const post = await raw(
      cluster,
      'POST',
      '/apis/route.openshift.io/v1/namespaces/fid/routes?fieldValidation=Strict',
      {
        body: {
          apiVersion: 'route.openshift.io/v1',
          kind: 'Route',
          metadata: { name: 'r-strict' },
          spec: { to: { kind: 'Service', name: 'web' }, unknownField: 1 },
        },
      },
    );
    expect(post.status).toBe(400);
  });
});

describe('what a real API server accepts or shows', () => {
  it('a negative limit: no limit (200)', async () => {
    const response = await raw(cluster, 'GET', '/api/v1/namespaces/fid/configmaps?limit=-1');
    expect(response.status).toBe(200);
    const bad = await raw(cluster, 'GET', '/api/v1/namespaces/fid/configmaps?limit=abc');
    expect(bad.status).toBe(400);
  });

  it('a dry-run create: the uid and creationTimestamp it would get, and nothing stored', async () => {
    const response = await raw(cluster, 'POST', '/api/v1/namespaces/fid/configmaps?dryRun=All', {
      body: configMap('cm-dry', { k: 'v' }),
    });
    expect(response.status).toBe(201);
    const metadata = response.json['metadata'] as Record<string, unknown>;
    expect(metadata['uid']).toMatch(/^[0-9a-f-]{36}$/);
    expect(metadata['creationTimestamp']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect((await raw(cluster, 'GET', '/api/v1/namespaces/fid/configmaps/cm-dry')).status).toBe(404);
  });
});

describe('v1 Events', () => {
  const event = (namespace: string, involvedObject: Record<string, string>) => ({
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `ev-${Math.random().toString(36).slice(2, 8)}`, namespace },
    involvedObject,
    type: 'Normal',
    reason: 'PruneRunStarted',
    message: 'started',
  });
  const pruner = {
    apiVersion: 'imageregistry.operator.openshift.io/v1',
    kind: 'ImagePruner',
    name: 'cluster',
  };

  it('are served: one about a cluster-scoped object is created in default and listed', async () => {
    const created = await raw(cluster, 'POST', '/api/v1/namespaces/default/events', {
      body: event('default', pruner),
    });
    expect(created.status).toBe(201);
    const list = await raw(cluster, 'GET', '/api/v1/namespaces/default/events');
    const items = (list.json['items'] as { reason: string }[]).map((item) => item.reason);
    expect(items).toContain('PruneRunStarted');
  });

  it('must live in the namespace of what they are about (422 otherwise)', async () => {
    const elsewhere = await raw(cluster, 'POST', '/api/v1/namespaces/fid/events', {
      body: event('fid', pruner),
    });
    expect(elsewhere.status).toBe(422);
    expect(causesOf(elsewhere.json)[0]).toEqual({
      reason: 'FieldValueInvalid',
      message: 'Invalid value: "": does not match event.namespace',
      field: 'involvedObject.namespace',
    });
    const mismatch = await raw(cluster, 'POST', '/api/v1/namespaces/default/events', {
      body: event('default', { apiVersion: 'v1', kind: 'Pod', name: 'p', namespace: 'fid' }),
    });
    expect(mismatch.status).toBe(422);
    const matching = await raw(cluster, 'POST', '/api/v1/namespaces/fid/events', {
      body: event('fid', { apiVersion: 'v1', kind: 'Pod', name: 'p', namespace: 'fid' }),
    });
    expect(matching.status).toBe(201);
  });
});
