// PATCH semantics as kube-apiserver applies them: content types, RFC 7386, RFC 6902, strategic merge patch.
import { describe, expect, it } from 'vitest';
import {
  applyJsonPatch,
  applyMergePatch,
  applyPatch,
  applyStrategicMergePatch,
  PatchError,
  patchTypeForContentType,
} from '../src/api/patch.js';
import type { JsonObject, JsonValue } from '../src/json.js';

/** Runs `fn`, expects a PatchError and returns it. */
function patchError(fn: () => unknown): PatchError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PatchError);
    return err as PatchError;
  }
  throw new Error('expected a PatchError, nothing was thrown');
}

const REJECTED = 'the server rejected our request due to an error in our request';

describe('patchTypeForContentType', () => {
  it('maps the three patch media types, ignoring parameters', () => {
    expect(patchTypeForContentType('application/merge-patch+json', false)).toBe('merge');
    expect(patchTypeForContentType('application/json-patch+json', false)).toBe('json');
    expect(patchTypeForContentType('application/strategic-merge-patch+json', true)).toBe('strategic');
    expect(patchTypeForContentType('application/merge-patch+json; charset=utf-8', false)).toBe('merge');
    expect(patchTypeForContentType('application/json-patch+json;charset=UTF-8', true)).toBe('json');
  });

  it('answers 415 for strategic merge patch on a custom resource, listing what it accepts', () => {
    const err = patchError(() => patchTypeForContentType('application/strategic-merge-patch+json', false));
    expect(err.reason).toBe('UnsupportedMediaType');
    expect(err.message).toBe(
      'the body of the request was in an unknown format - accepted media types include: ' +
        'application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
    );
  });

  it('answers 415 for server-side apply and unknown types, listing strategic for built-in kinds', () => {
    const builtin =
      'the body of the request was in an unknown format - accepted media types include: ' +
      'application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, ' +
      'application/apply-patch+yaml';
    for (const contentType of ['application/apply-patch+yaml', 'application/json', 'text/plain', undefined]) {
      const err = patchError(() => patchTypeForContentType(contentType, true));
      expect(err.reason).toBe('UnsupportedMediaType');
      expect(err.message).toBe(builtin);
    }
    expect(patchError(() => patchTypeForContentType('application/apply-patch+yaml', false)).reason).toBe(
      'UnsupportedMediaType',
    );
  });
});

