/**
 * The plan explorer's index of a dry run: every decision of the plan grouped namespace → stream → tag, with
 * the registry storage each group would free, and every decision about a digest under that digest (for
 * Explain). The worker builds it from the dry run's full plan while it plans, stores it in Redis a page of
 * fields at a time, and drops the plan; the dashboard and `registry-pruner explain` read only the fields a
 * page needs, so no reader ever holds the whole plan (at 100k Images it is about a million decisions).
 */
import type { PlanItem, PrunePlan } from '@registry-push/core';
import type { RedisConnection } from '../redis.js';

/** One row of a level of the tree: a namespace, a stream or a tag. */
export interface ExplorerRow {
  name: string;
  /** Registry storage freed if the dry run's plan ran (blobs of the Images whose history is here). */
  bytes: number;
  /** Decisions to delete or update, and to keep. */
  changes: number;
  keeps: number;
}

/** A decision as the explorer keeps it: the plan item without its id. */
export type ExplorerItem = Omit<PlanItem, 'id'>;

/** What the explorer shows above the tree. */
export interface ExplorerHead {
  runId: string;
  planId: string;
  mode: PrunePlan['mode'];
  now: string;
  snapshotTakenAt: string;
  bytesFreed: number;
  counts: PrunePlan['summary']['counts'];
  reasons: PrunePlan['summary']['reasons'];
  keepTagRevisions: number;
  keepYoungerThanMs: number;
  items: number;
}

/**
 * Where Images that no stream history names are grouped (deleted as unreferenced, or kept for a use), by the
 * first two hex digits of their digest as the "stream".
 */
export const NO_STREAM = '(no imagestream)';
/** The tag row of a stream's repository links. */
export const LINKS = '(repository links)';

/** The index in memory, as {@link buildExplorerIndex} makes it. */
export interface ExplorerIndex {
  head: ExplorerHead;
  namespaces: ExplorerRow[];
  /** namespace → its streams. */
  streams: Map<string, ExplorerRow[]>;
  /** `namespace/name` → its tags. */
  tags: Map<string, ExplorerRow[]>;
  /** `namespace/name:tag` → its decisions. */
  items: Map<string, ExplorerItem[]>;
  /** digest → the places (`namespace/name:tag`) whose decisions include one about it. */
  digests: Map<string, Set<string>>;
}

