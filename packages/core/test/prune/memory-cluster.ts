// An in-memory cluster and registry with the semantics the executor relies on (resourceVersion conflicts on
// status writes, 404 as absent, the registry's 405 for a manifest a stream still references, links per
// repository, one blob store), for property tests that run thousands of plans. The simulator tests check
// the same behaviour against the real parts.
import { RegistryPushError } from '../../src/errors.js';
import type { PruneCluster } from '../../src/prune/cluster-port.js';
import type { ImageObject, ImageStreamObject } from '../../src/prune/objects.js';
import type { PruneRegistry, RegistryDeleteOutcome } from '../../src/prune/registry.js';
import type { PruneSnapshot, SnapshotImage } from '../../src/prune/types.js';

export interface MemoryState {
  images: Map<string, ImageObject>;
  streams: Map<string, ImageStreamObject>;
  /** repository → manifest digests linked. */
  manifestLinks: Map<string, Set<string>>;
  /** repository → blob digests linked. */
  layerLinks: Map<string, Set<string>>;
  blobs: Set<string>;
  revision: number;
}

const clone = <T>(value: T): T => structuredClone(value);

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
  const state: MemoryState = {
    images: new Map(),
    streams: new Map(),
    manifestLinks: new Map(),
    layerLinks: new Map(),
    blobs: new Set(),
    revision: 1,
  };
  const byDigest = new Map(snapshot.images.map((i) => [i.digest, i]));
  for (const image of snapshot.images) {
    state.images.set(image.digest, imageObject(image));
    state.blobs.add(image.digest);
    for (const blob of [...image.layers, ...(image.config ? [image.config] : [])])
      state.blobs.add(blob.digest);
  }
  for (const stream of snapshot.streams) {
    const repo = `${stream.namespace}/${stream.name}`;
    state.streams.set(repo, {
      metadata: {
        name: stream.name,
        namespace: stream.namespace,
        uid: stream.uid,
        resourceVersion: '1',
        creationTimestamp: stream.created,
      },
      spec: {},
      status: {
        tags: stream.tags.map((t) => ({ tag: t.tag, items: t.items.map((i) => ({ ...i, generation: 1 })) })),
      },
    });
    const manifests = new Set<string>();
    const layers = new Set<string>();
    const pending = stream.tags.flatMap((t) => t.items.map((i) => i.image));
    for (let d = pending.pop(); d !== undefined; d = pending.pop()) {
      if (manifests.has(d)) continue;
      manifests.add(d);
      const image = byDigest.get(d);
      if (image === undefined) continue;
      for (const blob of [...image.layers, ...(image.config ? [image.config] : [])]) layers.add(blob.digest);
      pending.push(...image.manifests);
    }
    state.manifestLinks.set(repo, manifests);
    state.layerLinks.set(repo, layers);
  }
  return state;
}

const conflict = (): RegistryPushError => new RegistryPushError('CONFLICT', 'conflict', { retryable: true });

export function memoryCluster(state: MemoryState): PruneCluster {
  return {
    getImageStream: (namespace, name) => Promise.resolve(clone(state.streams.get(`${namespace}/${name}`))),
    replaceImageStreamStatus: (stream) => {
      const repo = `${stream.metadata.namespace ?? ''}/${stream.metadata.name}`;
      const current = state.streams.get(repo);
      if (current === undefined) return Promise.reject(new RegistryPushError('NOT_FOUND', 'gone'));
      if (current.metadata.resourceVersion !== stream.metadata.resourceVersion)
        return Promise.reject(conflict());
      for (const tag of stream.status?.tags ?? []) {
        for (const item of tag.items ?? []) {
          if (item.dockerImageReference === '')
            return Promise.reject(new RegistryPushError('INVALID', 'invalid'));
        }
      }
      const next: ImageStreamObject = {
        ...clone(current),
        status: {
          ...clone(stream.status),
          tags: (stream.status?.tags ?? []).filter((t) => (t.items ?? []).length > 0),
        },
      };
      next.metadata.resourceVersion = String(++state.revision);
      state.streams.set(repo, next);
      return Promise.resolve(clone(next));
    },
    getImage: (digest) => Promise.resolve(clone(state.images.get(digest))),
    deleteImage: (digest) => Promise.resolve(state.images.delete(digest) ? 'deleted' : 'absent'),
    listImages: () => Promise.resolve([...state.images.values()].map(clone)),
    listImageStreams: () => Promise.resolve([...state.streams.values()].map(clone)),
  };
}

export function memoryRegistry(state: MemoryState): PruneRegistry & { calls: number } {
  const registry = {
    calls: 0,
    deleteManifest(repository: string, digest: string): Promise<RegistryDeleteOutcome> {
      registry.calls++;
      const stream = state.streams.get(repository);
      const referenced = (stream?.status?.tags ?? []).some((t) =>
        (t.items ?? []).some((i) => i.image === digest),
      );
      if (referenced)
        return Promise.reject(new RegistryPushError('REGISTRY_UNSUPPORTED', '405: still referenced'));
      return Promise.resolve(
        state.manifestLinks.get(repository)?.delete(digest) === true ? 'deleted' : 'absent',
      );
    },
    deleteLayerLink(repository: string, digest: string): Promise<RegistryDeleteOutcome> {
      registry.calls++;
      return Promise.resolve(
        state.layerLinks.get(repository)?.delete(digest) === true ? 'deleted' : 'absent',
      );
    },
    deleteBlob(digest: string): Promise<RegistryDeleteOutcome> {
      registry.calls++;
      return Promise.resolve(state.blobs.delete(digest) ? 'deleted' : 'absent');
    },
  };
  return registry;
}

/** A comparable picture of the state (for "twice equals once"). */
export function picture(state: MemoryState): unknown {
  const sets = (map: Map<string, Set<string>>) =>
    [...map.entries()].map(([k, v]) => [k, [...v].sort()]).sort();
  return {
    images: [...state.images.keys()].sort(),
    streams: [...state.streams.entries()].map(([k, v]) => [k, v.status?.tags ?? []]).sort(),
    manifestLinks: sets(state.manifestLinks),
    layerLinks: sets(state.layerLinks),
    blobs: [...state.blobs].sort(),
  };
}