describe('applyMergePatch (RFC 7386)', () => {
  // RFC 7386 Appendix A, every row.
  const examples: Array<[JsonValue, JsonValue, JsonValue]> = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [
      ['a', 'b'],
      ['c', 'd'],
      ['c', 'd'],
    ],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];

  it.each(examples)('%j patched with %j is %j', (target, patch, expected) => {
    expect(applyMergePatch(target, patch)).toEqual(expected);
  });

  it('leaves its inputs alone and shares nothing with them', () => {
    const target = { metadata: { labels: { a: '1', b: '2' } }, spec: { list: [1] } };
    const patch = { metadata: { labels: { a: null, c: { deep: true } } } };
    const targetCopy = structuredClone(target);
    const patchCopy = structuredClone(patch);
    const result = applyMergePatch(target, patch) as typeof target & { metadata: { labels: JsonObject } };
    expect(result).toEqual({ metadata: { labels: { b: '2', c: { deep: true } } }, spec: { list: [1] } });
    expect(target).toEqual(targetCopy);
    expect(patch).toEqual(patchCopy);
    result.spec.list.push(2);
    (result.metadata.labels['c'] as JsonObject)['deep'] = false;
    expect(target).toEqual(targetCopy);
    expect(patch).toEqual(patchCopy);
  });

  it('treats __proto__ as an ordinary key', () => {
    const patch = JSON.parse('{"__proto__": {"polluted": true}}') as JsonValue;
    const result = applyMergePatch({}, patch) as JsonObject;
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect(Object.keys(result)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('applyJsonPatch (RFC 6902)', () => {
  // RFC 6902 Appendix A: the examples that apply.
  const examples: Array<[string, JsonValue, JsonValue, JsonValue]> = [
    [
      'A.1 adding an object member',
      { foo: 'bar' },
      [{ op: 'add', path: '/baz', value: 'qux' }],
      { baz: 'qux', foo: 'bar' },
    ],
    [
      'A.2 adding an array element',
      { foo: ['bar', 'baz'] },
      [{ op: 'add', path: '/foo/1', value: 'qux' }],
      { foo: ['bar', 'qux', 'baz'] },
    ],
    [
      'A.3 removing an object member',
      { baz: 'qux', foo: 'bar' },
      [{ op: 'remove', path: '/baz' }],
      { foo: 'bar' },
    ],
    [
      'A.4 removing an array element',
      { foo: ['bar', 'qux', 'baz'] },
      [{ op: 'remove', path: '/foo/1' }],
      { foo: ['bar', 'baz'] },
    ],
    [
      'A.5 replacing a value',
      { baz: 'qux', foo: 'bar' },
      [{ op: 'replace', path: '/baz', value: 'boo' }],
      { baz: 'boo', foo: 'bar' },
    ],
    [
      'A.6 moving a value',
      { foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } },
      [{ op: 'move', from: '/foo/waldo', path: '/qux/thud' }],
      { foo: { bar: 'baz' }, qux: { corge: 'grault', thud: 'fred' } },
    ],
    [
      'A.7 moving an array element',
      { foo: ['all', 'grass', 'cows', 'eat'] },
      [{ op: 'move', from: '/foo/1', path: '/foo/3' }],
      { foo: ['all', 'cows', 'eat', 'grass'] },
    ],
    [
      'A.8 testing a value: success',
      { baz: 'qux', foo: ['a', 2, 'c'] },
      [
        { op: 'test', path: '/baz', value: 'qux' },
        { op: 'test', path: '/foo/1', value: 2 },
      ],
      { baz: 'qux', foo: ['a', 2, 'c'] },
    ],
    [
      'A.10 adding a nested member object',
      { foo: 'bar' },
      [{ op: 'add', path: '/child', value: { grandchild: {} } }],
      { foo: 'bar', child: { grandchild: {} } },
    ],
    [
      'A.11 ignoring unrecognized elements',
      { foo: 'bar' },
      [{ op: 'add', path: '/baz', value: 'qux', xyz: 123 }],
      { foo: 'bar', baz: 'qux' },
    ],
    [
      'A.14 ~ escape ordering',
      { '/': 9, '~1': 10 },
      [{ op: 'test', path: '/~01', value: 10 }],
      { '/': 9, '~1': 10 },
    ],
    [
      'A.16 adding an array value',
      { foo: ['bar'] },
      [{ op: 'add', path: '/foo/-', value: ['abc', 'def'] }],
      { foo: ['bar', ['abc', 'def']] },
    ],
    ['copy', { a: { b: [1] } }, [{ op: 'copy', from: '/a', path: '/c' }], { a: { b: [1] }, c: { b: [1] } }],
    ['replacing the whole document', { a: 1 }, [{ op: 'replace', path: '', value: { b: 2 } }], { b: 2 }],
    ['a null patch', { a: 1 }, null, { a: 1 }],
  ];

  it.each(examples)('%s', (_name, target, operations, expected) => {
    expect(applyJsonPatch(target, operations)).toEqual(expected);
  });

  // The failing examples of RFC 6902 Appendix A, and what else kube refuses while applying: all 422.
  const failures: Array<[string, JsonValue, JsonValue, string]> = [
    [
      'A.9 testing a value: error',
      { baz: 'qux' },
      [{ op: 'test', path: '/baz', value: 'bar' }],
      'testing value /baz failed: test failed',
    ],
    [
      'A.12 adding to a nonexistent target',
      { foo: 'bar' },
      [{ op: 'add', path: '/baz/bat', value: 'qux' }],
      'add operation does not apply: doc is missing path: "/baz/bat": missing value',
    ],
    [
      'A.15 comparing strings and numbers',
      { '/': 9, '~1': 10 },
      [{ op: 'test', path: '/~01', value: '10' }],
      'testing value /~01 failed: test failed',
    ],
    [
      'removing a missing key',
      { a: 1 },
      [{ op: 'remove', path: '/b' }],
      'Unable to remove nonexistent key: b: missing value',
    ],
    [
      'replacing a missing key',
      { a: 1 },
      [{ op: 'replace', path: '/b', value: 2 }],
      'replace operation does not apply: doc is missing key: /b: missing value',
    ],
    [
      'an index past the end',
      { a: [1] },
      [{ op: 'add', path: '/a/2', value: 2 }],
      'Unable to access invalid index: 2: invalid index referenced',
    ],
    ['an unknown op', { a: 1 }, [{ op: 'frobnicate', path: '/a' }], 'Unexpected kind: frobnicate'],
    ['a missing op', { a: 1 }, [{ path: '/a' }], 'Unexpected kind: unknown'],
    ['a missing path', { a: 1 }, [{ op: 'remove' }], 'remove operation failed to decode path: missing value'],
    [
      'a missing value',
      { a: 1 },
      [{ op: 'add', path: '/b' }],
      'add operation, missing value field: missing value',
    ],
  ];

  it.each(failures)('%s is Invalid', (_name, target, operations, detail) => {
    const err = patchError(() => applyJsonPatch(target, operations));
    expect(err.reason).toBe('Invalid');
    expect(err.message).toBe(REJECTED);
    expect(err.detail).toBe(detail);
  });

  it('stops at the first failing operation and leaves the target unchanged', () => {
    const target = { a: 1 };
    const err = patchError(() =>
      applyJsonPatch(target, [
        { op: 'add', path: '/b', value: 2 },
        { op: 'test', path: '/a', value: 2 },
      ]),
    );
    expect(err.detail).toBe('testing value /a failed: test failed');
    expect(target).toEqual({ a: 1 });
  });

  it('refuses a patch that is not a list of operation objects with 400', () => {
    const object = patchError(() => applyJsonPatch({}, { spec: { replicas: 1 } }));
    expect(object.reason).toBe('BadRequest');
    expect(object.message).toBe('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
    const element = patchError(() => applyJsonPatch({}, [1]));
    expect(element.reason).toBe('BadRequest');
    expect(element.message).toBe('json: cannot unmarshal number into Go value of type jsonpatch.Operation');
  });

  it('leaves its inputs alone and shares nothing with them', () => {
    const target = { list: [{ n: 1 }], keep: { x: 1 } };
    const operations: JsonValue = [
      { op: 'add', path: '/list/-', value: { n: 2 } },
      { op: 'add', path: '/list/1/extra', value: true },
      { op: 'remove', path: '/keep/x' },
    ];
    const targetCopy = structuredClone(target);
    const operationsCopy = structuredClone(operations);
    const result = applyJsonPatch(target, operations);
    expect(result).toEqual({ list: [{ n: 1 }, { n: 2, extra: true }], keep: {} });
    expect(target).toEqual(targetCopy);
    expect(operations).toEqual(operationsCopy);
  });
});

function deployment(): JsonObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'demo', finalizers: ['a.example/one', 'b.example/two'] },
    spec: {
      replicas: 2,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [
            {
              name: 'app',
              image: 'registry/app:1',
              args: ['--a', '--b'],
              ports: [
                { containerPort: 8080, name: 'http' },
                { containerPort: 9090, name: 'metrics' },
              ],
              env: [
                { name: 'A', value: '1' },
                { name: 'B', value: '2' },
                { name: 'C', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              ],
              volumeMounts: [{ name: 'data', mountPath: '/data' }],
            },
            { name: 'sidecar', image: 'registry/sidecar:1' },
          ],
          tolerations: [{ key: 'a', operator: 'Exists' }],
          volumes: [{ name: 'data', emptyDir: {} }],
        },
      },
    },
  };
}

