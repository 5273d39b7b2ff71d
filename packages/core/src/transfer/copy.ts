import type { Readable } from 'node:stream';
import { RegistryPushError } from '../errors.js';
import type { BlobSource, RegistryApi } from '../ports/registry-api.js';
import { VerifyingStream } from '../registry/digest.js';
import { formatReference, validateTag } from '../registry/reference.js';
import { boundedAll } from '../push/push.js';
import { transferClient, type RegistryFactory } from './clients.js';
import type { TransferConnection, TransferCounts, TransferEvent } from './events.js';
import { imageBytes, readRemoteImage } from './image-walk.js';
import { parseRegistryReference } from './references.js';

/** Options of {@link copyImage}. */
export interface CopyOptions {
  /** `docker://HOST/REPOSITORY[:TAG][@DIGEST]` (or without `docker://`). */
  source: string;
  /** `docker://HOST/REPOSITORY[:TAG]`; the tag defaults to the source's (none for a source by digest). */
  destination: string;
  /** How to reach and authenticate to the source registry. */
  sourceConnection?: TransferConnection;
  /** How to reach and authenticate to the destination registry. */
  destinationConnection?: TransferConnection;
  /** The registry port for each side (default the OCI client); both are closed when the copy ends. */
  registry?: RegistryFactory;
  /** Blobs in flight at once (default 4). */
  concurrency?: number;
  onEvent?: (event: TransferEvent) => void;
  signal?: AbortSignal;
}

/** The outcome of {@link copyImage}. */
export interface CopyResult {
  /** `host/repository[:tag][@digest]` as read. */
  source: string;
  /** `host/repository` written. */
  destination: string;
  /** The tag written (absent when a digest was copied without one). */
  tag?: string;
  /** `host/repository:tag` or `host/repository@digest` of what was written. */
  reference: string;
  /** The digest of the manifest or index, the same in both registries. */
  digest: string;
  mediaType: string;
  manifests: number;
  blobs: TransferCounts;
  /** Whether the destination is the source's registry, so blobs were mounted rather than uploaded. */
  sameRegistry: boolean;
  durationMs: number;
}

/**
 * A blob of the source registry as an upload's source: each `open()` (one per upload attempt) starts a
 * new GET and passes its body on through a digest and size check, so the bytes go from one registry to
 * the other without a file and with no more in memory than the streams' buffers. Content that does not
 * match its digest fails the upload before its last byte, so the destination never commits it.
 */
function remoteBlob(
  client: RegistryApi,
  repository: string,
  blob: { digest: string; size: number },
  label: string,
  signal: AbortSignal | undefined,
): BlobSource {
  return {
    label,
    open: (): Readable => {
      const verifier = new VerifyingStream(blob.digest, blob.size, label);
      client.getBlob(repository, blob.digest, signal).then(
        (body) => {
          if (verifier.destroyed) {
            body.destroy();
            return;
          }
          body.on('error', (error) => verifier.destroy(error));
          // An upload that ends early (refused, reset, aborted) ends the download too.
          verifier.on('close', () => body.destroy());
          body.pipe(verifier);
        },
        (error: unknown) => verifier.destroy(error instanceof Error ? error : new Error(String(error))),
      );
      return verifier;
    },
  };
}

/**
 * Copy an image from one registry to another (or within one), as `skopeo copy docker:// docker://` does:
 * every blob streams from the source's GET into the destination's upload (no local copy, bounded
 * memory), blobs the destination has are skipped, and within one registry they are mounted from the
 * source repository (`?mount=&from=`) instead of uploaded. Manifests — an index's children first, then
 * the root — are put by digest and then the tag, byte for byte, so every digest stays the same.
 *
 * @throws SOURCE_NOT_FOUND when the source tag or digest is not there, BLOB_CORRUPT when the source sends
 *   bytes that do not match, TRANSPORT_UNSUPPORTED for a reference that is not a registry's, and the
 *   registries' errors (REGISTRY_DENIED, TOKEN_REJECTED, ...).
 */
export async function copyImage(options: CopyOptions): Promise<CopyResult> {
  const started = Date.now();
  const from = parseRegistryReference(options.source, 'source');
  const to = parseRegistryReference(options.destination, 'destination');
  if (to.digest !== undefined) {
    throw new RegistryPushError(
      'REFERENCE_INVALID',
      `The destination ${options.destination} names a digest; copy to a tag (the digest stays the source's).`,
    );
  }
  const tag = to.tag ?? from.tag ?? (from.digest === undefined ? 'latest' : undefined);
  if (tag !== undefined) validateTag(tag);
  const sameRegistry = from.host === to.host;
  const source = formatReference(from);
  const destination = `${to.host}/${to.repository}`;
  const emit = options.onEvent;
  const reader = transferClient(from.host, options.sourceConnection, options.registry, emit);
  const writer = transferClient(to.host, options.destinationConnection, options.registry, emit);
  const counts: TransferCounts = { transferred: 0, existing: 0, mounted: 0, bytes: 0 };
  try {
    const image = await readRemoteImage(reader, from, options.signal);
    emit?.({
      kind: 'loaded',
      description: source,
      blobs: image.blobs.size,
      bytes: imageBytes(image),
      manifests: image.children.length + 1,
    });
    const mountFrom = sameRegistry && from.repository !== to.repository ? [from.repository] : [];
    const blobs = [...image.blobs.values()].sort((a, b) => b.size - a.size);
    await boundedAll(blobs, options.concurrency ?? 4, async (blob) => {
      emit?.({ kind: 'blob-start', digest: blob.digest, size: blob.size });
      const outcome = await writer.pushBlob(
        to.repository,
        blob,
        remoteBlob(reader, from.repository, blob, source, options.signal),
        {
          mountFrom,
          ...(emit === undefined
            ? {}
            : { onProgress: (progress) => emit({ kind: 'blob-progress', ...progress }) }),
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        },
      );
      if (outcome === 'uploaded') {
        counts.transferred++;
        counts.bytes += blob.size;
      } else if (outcome === 'mounted') counts.mounted++;
      else counts.existing++;
      emit?.({ kind: 'blob-done', digest: blob.digest, size: blob.size, outcome });
    });
    // By digest first, so the tag is the last write and never points at something incomplete.
    for (const manifest of [...image.children, image.root]) {
      await writer.putManifest(
        to.repository,
        manifest.digest,
        manifest.mediaType,
        manifest.bytes,
        options.signal,
      );
    }
    const { root } = image;
    let reference = `${destination}@${root.digest}`;
    if (tag !== undefined) {
      await writer.putManifest(to.repository, tag, root.mediaType, root.bytes, options.signal);
      reference = `${destination}:${tag}`;
    }
    emit?.({ kind: 'manifest', reference, digest: root.digest });
    return {
      source,
      destination,
      ...(tag === undefined ? {} : { tag }),
      reference,
      digest: root.digest,
      mediaType: root.mediaType,
      manifests: image.children.length + 1,
      blobs: counts,
      sameRegistry,
      durationMs: Date.now() - started,
    };
  } finally {
    await Promise.all([reader.close(), writer.close()]);
  }
}
