/**
 * The undo side of a confirmed prune: what the executor records right before it removes an object (the
 * Image whole, each tag-history item with its place), and {@link restoreRemoved}, which puts those objects
 * back while the registry still holds their data.
 */
import type { ClusterApi } from '../ports/cluster-api.js';
import { Resources } from '../cluster/resources.js';
import { isRegistryPushError, RegistryPushError } from '../errors.js';
import type { ImageObject, ImageStreamObject, TagEventObject } from './image-objects.js';
import type { ImageUnit, StreamUnit } from './types.js';

/** A tag-history item a run removed, and where it was. */
export interface RemovedHistoryItem {
  tag: string;
  /** Its index in the tag's history right before the removal (0 is the head). */
  position: number;
  /** The item, whole. */
  item: TagEventObject;
}

/** What a stream unit removed (recorded right before its status write) and what it leaves to the registry. */
export interface StreamRemovalRecord {
  type: 'stream';
  /** The unit; its links are the registry deletes a deferred registry phase carries out. */
  unit: StreamUnit;
  /** The items the write removes. */
  items: RemovedHistoryItem[];
  /** Each touched tag's history right before the write, head first, as `image@created` keys. */
  before: Record<string, string[]>;
}

/** What an image unit removed (recorded right before the Image's deletion) and the blobs it leaves. */
export interface ImageRemovalRecord {
  type: 'image';
  /** The unit; its blobs are the registry deletes a deferred registry phase carries out. */
  unit: ImageUnit;
  /** The Image as read right before its deletion; absent when it was gone already. */
  image?: ImageObject;
}

/** One entry of a run's undo record. */
export type RemovalRecord = StreamRemovalRecord | ImageRemovalRecord;

/** What {@link restoreRemoved} needs from the cluster. Errors are `RegistryPushError`s. */
export interface RestoreCluster {
  /** The stream, or undefined when it does not exist. */
  getImageStream(namespace: string, name: string): Promise<ImageStreamObject | undefined>;
  /** PUT of the `status` subresource; the body's `resourceVersion` must be current (CONFLICT otherwise). */
  replaceImageStreamStatus(stream: ImageStreamObject): Promise<ImageStreamObject>;
  /** Creates the Image; `exists` when an Image of that name is there already. */
  createImage(image: ImageObject): Promise<'created' | 'exists'>;
}

/**
 * The restore port through the cluster port (a `ClusterClient`, the in-memory cluster).
 *
 * @param client A client allowed to create Images and update `imagestreams/status`.
 * @returns The port.
 */
export function restoreClusterOf(client: ClusterApi): RestoreCluster {
  return {
    getImageStream: (namespace, name) =>
      client.find<ImageStreamObject>(Resources.imageStream, name, namespace),
    replaceImageStreamStatus: (stream) => client.replaceStatus(Resources.imageStream, stream),
    createImage: async (image) => {
      try {
        await client.create<ImageObject>(Resources.image, image);
        return 'created';
      } catch (error) {
        // AlreadyExists comes back as CONFLICT from create.
        if (isRegistryPushError(error, 'CONFLICT')) return 'exists';
        throw error;
      }
    },
  };
}

/** Which part of a record to restore; everything when empty. */
export interface RestoreSelection {
  /** One Image (`sha256:…`): the Image and every removed history item that points at it. */
  image?: string;
  /** One stream, or one tag of it: its removed history items and the Images they point at. */
  stream?: { namespace: string; name: string; tag?: string };
}

/** How one object fared: put back, found there already, or gone for good with the registry's data. */
export type RestoreOutcome = 'restored' | 'already-there' | 'too-late' | 'would-restore' | 'failed';

/** One restored (or not) object. */
export interface RestoreItemResult {
  kind: 'image' | 'tag-history';
  /** The Image digest, or `namespace/name:tag@digest` for a history item. */
  target: string;
  outcome: RestoreOutcome;
  /** For a history item: its index in the tag's history after the restore. */
  position?: number;
  error?: { code: string; message: string };
}

/** What {@link restoreRemoved} did. */
export interface RestoreReport {
  items: RestoreItemResult[];
  /** Count per outcome. */
  counts: Partial<Record<RestoreOutcome, number>>;
}

/** Options of {@link restoreRemoved}. */
export interface RestoreOptions {
  cluster: RestoreCluster;
  /** Report what would be restored without any write. */
  dryRun?: boolean;
  /** The registry side of the run is deleted (or being deleted): every selected object is `too-late`. */
  tooLate?: boolean;
  selection?: RestoreSelection;
  /** Tries of a stream status write that meets 409 Conflict, each after a fresh read. Default 5. */
  conflictAttempts?: number;
  /** Awaited once the Images are back, before the first history write (a checkpoint for logs and tests). */
  beforeHistory?: () => Promise<void>;
}

const keyOf = (item: { image: string; created: string }): string => `${item.image}@${item.created}`;