function podSpec(object: JsonObject): JsonObject {
  const spec = (object['spec'] as JsonObject)['template'] as JsonObject;
  return spec['spec'] as JsonObject;
}

function containers(object: JsonObject): JsonObject[] {
  return podSpec(object)['containers'] as JsonObject[];
}

function templatePatch(spec: JsonObject): JsonObject {
  return { spec: { template: { spec } } };
}

describe('applyStrategicMergePatch', () => {
  it("updates one container's image by name and keeps the other container", () => {
    const result = applyStrategicMergePatch(
      deployment(),
      templatePatch({ containers: [{ name: 'app', image: 'registry/app:2' }] }),
      'Deployment',
    );
    const [app, sidecar, ...more] = containers(result);
    expect(more).toEqual([]);
    expect(app).toEqual({ ...containers(deployment())[0], image: 'registry/app:2' });
    expect(sidecar).toEqual({ name: 'sidecar', image: 'registry/sidecar:1' });
    expect(result['metadata']).toEqual(deployment()['metadata']);
  });

  it('adds a container whose name is new, after the patched ones, as kube orders it', () => {
    const result = applyStrategicMergePatch(
      deployment(),
      templatePatch({
        containers: [
          { name: 'app', image: 'registry/app:2' },
          { name: 'debug', image: 'busybox' },
        ],
      }),
      'Deployment',
    );
    expect(containers(result).map((c) => [c['name'], c['image']])).toEqual([
      ['app', 'registry/app:2'],
      ['debug', 'busybox'],
      ['sidecar', 'registry/sidecar:1'],
    ]);
  });

  it('deletes a container with $patch: delete', () => {
    const result = applyStrategicMergePatch(
      deployment(),
      templatePatch({ containers: [{ name: 'sidecar', $patch: 'delete' }] }),
      'Deployment',
    );
    expect(containers(result).map((c) => c['name'])).toEqual(['app']);
    expect(containers(result)[0]).toEqual(containers(deployment())[0]);
  });

  it('merges env by name: changes one, adds one, deletes one, keeps the rest', () => {
    const result = applyStrategicMergePatch(
      deployment(),
      templatePatch({
        containers: [
          {
            name: 'app',
            env: [
              { name: 'B', value: 'two' },
              { name: 'D', value: '4' },
              { name: 'A', $patch: 'delete' },
            ],
          },
        ],
      }),
      'Deployment',
    );
    // kube's order: patched elements in patch order, the untouched ones after the patched element before them.
    expect(containers(result)[0]?.['env']).toEqual([
      { name: 'B', value: 'two' },
      { name: 'D', value: '4' },
      { name: 'C', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    ]);
  });

  it('merges container ports by containerPort and volume mounts by mountPath', () => {
    const result = applyStrategicMergePatch(
      deployment(),
      templatePatch({
        containers: [
          {
            name: 'app',
            ports: [{ containerPort: 9090, name: 'prom' }],
            volumeMounts: [
              { name: 'data', mountPath: '/data', readOnly: true },
              { name: 'tmp', mountPath: '/tmp' },
            ],
          },
        ],
      }),
      'Deployment',
    );
    const [app] = containers(result);
    expect(app?.['ports']).toEqual([
      { containerPort: 8080, name: 'http' },
      { containerPort: 9090, name: 'prom' },
    ]);
    expect(app?.['volumeMounts']).toEqual([
      { name: 'data', mountPath: '/data', readOnly: true },
      { name: 'tmp', mountPath: '/tmp' },
    ]);
  });

  it('replaces atomic lists (tolerations, args) and deletes keys set to null', () => {
    const result = applyStrategicMergePatch(
      deployment(),
      templatePatch({
        tolerations: [{ key: 'b', operator: 'Exists' }],
        containers: [{ name: 'app', args: ['--c'], image: null }],
      }),
      'Deployment',
    );
    expect(podSpec(result)['tolerations']).toEqual([{ key: 'b', operator: 'Exists' }]);
    expect(containers(result)[0]?.['args']).toEqual(['--c']);
    expect(containers(result)[0]).not.toHaveProperty('image');
  });

  it('leaves a merging list alone for an empty patch list and replaces it with $patch: replace', () => {
    const unchanged = applyStrategicMergePatch(deployment(), templatePatch({ containers: [] }), 'Deployment');
    expect(containers(unchanged)).toEqual(containers(deployment()));
    const replaced = applyStrategicMergePatch(
      deployment(),
      templatePatch({ containers: [{ $patch: 'replace' }, { name: 'only', image: 'x' }] }),
      'Deployment',
    );
    expect(containers(replaced)).toEqual([{ name: 'only', image: 'x' }]);
  });

  it('replaces a map with $patch: replace and empties it with $patch: delete', () => {
    const replaced = applyStrategicMergePatch(
      deployment(),
      { spec: { strategy: { $patch: 'replace', type: 'Recreate' } } },
      'Deployment',
    );
    expect((replaced['spec'] as JsonObject)['strategy']).toEqual({ type: 'Recreate' });
    const deleted = applyStrategicMergePatch(
      deployment(),
      { spec: { template: { metadata: { labels: { $patch: 'delete' } } } } },
      'Deployment',
    );
    expect(((deleted['spec'] as JsonObject)['template'] as JsonObject)['metadata']).toEqual({ labels: {} });
  });

  it('drops the keys $retainKeys does not list', () => {
    const result = applyStrategicMergePatch(
      deployment(),
      { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } } },
      'Deployment',
    );
    expect((result['spec'] as JsonObject)['strategy']).toEqual({ type: 'Recreate' });
    const err = patchError(() =>
      applyStrategicMergePatch(
        deployment(),
        { spec: { strategy: { $retainKeys: ['type'], other: 1 } } },
        'Deployment',
      ),
    );
    expect(err.reason).toBe('BadRequest');
    expect(err.message).toBe('invalid patch format of retainKeys');
  });

  it('merges finalizers as a set and removes them with $deleteFromPrimitiveList', () => {
    const added = applyStrategicMergePatch(
      deployment(),
      { metadata: { finalizers: ['b.example/two', 'c.example/three'] } },
      'Deployment',
    );
    expect((added['metadata'] as JsonObject)['finalizers']).toEqual([
      'a.example/one',
      'b.example/two',
      'c.example/three',
    ]);
    const removed = applyStrategicMergePatch(
      deployment(),
      { metadata: { '$deleteFromPrimitiveList/finalizers': ['a.example/one', 'not.there/x'] } },
      'Deployment',
    );
    expect((removed['metadata'] as JsonObject)['finalizers']).toEqual(['b.example/two']);
  });

  it('removes from a list of scalars that would otherwise be replaced', () => {
    const result = applyStrategicMergePatch(
      deployment(),
      templatePatch({ containers: [{ name: 'app', '$deleteFromPrimitiveList/args': ['--a'] }] }),
      'Deployment',
    );
    expect(containers(result)[0]?.['args']).toEqual(['--b']);
  });

  it('orders a merged list by $setElementOrder', () => {
    const result = applyStrategicMergePatch(
      deployment(),
      templatePatch({
        '$setElementOrder/containers': [{ name: 'sidecar' }, { name: 'app' }],
        containers: [{ name: 'app', image: 'registry/app:3' }],
      }),
      'Deployment',
    );
    expect(containers(result).map((c) => [c['name'], c['image']])).toEqual([
      ['sidecar', 'registry/sidecar:1'],
      ['app', 'registry/app:3'],
    ]);
    const err = patchError(() =>
      applyStrategicMergePatch(
        deployment(),
        templatePatch({
          '$setElementOrder/containers': [{ name: 'sidecar' }],
          containers: [{ name: 'app', image: 'x' }],
        }),
        'Deployment',
      ),
    );
    expect(err.reason).toBe('BadRequest');
    expect(err.message).toContain("doesn't match $setElementOrder list");
  });

  it('merges owner references by uid and conditions by type', () => {
    const target: JsonObject = {
      metadata: {
        name: 'p',
        ownerReferences: [
          { uid: 'u1', kind: 'ReplicaSet', name: 'rs1' },
          { uid: 'u2', kind: 'ReplicaSet', name: 'rs2' },
        ],
      },
      status: {
        conditions: [
          { type: 'Ready', status: 'False' },
          { type: 'Scheduled', status: 'True' },
        ],
      },
    };
    const result = applyStrategicMergePatch(
      target,
      {
        metadata: { ownerReferences: [{ uid: 'u2', controller: true }] },
        status: { conditions: [{ type: 'Ready', status: 'True' }] },
      },
      'Pod',
    );
    expect((result['metadata'] as JsonObject)['ownerReferences']).toEqual([
      { uid: 'u1', kind: 'ReplicaSet', name: 'rs1' },
      { uid: 'u2', kind: 'ReplicaSet', name: 'rs2', controller: true },
    ]);
    expect((result['status'] as JsonObject)['conditions']).toEqual([
      { type: 'Ready', status: 'True' },
      { type: 'Scheduled', status: 'True' },
    ]);
  });

  it('uses the kind where a field name means different lists: Service ports merge by port', () => {
    const service: JsonObject = {
      spec: {
        ports: [
          { name: 'http', port: 80, targetPort: 8080 },
          { name: 'https', port: 443, targetPort: 8443 },
        ],
      },
    };
    const patch: JsonObject = { spec: { ports: [{ port: 80, targetPort: 9090 }] } };
    expect((applyStrategicMergePatch(service, patch, 'Service')['spec'] as JsonObject)['ports']).toEqual([
      { name: 'http', port: 80, targetPort: 9090 },
      { name: 'https', port: 443, targetPort: 8443 },
    ]);
    expect((applyStrategicMergePatch(service, patch, 'ConfigMap')['spec'] as JsonObject)['ports']).toEqual([
      { port: 80, targetPort: 9090 },
    ]);
  });

  it('refuses elements without their merge key, unknown directives and lists of lists', () => {
    const noKey = patchError(() =>
      applyStrategicMergePatch(deployment(), templatePatch({ containers: [{ image: 'x' }] }), 'Deployment'),
    );
    expect(noKey.reason).toBe('BadRequest');
    expect(noKey.message).toBe('map: map[image:x] does not contain declared merge key: name');
    const unknown = patchError(() =>
      applyStrategicMergePatch(deployment(), { spec: { $patch: 'frobnicate' } }, 'Deployment'),
    );
    expect(unknown.reason).toBe('BadRequest');
    expect(unknown.message).toBe('unknown patch type: frobnicate in map: map[$patch:frobnicate]');
    const lists = patchError(() =>
      applyStrategicMergePatch({ status: { conditions: [] } }, { status: { conditions: [['x']] } }, 'Pod'),
    );
    expect(lists.reason).toBe('Invalid');
    expect(lists.detail).toBe('lists of lists are not supported');
  });

  it('leaves its inputs alone and shares nothing with them', () => {
    const target = deployment();
    const patch = templatePatch({
      containers: [
        { name: 'app', image: 'registry/app:2', env: [{ name: 'A', $patch: 'delete' }] },
        { name: 'new', image: 'n' },
      ],
    });
    const targetCopy = structuredClone(target);
    const patchCopy = structuredClone(patch);
    const result = applyStrategicMergePatch(target, patch, 'Deployment');
    expect(containers(result).map((c) => c['name'])).toEqual(['app', 'new', 'sidecar']);
    expect(target).toEqual(targetCopy);
    expect(patch).toEqual(patchCopy);
    containers(result)[1]!['image'] = 'changed';
    (containers(result)[2] as JsonObject)['image'] = 'changed';
    expect(target).toEqual(targetCopy);
    expect(patch).toEqual(patchCopy);
  });
});

