// pushImage pushes through the registry port it is handed (here the testkit's in-memory registry): the
// blobs, then the manifest under every tag, with the connection options the factory is given.
import { buildOciImage, makeWorkDir, MemoryRegistry, removeWorkDir } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushImage } from '../../src/push/push.js';
import type { RegistryClientOptions } from '../../src/registry/client.js';
import { coreError } from './core-error.js';

let work: string;
beforeAll(async () => {
  work = await makeWorkDir('core-registry-option');
});
afterAll(async () => {
  await removeWorkDir(work);
});

describe('pushImage({ registry })', () => {
  it('pushes through the given registry port and closes it', async () => {
    const image = await buildOciImage({ outDir: `${work}/app`, seed: 'port', layers: 2, layerSize: 2048 });
    const registry = new MemoryRegistry({ host: 'registry.example:5000', error: coreError });
    const given: RegistryClientOptions[] = [];
    const pushed = await pushImage({
      source: `oci:${image.layoutDir}:${image.tag}`,
      target: 'registry.example:5000/demo/app',
      tags: ['v1', 'latest'],
      connection: { credentials: { kind: 'bearer', token: 'not-sent-anywhere' } },
      registry: (options) => (given.push(options), registry),
    });
    expect(given.map((o) => [o.host, o.credentials?.kind])).toEqual([['registry.example:5000', 'bearer']]);
    expect(pushed.digest).toBe(image.digest);
    expect(pushed.refs.map((r) => r.tag).sort()).toEqual(['latest', 'v1']);
    expect(pushed.blobs.uploaded).toBe(3);
    expect(await registry.listTags('demo/app')).toEqual(['latest', 'v1']);
    expect((await registry.getManifest('demo/app', 'v1'))?.digest).toBe(image.digest);
  });
});