/** The Image as it can be created again: without the fields the server sets. */
function creatable(image: ImageObject): ImageObject {
  const { metadata } = image;
  const kept: ImageObject['metadata'] = { name: metadata.name };
  if (metadata.labels !== undefined) kept.labels = metadata.labels;
  if (metadata.annotations !== undefined) kept.annotations = metadata.annotations;
  return { ...image, metadata: kept };
}

function errorOf(error: unknown): { code: string; message: string } {
  if (error instanceof RegistryPushError) return { code: error.code, message: error.message };
  return { code: 'UNEXPECTED', message: error instanceof Error ? error.message : String(error) };
}

/** The removed items of one stream, merged over its records (a unit run again records again). */
interface StreamRestore {
  namespace: string;
  name: string;
  /** tag → removed items, deduplicated. */
  items: Map<string, RemovedHistoryItem[]>;
  /** tag → history before the removal (the longest recorded). */
  before: Map<string, string[]>;
}

function selectedItem(selection: RestoreSelection, unit: StreamUnit, removed: RemovedHistoryItem): boolean {
  if (selection.image !== undefined && removed.item.image !== selection.image) return false;
  const stream = selection.stream;
  if (stream === undefined) return true;
  return (
    stream.namespace === unit.namespace &&
    stream.name === unit.name &&
    (stream.tag === undefined || stream.tag === removed.tag)
  );
}

/** Pass one: the selected history items by stream, and the Images they point at. */
async function collectStreams(
  records: () => AsyncIterable<RemovalRecord>,
  selection: RestoreSelection,
): Promise<{ streams: Map<string, StreamRestore>; images: Set<string> }> {
  const streams = new Map<string, StreamRestore>();
  const images = new Set<string>();
  for await (const record of records()) {
    if (record.type !== 'stream') continue;
    const { unit } = record;
    const id = `${unit.namespace}/${unit.name}`;
    let entry = streams.get(id);
    for (const removed of record.items) {
      if (!selectedItem(selection, unit, removed)) continue;
      if (entry === undefined) {
        entry = { namespace: unit.namespace, name: unit.name, items: new Map(), before: new Map() };
        streams.set(id, entry);
      }
      const list = entry.items.get(removed.tag) ?? [];
      if (!list.some((known) => keyOf(known.item) === keyOf(removed.item))) list.push(removed);
      entry.items.set(removed.tag, list);
      const before = record.before[removed.tag] ?? [];
      if (before.length > (entry.before.get(removed.tag)?.length ?? -1))
        entry.before.set(removed.tag, before);
      images.add(removed.item.image);
    }
  }
  return { streams, images };
}

/**
 * The tag's history with the removed items back: items pushed since the removal stay in front (a tag that
 * moved on keeps its new head), the rest, old and restored, in their order from before the removal.
 */
function merged(
  current: readonly TagEventObject[],
  restored: readonly RemovedHistoryItem[],
  before: readonly string[],
): TagEventObject[] {
  const order = new Map(before.map((key, index) => [key, index]));
  for (const removed of restored) {
    if (!order.has(keyOf(removed.item))) order.set(keyOf(removed.item), removed.position);
  }
  const newer = current.filter((item) => !order.has(keyOf(item)));
  const rest = [...current.filter((item) => order.has(keyOf(item))), ...restored.map((r) => r.item)];
  rest.sort((a, b) => (order.get(keyOf(a)) ?? 0) - (order.get(keyOf(b)) ?? 0));
  return [...newer, ...rest];
}

/** Every removed item of a stream with one outcome (and error). */
function reportAll(
  entry: StreamRestore,
  outcome: RestoreOutcome,
  report: (result: RestoreItemResult) => void,
  error?: { code: string; message: string },
): void {
  for (const [tag, items] of entry.items) {
    for (const r of items) {
      const target = `${entry.namespace}/${entry.name}:${tag}@${r.item.image}`;
      report({ kind: 'tag-history', target, outcome, ...(error !== undefined ? { error } : {}) });
    }
  }
}

/** The stream's tags with the missing items merged in, and what that means per item. */
function mergeTags(
  stream: ImageStreamObject,
  entry: StreamRestore,
  dryRun: boolean,
): {
  tags: NonNullable<NonNullable<ImageStreamObject['status']>['tags']>;
  changed: boolean;
  results: RestoreItemResult[];
} {
  const tags = [...(stream.status?.tags ?? [])];
  const results: RestoreItemResult[] = [];
  let changed = false;
  for (const [tag, items] of entry.items) {
    const at = tags.findIndex((t) => t.tag === tag);
    const current = at >= 0 ? (tags[at]!.items ?? []) : [];
    const present = new Set(current.map((item) => item.image));
    const missing = items.filter((r) => !present.has(r.item.image));
    const next = merged(current, missing, entry.before.get(tag) ?? []);
    for (const r of items) {
      results.push({
        kind: 'tag-history',
        target: `${entry.namespace}/${entry.name}:${tag}@${r.item.image}`,
        outcome: present.has(r.item.image) ? 'already-there' : dryRun ? 'would-restore' : 'restored',
        position: next.findIndex((item) => item.image === r.item.image),
      });
    }
    if (missing.length === 0) continue;
    changed = true;
    if (at >= 0) tags[at] = { ...tags[at]!, items: next };
    else tags.push({ tag, items: next });
  }
  return { tags, changed, results };
}

