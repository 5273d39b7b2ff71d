import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { RegistryPushError, isRegistryPushError } from '../errors.js';
import type { RegistryApi } from '../ports/registry-api.js';
import { formatReference } from '../registry/reference.js';
import { systemErrorCode } from '../system-errors.js';
import { boundedAll } from '../push/push.js';
import { transferClient, type RegistryFactory } from './clients.js';
import type { TransferConnection, TransferCounts, TransferEvent } from './events.js';
import { imageBytes, readRemoteImage } from './image-walk.js';
import { LayoutJournal, addToIndex, openLayout, writeLayoutBlob, type Layout } from './oci-layout.js';
import { parseLayoutReference, parseRegistryReference } from './references.js';

/** Options of {@link pullImage}. */
export interface PullOptions {
  /** The image to pull: `docker://HOST/REPOSITORY[:TAG][@DIGEST]`, or the same without `docker://`. */
  source: string;
  /** `oci:DIR[:REF]`: the layout to write (created, or added to); REF defaults to the source's tag. */
  destination: string;
  /** How to reach and authenticate to the source registry (`host` is taken from the reference). */
  connection?: TransferConnection;
  /** The registry port to read through (default the OCI client); closed when the pull ends. */
  registry?: RegistryFactory;
  /** Blob downloads in flight at once (default 4). */
  concurrency?: number;
  onEvent?: (event: TransferEvent) => void;
  signal?: AbortSignal;
}

/** The outcome of {@link pullImage}. */
export interface PullResult {
  /** `host/repository[:tag][@digest]` as read. */
  source: string;
  /** The layout directory, absolute. */
  layout: string;
  /** The ref name the image has in the layout's index (absent for a digest pulled without one). */
  ref?: string;
  /** The digest of the manifest or index written, the same as in the source registry. */
  digest: string;
  mediaType: string;
  /** Manifests written: the root and, for an index, every child. */
  manifests: number;
  blobs: TransferCounts;
  durationMs: number;
}

/** Downloads that fail on the network (a reset mid-body) are tried again this many times. */
const DOWNLOAD_ATTEMPTS = 3;

function transient(error: unknown): boolean {
  if (isRegistryPushError(error)) return error.retryable;
  const code = systemErrorCode(error);
  return code !== undefined && code !== 'ABORT_ERR';
}

/** The BLOB_CORRUPT of a download, worded for a pull (nothing was written under the digest). */
function corruptDownload(error: RegistryPushError, source: string): RegistryPushError {
  return new RegistryPushError(
    'BLOB_CORRUPT',
    `The blob ${String(error.details['digest'])} sent by ${source} does not match its digest or size; nothing was written for it.`,
    {
      hint: 'The source registry (or something between it and here) serves damaged content: check proxies, or push the image to the source again.',
      details: error.details,
    },
  );
}

/** Where a pull reads from and writes to. */
interface PullContext {
  client: RegistryApi;
  repository: string;
  layout: Layout;
  /** The source reference, for messages. */
  source: string;
  options: PullOptions;
}

async function download(
  context: PullContext,
  blob: { digest: string; size: number },
): Promise<'exists' | 'written'> {
  const { client, repository, layout, source, options } = context;
  const emit = options.onEvent;
  for (let attempt = 1; ; attempt++) {
    try {
      return await writeLayoutBlob(
        layout,
        blob,
        source,
        () => client.getBlob(repository, blob.digest, options.signal),
        emit === undefined
          ? undefined
          : (sent) => emit({ kind: 'blob-progress', digest: blob.digest, sent, total: blob.size }),
      );
    } catch (error) {
      if (isRegistryPushError(error, 'BLOB_CORRUPT')) throw corruptDownload(error, source);
      if (attempt >= DOWNLOAD_ATTEMPTS || !transient(error) || options.signal?.aborted === true) throw error;
      emit?.({
        kind: 'retry',
        action: `download ${blob.digest} from ${source}`,
        attempt,
        delayMs: 0,
        reason: error instanceof Error ? error.message : String(error),
      });
    }
  }
}

/**
 * Pull an image from a registry into an OCI image layout directory (`oci:DIR[:REF]`), as skopeo would:
 * `oci-layout`, `index.json` naming the image with `org.opencontainers.image.ref.name`, and every blob
 * under `blobs/sha256/`. Manifests and indexes (with all their children) are written byte for byte, so
 * every digest stays the registry's, docker schema 2 as well as OCI. Each blob is checked against its
 * digest and size while it is written to a temporary file, and renamed into place only when it matches;
 * the index is written last. A layout that exists gets the image added (a ref name it had moves to the
 * new image); a failed or interrupted pull removes what it wrote.
 *
 * @throws SOURCE_NOT_FOUND when the tag or digest is not in the registry, BLOB_CORRUPT when the bytes do
 *   not match, TRANSPORT_UNSUPPORTED for a destination other than `oci:`, and the registry's errors.
 */
export async function pullImage(options: PullOptions): Promise<PullResult> {
  const started = Date.now();
  const reference = parseRegistryReference(options.source, 'source');
  const target = parseLayoutReference(options.destination);
  const ref = target.ref ?? reference.tag ?? (reference.digest === undefined ? 'latest' : undefined);
  const source = formatReference(reference);
  const client = transferClient(reference.host, options.connection, options.registry, options.onEvent);
  const journal = new LayoutJournal();
  const counts: TransferCounts = { transferred: 0, existing: 0, mounted: 0, bytes: 0 };
  try {
    const image = await readRemoteImage(client, reference, options.signal);
    options.onEvent?.({
      kind: 'loaded',
      description: source,
      blobs: image.blobs.size,
      bytes: imageBytes(image),
      manifests: image.children.length + 1,
    });
    const layout = await openLayout(target.path, journal);
    // Largest first: the long downloads start at once and the small ones fill the gaps.
    const blobs = [...image.blobs.values()].sort((a, b) => b.size - a.size);
    await boundedAll(blobs, options.concurrency ?? 4, async (blob) => {
      options.onEvent?.({ kind: 'blob-start', digest: blob.digest, size: blob.size });
      const outcome = await download(
        { client, repository: reference.repository, layout, source, options },
        blob,
      );
      if (outcome === 'written') {
        counts.transferred++;
        counts.bytes += blob.size;
      } else counts.existing++;
      options.onEvent?.({ kind: 'blob-done', digest: blob.digest, size: blob.size, outcome });
    });
    // Manifests after their blobs, children before the index naming them, the index.json entry last.
    for (const manifest of [...image.children, image.root]) {
      await writeLayoutBlob(layout, { digest: manifest.digest, size: manifest.bytes.length }, source, () =>
        Promise.resolve(Readable.from([manifest.bytes])),
      );
    }
    await addToIndex(
      layout,
      { mediaType: image.root.mediaType, digest: image.root.digest, size: image.root.bytes.length },
      ref,
    );
    journal.commit();
    options.onEvent?.({
      kind: 'manifest',
      reference: `oci:${target.path}${ref === undefined ? '' : `:${ref}`}`,
      digest: image.root.digest,
    });
    return {
      source,
      layout: resolve(target.path),
      ...(ref === undefined ? {} : { ref }),
      digest: image.root.digest,
      mediaType: image.root.mediaType,
      manifests: image.children.length + 1,
      blobs: counts,
      durationMs: Date.now() - started,
    };
  } catch (error) {
    journal.undo();
    throw error;
  } finally {
    await client.close();
  }
}
