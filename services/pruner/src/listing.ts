/**
 * Work-around for a paging bug in the core's `ClusterClient.list`: it follows the continue token as
 * `metadata._continue`, the name client-node gives it only when it deserialises a list into a known model
 * (core kinds such as pods). Lists of OpenShift kinds (images, imagestreams, builds, DCs, ...) come back as
 * plain JSON with `metadata.continue`, so the client stops after the first page and returns it as if it
 * were everything. For a pruner that is data loss: Images missing from the snapshot make their history
 * items look dangling, and a short list in an image unit's re-check makes shared blobs look unused.
 *
 * Until the core reads both names, every list the service makes asks for everything in one page, and a
 * list that comes back exactly that long is refused instead of trusted.
 */
import {
  RegistryPushError,
  type ClusterClient,
  type ListOptions,
  type ResourceType,
} from '@registry-push/core';

/** Items asked for per list: every list in one page. */
export const UNPAGED_LIST_SIZE = 1_000_000;

/** The client with every `list` in one page, refusing a list that may have been cut short. */
export function unpagedClient(client: ClusterClient): ClusterClient {
  const list = async (type: ResourceType, options: ListOptions = {}): Promise<unknown[]> => {
    const items = await client.list(type, { ...options, pageSize: UNPAGED_LIST_SIZE });
    if (items.length >= UNPAGED_LIST_SIZE) {
      throw new RegistryPushError(
        'PRUNE_SNAPSHOT_INCOMPLETE',
        `The list of ${type.plural} may be incomplete (${items.length} items in one page); nothing was changed.`,
        {
          hint: 'Update to a core whose list follows continue tokens of every kind.',
          details: { resource: type.plural },
        },
      );
    }
    return items;
  };
  return new Proxy(client, {
    get(target, property, receiver): unknown {
      if (property === 'list') return list;
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
