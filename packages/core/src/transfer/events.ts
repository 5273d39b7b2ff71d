import type { BlobOutcome } from '../ports/registry-api.js';
import type { RegistryClientOptions } from '../registry/client.js';

/** How a blob got to the destination: as push reports it, or `written` into a layout by a pull. */
export type TransferOutcome = BlobOutcome | 'written';

/** What a pull or copy reports while it runs (the same shape as a push's events). */
export type TransferEvent =
  | { kind: 'loaded'; description: string; blobs: number; bytes: number; manifests: number }
  | { kind: 'blob-start'; digest: string; size: number }
  | { kind: 'blob-progress'; digest: string; sent: number; total: number }
  | { kind: 'blob-done'; digest: string; size: number; outcome: TransferOutcome }
  | { kind: 'manifest'; reference: string; digest: string }
  | { kind: 'retry'; action: string; attempt: number; delayMs: number; reason: string };

/** How to reach and authenticate to one registry of a pull or copy (`host` comes from the reference). */
export type TransferConnection = Omit<RegistryClientOptions, 'host'>;

/** Blob counts of a pull or copy. */
export interface TransferCounts {
  /** Blobs whose bytes were moved (downloaded into the layout, or streamed into the destination). */
  transferred: number;
  /** Blobs the destination had already. */
  existing: number;
  /** Blobs the destination registry linked from the source repository without an upload (copy). */
  mounted: number;
  /** Bytes moved. */
  bytes: number;
}
