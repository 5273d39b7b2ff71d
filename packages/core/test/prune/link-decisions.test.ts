// How a stream unit decides its link deletes: on the stream histories caught up right before each delete,
// with the Images caught up as well only when a history names an Image the view has not seen yet (a push
// whose Image the Images watch has not delivered). A view fed by hand plays the lagging watch.
import { describe, expect, it } from 'vitest';
import { executeUnit } from '../../src/prune/execute.js';
import type { PruneCluster } from '../../src/prune/cluster-port.js';
import type { ImageObject, ImageStreamObject } from '../../src/prune/image-objects.js';
import type { PruneRegistry } from '../../src/prune/registry-port.js';
import type { StreamUnit } from '../../src/prune/types.js';
import type { PruneView, ViewNeed } from '../../src/prune/view.js';
import { ViewIndex } from '../../src/prune/view-index.js';
import { digest, imageObject } from './fixtures.js';

const streamObject = (images: string[]): ImageStreamObject =>
  ({
    metadata: { namespace: 'demo', name: 'app', uid: 'app-uid', resourceVersion: '7' },
    status: {
      tags: [
        {
          tag: 'latest',
          items: images.map((seed) => ({ image: digest(seed), created: '2026-01-01T00:00:00Z' })),
        },
      ],
    },
  }) as ImageStreamObject;

/** A view whose Images lag: `late` reaches the index only when a catch-up includes the Images. */
function laggingView(late: ImageObject | undefined): PruneView & { needs: ViewNeed[]; index: ViewIndex } {
  const index = new ViewIndex('keep');
  const needs: ViewNeed[] = [];
  return {
    index,
    needs,
    catchUp: (need: ViewNeed = 'all') => {
      needs.push(need);
      if (need !== 'streams' && late !== undefined) index.putImage(late);
      return Promise.resolve();
    },
    onHistoryAdded: () => () => undefined,
  };
}

function recordingRegistry(): PruneRegistry & { deleted: string[] } {
  const deleted: string[] = [];
  return {
    deleted,
    deleteManifest: (repository, d) => {
      deleted.push(`manifest ${repository}@${d}`);
      return Promise.resolve('deleted');
    },
    deleteLayerLink: (repository, d) => {
      deleted.push(`layer ${repository}@${d}`);
      return Promise.resolve('deleted');
    },
    deleteBlob: () => Promise.reject(new Error('no blob deletes in a stream unit')),
  };
}

/** A cluster whose stream has nothing left to remove (the history was written already). */
function clusterWith(stream: ImageStreamObject): PruneCluster {
  const never = (): Promise<never> => Promise.reject(new Error('not called by a stream unit'));
  return {
    getImageStream: () => Promise.resolve(structuredClone(stream)),
    replaceImageStreamStatus: never,
    getImage: never,
    deleteImage: never,
    listImages: never,
    listImageStreams: never,
  };
}

const unit: StreamUnit = {
  type: 'stream',
  id: 'stream:demo/app',
  namespace: 'demo',
  name: 'app',
  uid: 'app-uid',
  removals: [],
  manifestLinks: [digest('old')],
  layerLinks: [digest('old-own'), digest('shared')],
};

async function run(view: PruneView, registry: PruneRegistry, stream: ImageStreamObject) {
  return executeUnit(
    unit,
    { mode: 'full', protectAnnotation: 'keep' },
    { cluster: clusterWith(stream), registry, view, confirm: true, registryConcurrency: 1 },
  );
}

describe('link decisions of a stream unit', () => {
  it('catch up the stream histories only when every Image the history names is in the view', async () => {
    const stream = streamObject(['kept']);
    const view = laggingView(undefined);
    view.index.putImage(imageObject('kept', ['kept-own']));
    view.index.putStream(stream);
    const registry = recordingRegistry();

    const result = await run(view, registry, stream);

    expect(result.status).toBe('done');
    expect(registry.deleted).toHaveLength(3);
    expect(new Set(view.needs)).toEqual(new Set(['streams']));
  });

  it('catch up the Images too when the history names one the view has not seen, and keep what it uses', async () => {
    // A push of demo/app:hotfix re-used the layer `shared`: its Image exists, the history names it, but the
    // Images watch has not delivered it when the link is decided.
    const stream = streamObject(['kept', 'hotfix']);
    const view = laggingView(imageObject('hotfix', ['shared', 'hotfix-own']));
    view.index.putImage(imageObject('kept', ['kept-own']));
    view.index.putStream(stream);
    const registry = recordingRegistry();

    const result = await run(view, registry, stream);

    expect(view.needs).toContain('images');
    const shared = result.items.find((item) => item.target === `demo/app@${digest('shared')}`);
    expect(shared).toMatchObject({ outcome: 'skipped', reason: 'still-referenced' });
    expect(registry.deleted).toEqual([
      `manifest demo/app@${digest('old')}`,
      `layer demo/app@${digest('old-own')}`,
    ]);
  });
});