function compact(item: PlanItem): ExplorerItem {
  const { id: _id, ...rest } = item;
  return rest;
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/** `namespace/name:tag` of where an item is shown. */
type Place = { stream: string; tag: string };

/**
 * Where each Image's decisions and freed bytes go: the first history item naming it that the plan deletes,
 * else the first that it keeps; Images in no history go to {@link NO_STREAM}.
 */
function placesOfImages(items: readonly PlanItem[]): Map<string, Place> {
  const places = new Map<string, Place>();
  const kept = new Map<string, Place>();
  for (const item of items) {
    if (item.kind !== 'tag-history' || item.digest === undefined || item.stream === undefined) continue;
    const place = { stream: item.stream, tag: item.tag ?? '' };
    if (item.action === 'delete') {
      if (!places.has(item.digest)) places.set(item.digest, place);
    } else if (!kept.has(item.digest)) kept.set(item.digest, place);
  }
  for (const [digest, place] of kept) if (!places.has(digest)) places.set(digest, place);
  return places;
}

/** The place of one item: its own stream and tag, or the place of the Image it belongs to. */
function placeOf(
  item: PlanItem,
  images: Map<string, Place>,
  unitImage: Map<string, string>,
): Place | undefined {
  if (item.kind === 'stream-update') return undefined;
  if (item.stream !== undefined)
    return { stream: item.stream, tag: item.kind === 'tag-history' ? (item.tag ?? '') : LINKS };
  // A blob goes with the Image whose deletion frees it, or (kept) with the kept Image that shares it.
  const image =
    item.kind === 'image'
      ? item.digest
      : item.unit !== undefined
        ? unitImage.get(item.unit)
        : item.referrer?.startsWith('sha256:') === true
          ? item.referrer
          : undefined;
  if (image !== undefined) return images.get(image) ?? unplaced(image);
  return unplaced(item.digest ?? 'sha256:--');
}

/**
 * Images no history names, in 256 groups by the first two hex digits of their digest, so that no group's
 * decisions grow with the cluster as one field.
 */
function unplaced(digest: string): Place {
  return {
    stream: `${NO_STREAM}/${digest.slice(digest.indexOf(':') + 1, digest.indexOf(':') + 3)}`,
    tag: '-',
  };
}

class RowCounter {
  readonly rows = new Map<string, Map<string, ExplorerRow>>();

  add(group: string, name: string, item: PlanItem): void {
    let rows = this.rows.get(group);
    if (rows === undefined) this.rows.set(group, (rows = new Map<string, ExplorerRow>()));
    let row = rows.get(name);
    if (row === undefined) rows.set(name, (row = { name, bytes: 0, changes: 0, keeps: 0 }));
    if (item.action === 'keep') row.keeps++;
    else row.changes++;
    if (item.action === 'delete') row.bytes += item.bytes;
  }

  list(group: string): ExplorerRow[] {
    return [...(this.rows.get(group)?.values() ?? [])];
  }
}

/**
 * Groups a plan's items (a plan made with `detail: 'all'`) for the explorer.
 *
 * @param runId The dry run.
 * @param plan Its plan, with every item.
 */
export function buildExplorerIndex(runId: string, plan: PrunePlan): ExplorerIndex {
  const unitImage = new Map<string, string>();
  for (const unit of plan.units) if (unit.type === 'image') unitImage.set(unit.id, unit.digest);
  const images = placesOfImages(plan.items);
  const levels = { namespaces: new RowCounter(), streams: new RowCounter(), tags: new RowCounter() };
  const items = new Map<string, ExplorerItem[]>();
  const digests = new Map<string, Set<string>>();
  for (const item of plan.items) {
    const place = placeOf(item, images, unitImage);
    if (place === undefined) continue;
    const slash = place.stream.indexOf('/');
    const namespace = place.stream.slice(0, slash);
    levels.namespaces.add('', namespace, item);
    levels.streams.add(namespace, place.stream.slice(slash + 1), item);
    levels.tags.add(place.stream, place.tag, item);
    const key = `${place.stream}:${place.tag}`;
    push(items, key, compact(item));
    if (item.digest !== undefined) {
      const places = digests.get(item.digest);
      if (places === undefined) digests.set(item.digest, new Set([key]));
      else places.add(key);
    }
  }
  const streams = new Map([...levels.streams.rows.keys()].map((ns) => [ns, levels.streams.list(ns)]));
  const tags = new Map([...levels.tags.rows.keys()].map((stream) => [stream, levels.tags.list(stream)]));
  return {
    head: {
      runId,
      planId: plan.id,
      mode: plan.mode,
      now: plan.now,
      snapshotTakenAt: plan.snapshotTakenAt,
      bytesFreed: plan.summary.bytesFreed,
      counts: plan.summary.counts,
      reasons: plan.summary.reasons,
      keepTagRevisions: plan.policy.keepTagRevisions,
      keepYoungerThanMs: plan.policy.keepYoungerThanMs,
      items: plan.items.length,
    },
    namespaces: levels.namespaces.list(''),
    streams,
    tags,
    items,
    digests,
  };
}

const KIND_CODES = {
  'tag-history': 'h',
  'stream-update': 'u',
  'manifest-link': 'm',
  'layer-link': 'l',
  blob: 'b',
  image: 'i',
} as const satisfies Record<ExplorerItem['kind'], string>;
const KINDS = Object.fromEntries(Object.entries(KIND_CODES).map(([kind, code]) => [code, kind])) as Record<
  string,
  ExplorerItem['kind']
>;
const ACTIONS = { k: 'keep', d: 'delete', u: 'update' } as const;

/**
 * An item as stored: `[kind, action, rule, digest, bytes, revision, referrer, stream, tag]` with one-letter
 * kind and action, 0 for "the place's own" stream or tag, and the trailing empty fields left off — at 100k
 * Images there are about 800k of them, and the field names alone would be a third of the index.
 */
type StoredItem = (string | number | null)[];

function encode(item: ExplorerItem, stream: string, tag: string): StoredItem {
  const stored: StoredItem = [
    KIND_CODES[item.kind],
    item.action[0] ?? 'k',
    item.rule,
    item.digest ?? null,
    item.bytes,
    item.revision ?? null,
    item.referrer ?? null,
    item.stream === undefined ? null : item.stream === stream ? 0 : item.stream,
    item.tag === undefined ? null : item.tag === tag ? 0 : item.tag,
  ];
  while (stored.length > 5 && stored[stored.length - 1] === null) stored.pop();
  return stored;
}

function decode(stored: StoredItem, stream: string, tag: string): ExplorerItem {
  const [kind, action, rule, digest, bytes, revision, referrer, itemStream, itemTag] = stored;
  return {
    kind: KINDS[String(kind)] ?? 'image',
    action: ACTIONS[String(action) as keyof typeof ACTIONS] ?? 'keep',
    rule: String(rule) as ExplorerItem['rule'],
    bytes: Number(bytes ?? 0),
    ...(typeof digest === 'string' ? { digest } : {}),
    ...(typeof revision === 'number' ? { revision } : {}),
    ...(typeof referrer === 'string' ? { referrer } : {}),
    ...(itemStream === 0 ? { stream } : typeof itemStream === 'string' ? { stream: itemStream } : {}),
    ...(itemTag === 0 ? { tag } : typeof itemTag === 'string' ? { tag: itemTag } : {}),
  };
}

/** `namespace/name` and tag of a place key `namespace/name:tag`. */
function splitPlace(place: string): [string, string] {
  const colon = place.lastIndexOf(':');
  return [place.slice(0, colon), place.slice(colon + 1)];
}

/** How long a dry run's explorer index stays in Redis (its plan can be approved for as long as it is kept). */
export const EXPLORER_TTL_SECONDS = 24 * 3600;
/** Fields written per round trip. */
const WRITE_PAGE = 500;

/** A stored explorer index in Redis: one hash per dry run, one field per page a reader needs. */
export class ExplorerStore {
  readonly #redis: RedisConnection;
  readonly #base: string;

  /** `prefix` and `queue` as the {@link RunStore}'s, so the keys sit beside the run's. */
  constructor(redis: RedisConnection, prefix: string, queue: string) {
    this.#redis = redis;
    this.#base = `${prefix}:${queue}:pruner:explore`;
  }

  #key(runId: string): string {
    return `${this.#base}:${runId}`;
  }

  /** Writes the index (replacing an earlier one of the run); the head goes last and makes it readable. */
  async put(index: ExplorerIndex): Promise<void> {
    const key = this.#key(index.head.runId);
    await this.#redis.del(key);
    const fields: [string, unknown][] = [['ns', index.namespaces]];
    for (const [ns, rows] of index.streams) fields.push([`s:${ns}`, rows]);
    for (const [stream, rows] of index.tags) fields.push([`t:${stream}`, rows]);
    for (const [place, items] of index.items) {
      const [stream, tag] = splitPlace(place);
      fields.push([`i:${place}`, items.map((item) => encode(item, stream, tag))]);
    }
    for (const [digest, places] of index.digests) fields.push([`d:${digest}`, [...places]]);
    for (let start = 0; start < fields.length; start += WRITE_PAGE) {
      const page = fields.slice(start, start + WRITE_PAGE);
      await this.#redis.hset(key, ...page.flatMap(([field, value]) => [field, JSON.stringify(value)]));
    }
    await this.#redis
      .multi()
      .hset(key, 'head', JSON.stringify(index.head))
      .expire(key, EXPLORER_TTL_SECONDS)
      .exec();
  }

  async #field<T>(runId: string, field: string): Promise<T | undefined> {
    const text = await this.#redis.hget(this.#key(runId), field);
    return text === null ? undefined : (JSON.parse(text) as T);
  }

  /** The head, or undefined when the run has no (complete) index. */
  head(runId: string): Promise<ExplorerHead | undefined> {
    return this.#field<ExplorerHead>(runId, 'head');
  }

  async namespaces(runId: string): Promise<ExplorerRow[]> {
    return (await this.#field<ExplorerRow[]>(runId, 'ns')) ?? [];
  }

  async streams(runId: string, namespace: string): Promise<ExplorerRow[]> {
    return (await this.#field<ExplorerRow[]>(runId, `s:${namespace}`)) ?? [];
  }

  async tags(runId: string, stream: string): Promise<ExplorerRow[]> {
    return (await this.#field<ExplorerRow[]>(runId, `t:${stream}`)) ?? [];
  }

  async items(runId: string, stream: string, tag: string): Promise<ExplorerItem[]> {
    const stored = (await this.#field<StoredItem[]>(runId, `i:${stream}:${tag}`)) ?? [];
    return stored.map((item) => decode(item, stream, tag));
  }

  /** Every decision about a digest, from each place that has one. */
  async digest(runId: string, digest: string): Promise<ExplorerItem[]> {
    const places = (await this.#field<string[]>(runId, `d:${digest}`)) ?? [];
    const found = await Promise.all(places.map((place) => this.items(runId, ...splitPlace(place))));
    return found.flat().filter((item) => item.digest === digest);
  }
}
