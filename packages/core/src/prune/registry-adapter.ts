import { RegistryClient, type RegistryClientOptions } from '../registry/client.js';
import type { RegistryApi } from '../ports/registry-api.js';
import type { PruneRegistry } from './registry-port.js';

/** A {@link PruneRegistry} on the OCI registry client, and the pool to close when done. */
export interface ClientPruneRegistry extends PruneRegistry {
  close(): Promise<void>;
}

/**
 * The prune engine's registry port on the project's registry client. The client's own retries are off: the
 * engine retries each delete itself, with a fresh re-check in between, and counts the attempts.
 * Authenticate as a user allowed to `delete images` (system:image-pruner), typically with
 * `credentials: {kind: 'bearer', token}` as `oc adm prune images` does.
 */
export function createPruneRegistry(options: Omit<RegistryClientOptions, 'retry'>): ClientPruneRegistry {
  return pruneRegistryOf(new RegistryClient({ ...options, retry: { retries: 0 } }));
}

/**
 * The prune engine's registry port on any {@link RegistryApi} (the engine retries each delete itself, so
 * the implementation should not).
 *
 * @param client The registry, authenticated as a user allowed to `delete images`.
 * @returns The port; `close` closes the client.
 */
export function pruneRegistryOf(client: RegistryApi): ClientPruneRegistry {
  return {
    deleteManifest: (repository, digest) => client.deleteManifest(repository, digest),
    deleteLayerLink: (repository, digest) => client.deleteBlob(repository, digest),
    deleteBlob: (digest) => client.deleteStoredBlob(digest),
    restoreLayerLink: (repository, digest, from) => client.mountBlob(repository, digest, from),
    close: () => client.close(),
  };
}
