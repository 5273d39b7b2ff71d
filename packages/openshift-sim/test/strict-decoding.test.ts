// kube's strict decoder (sigs.k8s.io/json as kube 1.26 vendors it) against the built-in kinds' Go types read
// from the vendored protobuf definitions: what it names, in which order and words.
import { describe, expect, it } from 'vitest';
import { ANY, kindGoType } from '../src/api/go-types.js';
import {
  decodingErrors,
  goValueText,
  JSON_PATCH_OPERATIONS,
  unknownFields,
} from '../src/api/strict-decoding.js';

const deployment = kindGoType('apps', 'v1', 'Deployment')!;
const statefulSet = kindGoType('apps', 'v1', 'StatefulSet')!;
const configMap = kindGoType('', 'v1', 'ConfigMap')!;

describe('decodingErrors', () => {
  it('names unknown fields at every depth with their full path, and repeated keys, in document order', () => {
    const text =
      '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"a","name":"b"},"spec":{' +
      '"template":{"spec":{"containers":[{"name":"x","livenessProbe":{"httpGet":{"path":"/","pathX":"/"}}},' +
      '{"image":"i", "image" : "j","args":["a,\\"b}","c"],"imagePullPolicyX":"Always"}],' +
      '"volumes":[{"name":"v","configMap":{"name":"c","nameX":"c"}}]}},' +
      '"strategy":{"rollingUpdate":{"maxSurge":"25%","maxSurgeX":1}},"paused":true,"paused":false}}';
    expect(decodingErrors(text, deployment)).toEqual([
      'duplicate field "metadata.name"',
      'unknown field "spec.template.spec.containers[0].livenessProbe.httpGet.pathX"',
      'duplicate field "spec.template.spec.containers[1].image"',
      'unknown field "spec.template.spec.containers[1].imagePullPolicyX"',
      // `name` comes from the inline LocalObjectReference of a ConfigMapVolumeSource.
      'unknown field "spec.template.spec.volumes[0].configMap.nameX"',
      'unknown field "spec.strategy.rollingUpdate.maxSurgeX"',
      'duplicate field "spec.paused"',
    ]);
  });

  it('does not look inside an unknown field, a self-decoding value or a map of strings', () => {
    const text = JSON.stringify({
      metadata: {
        name: 'a',
        labels: { 'app.x/y': 'z' },
        managedFields: [{ manager: 'm', fieldsV1: { 'f:data': { 'f:k': {} } } }],
        creationTimestamp: '2026-01-01T00:00:00Z',
      },
      data: { any: 'thing' },
      extra: { deeper: { unknown: 1 } },
    });
    expect(decodingErrors(text, configMap)).toEqual(['unknown field "extra"']);
  });

  it('knows TypeMeta on nested kinds but not on templates', () => {
    const text = JSON.stringify({
      spec: {
        volumeClaimTemplates: [{ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'd' } }],
        template: { apiVersion: 'v1', metadata: { labels: { a: 'b' } } },
      },
    });
    expect(decodingErrors(text, statefulSet)).toEqual(['unknown field "spec.template.apiVersion"']);
  });

  it('names each error once and keeps at most 100, as the decoder does', () => {
    const repeated = `{"data":{"k":"1","k":"2","k":"3"},"x":1,"x":2}`;
    expect(decodingErrors(repeated, configMap)).toEqual(['duplicate field "data.k"', 'unknown field "x"']);
    const many = JSON.stringify(Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`f${i}`, i])));
    const found = decodingErrors(many, configMap);
    expect(found).toHaveLength(100);
    expect(found.at(-1)).toBe('unknown field "f99"');
  });

  it('checks only repeated keys in an untyped body, and the operations of a JSON patch', () => {
    expect(decodingErrors('{"spec":{"a":{"b":1,"b":2}},"x":[{"y":1,"y":1}]}', ANY)).toEqual([
      'duplicate field "spec.a.b"',
      'duplicate field "x[0].y"',
    ]);
    const patch = '[{"op":"add","path":"/a","value":{"v":1,"v":2},"extra":1},{"op":"remove","op":"remove"}]';
    expect(decodingErrors(patch, JSON_PATCH_OPERATIONS)).toEqual([
      'duplicate field "[0].value.v"',
      'unknown field "[0].extra"',
      'duplicate field "[1].op"',
    ]);
  });

  it('gives nothing for text that is not JSON', () => {
    expect(decodingErrors('{"a":1,"a"', configMap)).toEqual([]);
  });
});

describe('unknownFields', () => {
  const object = (): Record<string, never> =>
    JSON.parse(
      '{"spec":{"zzz":1,"replicas":1,"aaa":1,"template":{"spec":{"containers":[{"name":"a","bad":1}]}}},"top":1}',
    ) as Record<string, never>;

  it('orders them as the body, as Go wrote it from a map (sorted), or as the unstructured converter', () => {
    expect(unknownFields(object(), deployment, 'document')).toEqual([
      'spec.zzz',
      'spec.aaa',
      'spec.template.spec.containers[0].bad',
      'top',
    ]);
    expect(unknownFields(object(), deployment, 'sorted')).toEqual([
      'spec.aaa',
      'spec.template.spec.containers[0].bad',
      'spec.zzz',
      'top',
    ]);
    // The converter names a struct's lacking keys after those inside its fields.
    expect(unknownFields(object(), deployment, 'struct')).toEqual([
      'spec.template.spec.containers[0].bad',
      'spec.zzz',
      'spec.aaa',
      'top',
    ]);
  });

  it('drops them when asked', () => {
    const value = object();
    unknownFields(value, deployment, 'document', true);
    expect(value).toEqual({
      spec: { replicas: 1, template: { spec: { containers: [{ name: 'a' }] } } },
    });
  });
});

describe('goValueText', () => {
  it('prints a decoded patch as Go prints a map with %+v', () => {
    expect(
      goValueText({ spec: { replicas: 1, b: [true, null, 'x y'], a: 1.5, big: 1234567.5, small: 0.00001 } }),
    ).toBe('map[spec:map[a:1.5 b:[true <nil> x y] big:1.2345675e+06 replicas:1 small:1e-05]]');
  });
});
