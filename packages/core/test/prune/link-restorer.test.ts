// The restorer of layer links on an index fed by hand: what it restores, from where, and what it reports
// when it cannot.
import { describe, expect, it } from 'vitest';
import { RegistryPushError } from '../../src/errors.js';
import { LinkRestorer, type LinkRestoreResult } from '../../src/prune/link-restorer.js';
import type { ImageStreamObject } from '../../src/prune/image-objects.js';
import type { PruneRegistry } from '../../src/prune/registry-port.js';
import type { HistoryAddition, PruneView } from '../../src/prune/view.js';
import { ViewIndex } from '../../src/prune/view-index.js';
import { digest, imageObject } from './fixtures.js';

function stream(namespace: string, name: string, images: string[]): ImageStreamObject {
  return {
    metadata: { namespace, name, uid: `${namespace}-${name}` },
    status: {
      tags: [
        {
          tag: 'latest',
          items: images.map((seed) => ({ image: digest(seed), created: '2026-01-01T00:00:00Z' })),
        },
      ],
    },
  } as ImageStreamObject;
}

/** A view over an index the test changes; history additions are announced as a watch would. */
function handView(): PruneView & { put(stream: ImageStreamObject): void; index: ViewIndex } {
  const index = new ViewIndex('keep');
  const listeners = new Set<(addition: HistoryAddition) => void>();
  return {
    index,
    catchUp: () => Promise.resolve(),
    onHistoryAdded: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    put: (object) => {
      const images = index.putStream(object);
      const { namespace = '', name } = object.metadata;
      for (const listener of listeners) listener({ namespace, name, images });
    },
  };
}

function registry(mount: PruneRegistry['restoreLayerLink']): PruneRegistry & { mounts: string[] } {
  const mounts: string[] = [];
  const never = (): Promise<'deleted'> => Promise.reject(new Error('no deletes here'));
  return {
    mounts,
    deleteManifest: never,
    deleteLayerLink: never,
    deleteBlob: never,
    ...(mount === undefined
      ? {}
      : {
          restoreLayerLink: (repository: string, blob: string, from: string) => {
            mounts.push(`${repository}@${blob}<-${from}`);
            return mount(repository, blob, from);
          },
        }),
  };
}

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 10));

describe('LinkRestorer', () => {
  it('does nothing while the history does not need the removed link, then mounts it from a repository that does', async () => {
    const view = handView();
    view.index.putImage(imageObject('old', ['shared', 'old-own']));
    view.index.putImage(imageObject('fix', ['shared', 'fix-own']));
    view.put(stream('other', 'app', ['old']));
    view.put(stream('demo', 'app', []));
    const port = registry(() => Promise.resolve(true));
    const results: LinkRestoreResult[] = [];
    const restorer = new LinkRestorer({ view, registry: port, onRestore: (r) => results.push(r) });
    await restorer.removed('demo/app', digest('shared'), 'run-1');
    await restorer.removed('demo/app', digest('old-own'), 'run-1');
    expect(results).toEqual([]);
    expect(restorer.watching).toBe(2);
    // A push lands: its image uses one of the removed links.
    view.put(stream('demo', 'app', ['fix']));
    await settle();
    await restorer.stop();
    expect(port.mounts).toEqual([`demo/app@${digest('shared')}<-other/app`]);
    expect(results).toMatchObject([
      {
        repository: 'demo/app',
        digest: digest('shared'),
        outcome: 'restored',
        from: 'other/app',
        origin: 'run-1',
      },
    ]);
    expect(restorer.watching).toBe(1);
  });

  it('falls back to the repository itself, and says when nothing could restore the link', async () => {
    const view = handView();
    view.index.putImage(imageObject('fix', ['lonely']));
    view.put(stream('demo', 'app', ['fix']));
    const refusing = registry(() => Promise.resolve(false));
    const results: LinkRestoreResult[] = [];
    const restorer = new LinkRestorer({ view, registry: refusing, onRestore: (r) => results.push(r) });
    await restorer.removed('demo/app', digest('lonely'));
    expect(refusing.mounts).toEqual([`demo/app@${digest('lonely')}<-demo/app`]);
    expect(results).toMatchObject([{ outcome: 'no-source' }]);
    expect(results[0]?.origin).toBeUndefined();
  });

  it('reports a refused mount with its code, and a port that cannot mount', async () => {
    const view = handView();
    view.index.putImage(imageObject('fix', ['layer']));
    view.put(stream('demo', 'app', ['fix']));
    const results: LinkRestoreResult[] = [];
    const denied = registry(() => Promise.reject(new RegistryPushError('REGISTRY_DENIED', 'no push')));
    await new LinkRestorer({ view, registry: denied, onRestore: (r) => results.push(r) }).removed(
      'demo/app',
      digest('layer'),
    );
    const unable = registry(undefined);
    await new LinkRestorer({ view, registry: unable, onRestore: (r) => results.push(r) }).removed(
      'demo/app',
      digest('layer'),
    );
    expect(results).toMatchObject([
      { outcome: 'failed', error: { code: 'REGISTRY_DENIED' } },
      { outcome: 'failed', error: { code: 'UNSUPPORTED' } },
    ]);
  });

  it('keeps the removals of two runs apart, and any digest form, restoring each with its own origin', async () => {
    const view = handView();
    const sha512 = `sha512:${'ab'.repeat(64)}`;
    const fix = imageObject('fix', ['first', 'second']);
    fix.dockerImageLayers = [...(fix.dockerImageLayers ?? []), { name: sha512, size: 10, mediaType: 'x' }];
    view.index.putImage(fix);
    view.put(stream('demo', 'app', []));
    const port = registry(() => Promise.resolve(true));
    const results: LinkRestoreResult[] = [];
    const restorer = new LinkRestorer({ view, registry: port, onRestore: (r) => results.push(r) });
    await restorer.removed('demo/app', digest('first'), 'run-1');
    await restorer.removed('demo/app', digest('second'), 'run-2');
    await restorer.removed('demo/app', sha512, 'run-2');
    await restorer.removed('demo/app', digest('unused'), 'run-2');
    expect(restorer.watching).toBe(4);
    view.put(stream('demo', 'app', ['fix']));
    await settle();
    await restorer.stop();
    expect(
      results
        .map(({ digest: blob, origin, outcome }) => ({ blob, origin, outcome }))
        .sort((a, b) => a.blob.localeCompare(b.blob)),
    ).toEqual(
      [
        { blob: digest('first'), origin: 'run-1', outcome: 'restored' },
        { blob: digest('second'), origin: 'run-2', outcome: 'restored' },
        { blob: sha512, origin: 'run-2', outcome: 'restored' },
      ].sort((a, b) => a.blob.localeCompare(b.blob)),
    );
    expect(restorer.watching).toBe(1);
  });

  it('forgets a removed link once its window has passed', async () => {
    const view = handView();
    view.index.putImage(imageObject('fix', ['late']));
    view.put(stream('demo', 'app', []));
    const port = registry(() => Promise.resolve(true));
    const restorer = new LinkRestorer({ view, registry: port, windowMs: 0 });
    await restorer.removed('demo/app', digest('late'));
    await new Promise((resolve) => setTimeout(resolve, 5));
    view.put(stream('demo', 'app', ['fix']));
    await settle();
    await restorer.stop();
    expect(port.mounts).toEqual([]);
    expect(restorer.watching).toBe(0);
  });
});
