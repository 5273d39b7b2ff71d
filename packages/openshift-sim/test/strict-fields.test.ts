// A custom resource's strict decoding as kube-apiserver 1.26's apiextensions does it (the contract suite
// cannot ask it of every cluster: on OpenShift routes are not custom resources): the decoder's repeated
// keys, then the metadata fields ObjectMeta lacks, then the pruned fields, sorted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RunningCluster } from '../src/index.js';
import { raw } from './helpers.js';

let cluster: RunningCluster;

beforeAll(async () => {
  cluster = await startCluster({ namespaces: ['strict'] });
}, 120_000);

afterAll(async () => {
  await cluster.stop();
});

const PRUNER = '/apis/imageregistry.operator.openshift.io/v1/imagepruners/cluster';

describe('a custom resource under strict field validation', () => {
  it('names repeated keys, then metadata fields ObjectMeta lacks, then the pruned fields sorted', async () => {
    const current = (await raw(cluster, 'GET', PRUNER)).json;
    const metadata = { ...(current['metadata'] as object), foo: 'x' };
    const spec = JSON.stringify({ ...(current['spec'] as object), zzz: 1, aaa: { b: 1 } });
    // Written by hand: JSON.stringify cannot repeat a key.
    const body = `{"apiVersion":"imageregistry.operator.openshift.io/v1","kind":"ImagePruner","metadata":${JSON.stringify(
      metadata,
    )},"spec":${spec.slice(0, -1)},"suspend":false,"suspend":false}}`;
    const refused = await raw(cluster, 'PUT', `${PRUNER}?fieldValidation=Strict`, { body });
    expect(refused.status).toBe(400);
    expect(refused.json['message']).toBe(
      'ImagePruner in version "v1" cannot be handled as a ImagePruner: strict decoding error: ' +
        'duplicate field "spec.suspend", unknown field "metadata.foo", unknown field "spec.aaa", ' +
        'unknown field "spec.zzz"',
    );
    const warned = await raw(cluster, 'PUT', PRUNER, { body });
    expect(warned.status).toBe(200);
    expect(warned.json['metadata']).not.toHaveProperty('foo');
    expect(warned.json['spec']).not.toHaveProperty('zzz');
  });
});