/** One stream's removed items back, in one status write (again after a fresh read on conflict). */
async function restoreStream(
  entry: StreamRestore,
  options: RestoreOptions,
  report: (result: RestoreItemResult) => void,
): Promise<void> {
  const tries = options.conflictAttempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    try {
      const stream = await options.cluster.getImageStream(entry.namespace, entry.name);
      if (stream === undefined) {
        const message = `The imagestream ${entry.namespace}/${entry.name} does not exist any more.`;
        reportAll(entry, 'failed', report, { code: 'NOT_FOUND', message });
        return;
      }
      const { tags, changed, results } = mergeTags(stream, entry, options.dryRun === true);
      if (changed && options.dryRun !== true) {
        await options.cluster.replaceImageStreamStatus({ ...stream, status: { ...stream.status, tags } });
      }
      for (const result of results) report(result);
      return;
    } catch (error) {
      if (isRegistryPushError(error, 'CONFLICT') && attempt < tries) continue;
      reportAll(entry, 'failed', report, errorOf(error));
      return;
    }
  }
}

async function restoreImage(
  image: ImageObject,
  options: RestoreOptions,
  report: (result: RestoreItemResult) => void,
): Promise<void> {
  const target = image.metadata.name;
  if (options.dryRun === true) {
    report({ kind: 'image', target, outcome: 'would-restore' });
    return;
  }
  try {
    const outcome = await options.cluster.createImage(creatable(image));
    report({ kind: 'image', target, outcome: outcome === 'created' ? 'restored' : 'already-there' });
  } catch (error) {
    report({ kind: 'image', target, outcome: 'failed', error: errorOf(error) });
  }
}

/**
 * Puts back what a confirmed prune removed, from the run's undo record: first the Images (created again
 * whole, as they were read before their deletion), then the tag-history items, each tag through one write
 * of the stream's `status` subresource. An item goes back to its place among the items that were there
 * before the prune; items pushed since stay in front, so a tag that moved on keeps its new head. Safe to
 * run again: an Image or item that is there already is reported `already-there`. With `tooLate` (the
 * registry side of the run is deleted) nothing is written and every selected object is `too-late`.
 *
 * @param records Reads the run's record from its start; called twice (streams, then Images).
 * @param options The cluster, the selection, dry run.
 * @returns Per object what happened, and counts per outcome.
 */
export async function restoreRemoved(
  records: () => AsyncIterable<RemovalRecord>,
  options: RestoreOptions,
): Promise<RestoreReport> {
  const selection = options.selection ?? {};
  const items: RestoreItemResult[] = [];
  const report = (result: RestoreItemResult): void => {
    items.push(result);
  };
  const { streams, images } = await collectStreams(records, selection);
  const wanted = (digest: string): boolean =>
    selection.image !== undefined
      ? digest === selection.image
      : selection.stream !== undefined
        ? images.has(digest)
        : true;
  await restoreImages(records, wanted, options, report);
  if (options.tooLate !== true && options.dryRun !== true) await options.beforeHistory?.();
  for (const entry of streams.values()) {
    if (options.tooLate === true) reportAll(entry, 'too-late', report);
    else await restoreStream(entry, options, report);
  }
  const counts: RestoreReport['counts'] = {};
  for (const item of items) counts[item.outcome] = (counts[item.outcome] ?? 0) + 1;
  return { items, counts };
}

/** The selected Images back, a few at a time as they are read: a run's Images are never held at once. */
async function restoreImages(
  records: () => AsyncIterable<RemovalRecord>,
  wanted: (digest: string) => boolean,
  options: RestoreOptions,
  report: (result: RestoreItemResult) => void,
): Promise<void> {
  const seen = new Set<string>();
  const restoring: ImageObject[] = [];
  for await (const record of records()) {
    if (record.type !== 'image' || record.image === undefined) continue;
    const digest = record.unit.digest;
    if (seen.has(digest) || !wanted(digest)) continue;
    seen.add(digest);
    restoring.push(record.image);
    if (restoring.length >= 16) await flushImages(restoring.splice(0), options, report);
  }
  await flushImages(restoring, options, report);
}

async function flushImages(
  images: readonly ImageObject[],
  options: RestoreOptions,
  report: (result: RestoreItemResult) => void,
): Promise<void> {
  if (options.tooLate === true) {
    for (const image of images) report({ kind: 'image', target: image.metadata.name, outcome: 'too-late' });
    return;
  }
  await Promise.all(images.map((image) => restoreImage(image, options, report)));
}
