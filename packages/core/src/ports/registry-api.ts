/**
 * The registry port: the OCI distribution API as push and prune use it, one registry host per value. The
 * real implementation is `RegistryClient` (HTTP with the registry's token flow, retries, digest checks);
 * `MemoryRegistry` in `@registry-push/testkit` is the in-memory one, and the testkit's
 * `registryApiContract` holds both (and the distribution registry, and the simulator's OpenShift registry)
 * to the same behaviour.
 */
import type { Readable } from 'node:stream';
import type { Descriptor } from '../registry/media-types.js';

/** Where a blob's bytes come from: opened afresh for every attempt, so a retry restarts cleanly. */
export interface BlobSource {
  /** A new stream over the whole blob. */
  open(): Readable;
  /** Where it is, for messages (a file path, an archive member). */
  label: string;
}

/** Bytes of one blob sent so far. */
export interface BlobProgress {
  digest: string;
  sent: number;
  total: number;
}

/** How a blob got into the repository. */
export type BlobOutcome = 'exists' | 'mounted' | 'uploaded';

/** A manifest as stored. */
export interface FetchedManifest {
  mediaType: string;
  digest: string;
  bytes: Buffer;
}

/** The outcome of a delete: gone now, or was not there. */
export type DeleteOutcome = 'deleted' | 'absent';

/** Options of {@link RegistryApi.pushBlob}. */
export interface PushBlobOptions {
  /** Repositories of the same registry to mount the blob from before uploading it. */
  mountFrom?: readonly string[];
  onProgress?: (progress: BlobProgress) => void;
  signal?: AbortSignal;
}

/**
 * One registry, as push, pull, copy and prune use it. Every failure rejects with an error whose `code` names it:
 * `TOKEN_REJECTED` (credentials refused), `REGISTRY_DENIED` (403), `REGISTRY_UNSUPPORTED` (405: a delete
 * the registry does not allow, e.g. the OpenShift registry's manifest delete while an ImageStream still
 * references it), `BLOB_DIGEST_MISMATCH`, `REGISTRY_*` for the rest. A 404 on a read or delete is an
 * answer (`undefined`, `'absent'`), not an error.
 */
export interface RegistryApi {
  /** `host[:port]` of the registry. */
  readonly host: string;
  /** `GET /v2/` with the credentials: proves the registry accepts them. */
  checkLogin(signal?: AbortSignal): Promise<void>;
  /** Size of a blob in the repository, or undefined when it is not there. */
  blobSize(repository: string, digest: string, signal?: AbortSignal): Promise<number | undefined>;
  /**
   * Stream a blob out of the repository; the caller reads it to the end or destroys it. A blob the
   * repository does not have rejects with `REGISTRY_BLOB_UNKNOWN`. The bytes are not verified here: a
   * reader that needs them whole checks the digest as it reads (pull and copy do).
   */
  getBlob(repository: string, digest: string, signal?: AbortSignal): Promise<Readable>;
  /** Make sure a blob is in the repository: present, mounted from `mountFrom`, or uploaded (verified). */
  pushBlob(
    repository: string,
    descriptor: Pick<Descriptor, 'digest' | 'size'>,
    source: BlobSource,
    options?: PushBlobOptions,
  ): Promise<BlobOutcome>;
  /** Cross-repository mount; true when the registry linked the blob without an upload. */
  mountBlob(repository: string, digest: string, from: string, signal?: AbortSignal): Promise<boolean>;
  /** A manifest or index by tag or digest; undefined when absent. */
  getManifest(
    repository: string,
    reference: string,
    signal?: AbortSignal,
  ): Promise<FetchedManifest | undefined>;
  /** The digest a tag or digest resolves to, or undefined when absent. */
  headManifest(
    repository: string,
    reference: string,
    signal?: AbortSignal,
  ): Promise<{ digest: string; mediaType: string; size: number } | undefined>;
  /** Store a manifest under a tag or its digest; returns the digest the registry confirmed. */
  putManifest(
    repository: string,
    reference: string,
    mediaType: string,
    bytes: Buffer,
    signal?: AbortSignal,
  ): Promise<string>;
  /** Delete a manifest by digest. */
  deleteManifest(repository: string, digest: string, signal?: AbortSignal): Promise<DeleteOutcome>;
  /** Delete a blob from a repository (on OpenShift: the repository's layer link only). */
  deleteBlob(repository: string, digest: string, signal?: AbortSignal): Promise<DeleteOutcome>;
  /** OpenShift's `DELETE /admin/blobs/<digest>`: the blob's data out of storage. */
  deleteStoredBlob(digest: string, signal?: AbortSignal): Promise<DeleteOutcome>;
  /** All tags of a repository (empty when it does not exist). */
  listTags(repository: string, options?: { pageSize?: number; signal?: AbortSignal }): Promise<string[]>;
  /** Releases connections. */
  close(): Promise<void>;
}
