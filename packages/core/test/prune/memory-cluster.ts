// The executor's cluster and registry in memory, for property tests that run thousands of plans: the
// testkit's MemoryCluster (through the core's own pruneClusterOf adapter) and MemoryRegistry (through
// pruneRegistryOf), which the ports' contract suites hold to the simulator's and real servers' behaviour
// (resourceVersion conflicts on status writes, 404 as absent, the registry's 405 for a manifest a stream
// still references, links per repository, one blob store).
import { MemoryCluster, MemoryRegistry, MemoryRegistryStorage } from '@registry-push/testkit';
import { Resources } from '../../src/cluster/resources.js';
import { pruneClusterOf, type PruneCluster } from '../../src/prune/cluster-port.js';
import type { ImageObject, ImageStreamObject } from '../../src/prune/image-objects.js';
import type { PruneRegistry } from '../../src/prune/registry-port.js';
import { pruneRegistryOf } from '../../src/prune/registry-adapter.js';
import type { PruneSnapshot, SnapshotImage } from '../../src/prune/types.js';
import { coreError } from '../ports/core-error.js';

const EMPTY = Buffer.alloc(0);

/** The blob store as a set of digests; `add` writes through to the registry's storage. */
class BlobSet extends Set<string> {
  constructor(private readonly storage: MemoryRegistryStorage) {
    super(storage.blobs.keys());
  }

  override add(digest: string): this {
    // Set's constructor calls add before `storage` is assigned.
    (this.storage as MemoryRegistryStorage | undefined)?.blobs.set(digest, EMPTY);
    return super.add(digest);
  }
}

/** A cluster and a registry's storage, with views the tests read (each a fresh copy of the state). */
export class MemoryState {
  readonly cluster = new MemoryCluster({ error: coreError });
  readonly storage = new MemoryRegistryStorage();

  /** Images by digest. */
  get images(): Map<string, ImageObject> {
    return new Map(this.cluster.objectsOf<ImageObject>(Resources.image).map((i) => [i.metadata.name, i]));
  }

  /** Image streams by `namespace/name`. */
  get streams(): Map<string, ImageStreamObject> {
    return new Map(
      this.cluster
        .objectsOf<ImageStreamObject>(Resources.imageStream)
        .map((s) => [`${s.metadata.namespace ?? ''}/${s.metadata.name}`, s]),
    );
  }

  /** Blob digests in storage. */
  get blobs(): Set<string> {
    return new BlobSet(this.storage);
  }

  /** Deletes a stream and creates it again with the same history (a new uid), as `oc delete` + `oc create`. */
  recreateStream(namespace: string, name: string): void {
    const stream = this.streams.get(`${namespace}/${name}`);
    if (stream === undefined) throw new Error(`no stream ${namespace}/${name}`);
    const { uid: _uid, ...metadata } = stream.metadata;
    this.cluster.seed(Resources.imageStream, { ...stream, metadata });
  }
}

function imageObject(image: SnapshotImage): ImageObject {
  return {
    metadata: {
      name: image.digest,
      creationTimestamp: image.created,
      annotations: {
        ...(image.managed ? { 'openshift.io/image.managed': 'true' } : {}),
        ...(image.protected ? { 'test/protect': 'true' } : {}),
      },
    },
    dockerImageManifestMediaType: image.mediaType,
    dockerImageLayers: image.layers.map((l) => ({ name: l.digest, size: l.size })),
    dockerImageMetadata: { Id: image.config?.digest ?? '', Size: image.size },
    dockerImageManifests: image.manifests.map((digest) => ({ digest })),
  };
}

/** The state a snapshot describes, with registry storage holding everything the images and histories need. */
export function stateFrom(snapshot: PruneSnapshot): MemoryState {
  const state = new MemoryState();
  const byDigest = new Map(snapshot.images.map((i) => [i.digest, i]));
  for (const image of snapshot.images) {
    state.cluster.seed(Resources.image, imageObject(image));
    state.storage.blobs.set(image.digest, EMPTY);
    for (const blob of [...image.layers, ...(image.config ? [image.config] : [])]) {
      state.storage.blobs.set(blob.digest, EMPTY);
    }
  }
  for (const stream of snapshot.streams) {
    state.cluster.seed<ImageStreamObject>(Resources.imageStream, {
      metadata: {
        name: stream.name,
        namespace: stream.namespace,
        uid: stream.uid,
        creationTimestamp: stream.created,
      },
      spec: {},
      status: {
        tags: stream.tags.map((t) => ({ tag: t.tag, items: t.items.map((i) => ({ ...i, generation: 1 })) })),
      },
    });
    const repository = state.storage.repository(`${stream.namespace}/${stream.name}`);
    const pending = stream.tags.flatMap((t) => t.items.map((i) => i.image));
    for (let d = pending.pop(); d !== undefined; d = pending.pop()) {
      if (repository.manifests.has(d)) continue;
      const image = byDigest.get(d);
      repository.manifests.set(d, image?.mediaType ?? '');
      if (image === undefined) continue;
      for (const blob of [...image.layers, ...(image.config ? [image.config] : [])]) {
        repository.layers.add(blob.digest);
      }
      pending.push(...image.manifests);
    }
  }
  return state;
}

/** The executor's cluster port on the in-memory cluster, through the core's real adapter. */
export function memoryCluster(state: MemoryState): PruneCluster {
  return pruneClusterOf(state.cluster);
}

/** The executor's registry port on the in-memory registry; `calls` counts the requests it answered. */
export function memoryRegistry(state: MemoryState): PruneRegistry & { readonly calls: number } {
  const registry = new MemoryRegistry({
    storage: state.storage,
    error: coreError,
    // The OpenShift registry refuses a manifest delete while a stream's history holds the image.
    referenced: (repository, digest) =>
      (state.streams.get(repository)?.status?.tags ?? []).some((t) =>
        (t.items ?? []).some((i) => i.image === digest),
      ),
  });
  const port = pruneRegistryOf(registry);
  return {
    deleteManifest: (repository, digest) => port.deleteManifest(repository, digest),
    deleteLayerLink: (repository, digest) => port.deleteLayerLink(repository, digest),
    deleteBlob: (digest) => port.deleteBlob(digest),
    get calls(): number {
      const deletes = ['deleteManifest', 'deleteBlob', 'deleteStoredBlob'];
      return deletes.reduce((sum, method) => sum + (registry.calls[method] ?? 0), 0);
    },
  };
}

/** A comparable picture of the state (for "twice equals once"). */
export function picture(state: MemoryState): unknown {
  const repositories = [...state.storage.repositories.entries()];
  const links = (pick: (r: (typeof repositories)[number][1]) => Iterable<string>): unknown =>
    repositories.map(([name, r]) => [name, [...pick(r)].sort()]).sort();
  return {
    images: [...state.images.keys()].sort(),
    streams: [...state.streams.entries()].map(([k, v]) => [k, v.status?.tags ?? []]).sort(),
    manifestLinks: links((r) => r.manifests.keys()),
    layerLinks: links((r) => r.layers),
    blobs: [...state.storage.blobs.keys()].sort(),
  };
}