describe('applyPatch', () => {
  const configMap: JsonObject = { metadata: { name: 'c', labels: { a: '1' } }, data: { k: 'v' } };

  it('parses the body and dispatches on the patch type', () => {
    expect(applyPatch('merge', configMap, Buffer.from('{"data":{"k":null,"n":"m"}}'), 'ConfigMap')).toEqual({
      metadata: { name: 'c', labels: { a: '1' } },
      data: { n: 'm' },
    });
    expect(
      applyPatch('json', configMap, '[{"op":"replace","path":"/data/k","value":"w"}]', 'ConfigMap'),
    ).toEqual({
      metadata: { name: 'c', labels: { a: '1' } },
      data: { k: 'w' },
    });
    expect(applyPatch('strategic', configMap, '{"metadata":{"labels":{"b":"2"}}}', 'ConfigMap')).toEqual({
      metadata: { name: 'c', labels: { a: '1', b: '2' } },
      data: { k: 'v' },
    });
    expect(configMap).toEqual({ metadata: { name: 'c', labels: { a: '1' } }, data: { k: 'v' } });
  });

  it('answers 400 for a body that is not JSON', () => {
    for (const type of ['merge', 'json', 'strategic'] as const) {
      const err = patchError(() => applyPatch(type, configMap, '{"data":', 'ConfigMap'));
      expect(err.reason).toBe('BadRequest');
    }
    expect(patchError(() => applyPatch('json', configMap, '', 'ConfigMap')).message).toBe(
      'unexpected end of JSON input',
    );
    expect(patchError(() => applyPatch('merge', configMap, 'nope', 'ConfigMap')).message).toBe(
      'Invalid JSON Patch',
    );
  });

  it('answers 400 for a merge-style object sent as a JSON patch', () => {
    const err = patchError(() => applyPatch('json', configMap, '{"data":{"k":"w"}}', 'ConfigMap'));
    expect(err.reason).toBe('BadRequest');
    expect(err.message).toBe('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  });

  it('answers 400 for merge and strategic bodies that are not objects', () => {
    for (const body of ['null', '"x"', '3']) {
      const err = patchError(() => applyPatch('merge', configMap, body, 'ConfigMap'));
      expect(err.reason).toBe('BadRequest');
      expect(err.message).toBe('Invalid JSON Patch');
    }
    const strategic = patchError(() => applyPatch('strategic', configMap, '[{"a":1}]', 'ConfigMap'));
    expect(strategic.reason).toBe('BadRequest');
    expect(strategic.message).toBe(
      'json: cannot unmarshal array into Go value of type map[string]interface {}',
    );
  });

  it('answers 422 when the patched document is no longer an object, as kube does', () => {
    expect(patchError(() => applyPatch('merge', configMap, '[1]', 'ConfigMap')).reason).toBe('Invalid');
    const json = patchError(() =>
      applyPatch('json', configMap, '[{"op":"replace","path":"","value":[1]}]', 'ConfigMap'),
    );
    expect(json.reason).toBe('Invalid');
    expect(json.message).toContain('cannot unmarshal array');
  });

  it('takes a null JSON patch or strategic patch as no change, as Go decodes it', () => {
    expect(applyPatch('json', configMap, 'null', 'ConfigMap')).toEqual(configMap);
    expect(applyPatch('strategic', configMap, 'null', 'ConfigMap')).toEqual(configMap);
  });

  it('reads a duplicated member as Go does (the last one wins): RFC 6902 A.13 still fails', () => {
    const err = patchError(() =>
      applyPatch(
        'json',
        { foo: 'bar' },
        '[{"op":"add","path":"/baz","value":"qux","op":"remove"}]',
        'ConfigMap',
      ),
    );
    expect(err.reason).toBe('Invalid');
    expect(err.detail).toBe('Unable to remove nonexistent key: baz: missing value');
  });
});
