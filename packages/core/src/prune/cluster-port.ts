/**
 * The API side of executing a plan, as a port: the reads and writes the executor makes. `pruneClusterOf`
 * adapts a {@link ClusterApi}; the property tests drive the executor through an in-memory cluster.
 */
import type { ClusterApi, JsonPatchOperation } from '../ports/cluster-api.js';
import { Resources } from '../cluster/resources.js';
import type { ImageObject, ImageStreamObject } from './image-objects.js';

/** What the executor needs from the cluster. Errors are `RegistryPushError`s (`CONFLICT` on a stale write). */
export interface PruneCluster {
  /** The stream, or undefined when it does not exist. */
  getImageStream(namespace: string, name: string): Promise<ImageStreamObject | undefined>;
  /** PUT of the `status` subresource; the body's `resourceVersion` must be current (CONFLICT otherwise). */
  replaceImageStreamStatus(stream: ImageStreamObject): Promise<ImageStreamObject>;
  /**
   * An RFC 6902 JSON patch of the stream's `status` (all or nothing; a failed `test` rejects it). Optional:
   * without it the executor always reads the stream and replaces its status.
   */
  patchImageStreamStatus?(
    namespace: string,
    name: string,
    operations: readonly JsonPatchOperation[],
  ): Promise<ImageStreamObject>;
  /** The Image, or undefined when it does not exist. */
  getImage(digest: string): Promise<ImageObject | undefined>;
  deleteImage(digest: string): Promise<'deleted' | 'absent'>;
  /** Every Image (paged). */
  listImages(): Promise<ImageObject[]>;
  /** Every ImageStream in all namespaces (paged). */
  listImageStreams(): Promise<ImageStreamObject[]>;
}

/**
 * The executor's view of a cluster through a {@link ClusterApi}.
 *
 * @param client The client, with the `system:image-pruner` role or more.
 * @param pageSize Items per page of the lists. Default 500.
 * @returns The port.
 */
export function pruneClusterOf(client: ClusterApi, pageSize = 500): PruneCluster {
  return {
    getImageStream: (namespace, name) =>
      client.find<ImageStreamObject>(Resources.imageStream, name, namespace),
    replaceImageStreamStatus: (stream) => client.replaceStatus(Resources.imageStream, stream),
    ...(client.patchStatus === undefined
      ? {}
      : {
          patchImageStreamStatus: (
            namespace: string,
            name: string,
            operations: readonly JsonPatchOperation[],
          ) => client.patchStatus!<ImageStreamObject>(Resources.imageStream, name, operations, namespace),
        }),
    getImage: (digest) => client.find<ImageObject>(Resources.image, digest),
    deleteImage: async (digest) => ((await client.delete(Resources.image, digest)) ? 'deleted' : 'absent'),
    listImages: () => client.list<ImageObject>(Resources.image, { pageSize }),
    listImageStreams: () => client.list<ImageStreamObject>(Resources.imageStream, { pageSize }),
  };
}
