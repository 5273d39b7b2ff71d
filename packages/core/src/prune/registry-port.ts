/**
 * The registry side of pruning, as a port: the three deletions the integrated registry offers for it. The
 * engine never speaks HTTP itself; the OCI registry client implements this interface (and tests use a small
 * adapter over the simulator's registry front).
 */

/** What a delete found: it removed something, or there was nothing to remove (HTTP 404). */
export type RegistryDeleteOutcome = 'deleted' | 'absent';

/**
 * Deletions against the OpenShift integrated registry, authenticated as a user allowed to `delete images`
 * (the `system:image-pruner` role).
 *
 * Contract for implementations:
 * - a 2xx answer (202 or 204) resolves `'deleted'`; 404 (`BLOB_UNKNOWN`, `MANIFEST_UNKNOWN`, `NAME_UNKNOWN`)
 *   resolves `'absent'`;
 * - every other answer rejects with a `RegistryPushError` with a `REGISTRY_*` code, `retryable: true` for
 *   429, 5xx and network trouble (the engine retries those with backoff) and `false` otherwise (401, 403,
 *   405 `UNSUPPORTED`, which the registry answers while a stream still references a manifest or when it is
 *   read-only);
 * - no method follows redirects to storage or retries on its own.
 */
export interface PruneRegistry {
  /**
   * `DELETE /v2/<repository>/manifests/<digest>`: removes the repository's link to a manifest.
   *
   * @param repository `namespace/name`.
   * @param digest The manifest digest.
   */
  deleteManifest(repository: string, digest: string): Promise<RegistryDeleteOutcome>;
  /**
   * `DELETE /v2/<repository>/blobs/<digest>`: removes the repository's link to a layer or config blob; the
   * blob data stays.
   *
   * @param repository `namespace/name`.
   * @param digest The blob digest.
   */
  deleteLayerLink(repository: string, digest: string): Promise<RegistryDeleteOutcome>;
  /**
   * `DELETE /admin/blobs/<digest>`: removes the blob data from storage (and from the serving replica's
   * digest cache). The OpenShift registry answers 204 whether or not the blob existed, so `'deleted'` here
   * means "gone now"; the engine reports a blob of an Image that was already gone as `'absent'`.
   *
   * @param digest The blob digest (layer, config or manifest).
   */
  deleteBlob(digest: string): Promise<RegistryDeleteOutcome>;
  /**
   * `POST /v2/<repository>/blobs/uploads/?mount=<digest>&from=<from>`: puts a removed layer link back by
   * mounting the blob from a repository that can serve it (needs push rights on `repository` and pull on
   * `from`). Resolves true when the registry linked it (201), false when it offered an upload instead
   * (which the implementation cancels). Optional: without it, links are not restored.
   */
  restoreLayerLink?(repository: string, digest: string, from: string): Promise<boolean>;
}
