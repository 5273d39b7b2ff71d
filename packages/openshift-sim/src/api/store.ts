import { randomUUID } from 'node:crypto';
import {
  cloneJson,
  copyJson,
  type JsonObject,
  type ReadonlyJsonObject,
  type ReadonlyJsonValue,
} from '../json.js';

/** A watch event as kube streams it. */
export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: JsonObject;
  /**
   * The version before a MODIFIED or DELETED change, the store's own (not copied: never change it). A watch
   * with selectors decides by it whether the object was visible to it, as kube's watch cache does.
   */
  previous?: ReadonlyJsonObject;
}

interface RecordedEvent {
  type: WatchEvent['type'];
  /** The stored version itself (stored objects are never changed in place), copied only when replayed. */
  object: ReadonlyJsonObject;
  /** The version it replaced or removed (kept, like `object`, uncopied). */
  previous: ReadonlyJsonObject | undefined;
  rv: number;
  resource: string;
  namespace: string;
  weight: number;
}

/** Receives events for one resource (and namespace, when set). */
export type WatchListener = (event: WatchEvent) => void;

interface Subscription {
  resource: string;
  namespace?: string;
  listener: WatchListener;
}

/** How many past events a watch can resume from; older resourceVersions get 410 Gone. */
const HISTORY_LIMIT = 20_000;

/**
 * How much history is kept, in {@link weightOf} units, besides the count: one event per write of a large
 * object (an ImageStream with 5000 tags is rewritten on every tag push) made the history hold thousands of
 * versions of it, which grew quadratically and ran the simulator out of heap. kube's watch cache is bounded
 * the same way; a watch from a revision that fell out gets 410 and re-lists.
 */
const HISTORY_WEIGHT_LIMIT = 400_000;

/** How deep {@link weightOf} looks: deep enough to count an ImageStream's tag entries and their items. */
const WEIGHT_DEPTH = 5;

/**
 * A cheap size estimate of an object: its nodes down to {@link WEIGHT_DEPTH} levels (a deeper subtree counts
 * as one). Proportional to the number of list entries near the top, which is what makes objects large here.
 */
export function weightOf(value: ReadonlyJsonValue, depth = WEIGHT_DEPTH): number {
  if (value === null || typeof value !== 'object' || depth === 0) return 1;
  let weight = 1;
  if (Array.isArray(value)) {
    for (const item of value as readonly ReadonlyJsonValue[]) weight += weightOf(item, depth - 1);
  } else {
    const object = value as ReadonlyJsonObject;
    for (const key in object) weight += weightOf(object[key] ?? null, depth - 1);
  }
  return weight;
}

function keyOf(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function metadataOf(object: JsonObject): JsonObject {
  const metadata = object['metadata'];
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new TypeError('stored objects need metadata');
  }
  return metadata;
}

/**
 * The cluster's object storage: one global resourceVersion counter (as etcd's revision), objects per
 * resource keyed by namespace and name, and an event history for watches. Values are copied in and out, so
 * callers can never change stored state by mutating what they hold.
 */
export class ObjectStore {
  private revision = 1000;
  private compactedRevision = 0;
  private readonly objects = new Map<string, Map<string, JsonObject>>();
  /** The revision each live object was created at: creation order finer than creationTimestamp's seconds. */
  private readonly createdAt = new Map<string, number>();
  private readonly history: RecordedEvent[] = [];
  private historyWeight = 0;
  /** Each resource's keys in list order, kept until an object of it is added or removed. */
  private readonly sortedKeysOf = new Map<string, string[]>();
  private readonly subscriptions = new Set<Subscription>();
  /** Each resource's newest write, for callers that keep something derived from its objects. */
  private readonly resourceRevisions = new Map<string, number>();

  /** The current revision (the resourceVersion of the newest write). */
  get currentRevision(): number {
    return this.revision;
  }

  /**
   * The revision of the newest write to a resource (0 before the first): what the router and the registry
   * front derive from routes and the registry config per request stays valid while it is unchanged.
   */
  revisionOf(resource: string): number {
    return this.resourceRevisions.get(resource) ?? 0;
  }

  /** Revisions at or below this are gone: lists continued from them and watches starting there get 410. */
  get compactedAt(): number {
    return this.compactedRevision;
  }

  /** Forgets history up to now, as etcd compaction does; outstanding continue tokens expire. */
  compact(): void {
    // Compaction takes a revision of its own, so lists made after it are newer than the compaction point.
    this.compactedRevision = ++this.revision;
    this.history.length = 0;
    this.historyWeight = 0;
  }

  /** How many events and how much {@link weightOf} the watch history holds (bounded; for tests). */
  historySize(): { events: number; weight: number } {
    return { events: this.history.length, weight: this.historyWeight };
  }

  private bucket(resource: string): Map<string, JsonObject> {
    let bucket = this.objects.get(resource);
    if (!bucket) {
      bucket = new Map();
      this.objects.set(resource, bucket);
    }
    return bucket;
  }

  /** The revision a live object was created at (0 when it does not exist). */
  creationRevision(resource: string, namespace: string, name: string): number {
    return this.createdAt.get(`${resource}/${keyOf(namespace, name)}`) ?? 0;
  }

  /** The resources that have ever held an object. */
  resourceKeys(): string[] {
    return [...this.objects.keys()];
  }

  get(resource: string, namespace: string, name: string): JsonObject | undefined {
    return this.getByKey(resource, keyOf(namespace, name));
  }

  /**
   * The keys (`namespace/name`; `/name` when cluster-scoped) of a resource's objects, in list order. Paged
   * lists read one page of objects at a time through {@link getByKey} instead of copying every object
   * for every page, which made listing 100k objects take minutes.
   */
  sortedKeys(resource: string): readonly string[] {
    let keys = this.sortedKeysOf.get(resource);
    if (keys === undefined) {
      keys = [...(this.objects.get(resource)?.keys() ?? [])].sort();
      this.sortedKeysOf.set(resource, keys);
    }
    return keys;
  }

  /** A copy of the object with this key (see {@link sortedKeys}). */
  getByKey(resource: string, key: string): JsonObject | undefined {
    const found = this.objects.get(resource)?.get(key);
    return found ? cloneJson(found) : undefined;
  }

  /**
   * The stored object itself, neither copied nor decorated, for paths that must not copy a large object on
   * every write (see {@link replaceShared}). The type forbids changing it; do not cast that away.
   */
  peek(resource: string, namespace: string, name: string): ReadonlyJsonObject | undefined {
    return this.objects.get(resource)?.get(keyOf(namespace, name));
  }

  /** Objects of a resource (in one namespace, or all when undefined), sorted by namespace then name. */
  list(resource: string, namespace?: string): JsonObject[] {
    const bucket = this.objects.get(resource);
    if (!bucket) return [];
    return [...bucket.entries()]
      .filter(([key]) => namespace === undefined || key.startsWith(`${namespace}/`))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, object]) => cloneJson(object));
  }

  /** Stores a new object, assigning uid, creationTimestamp and resourceVersion. */
  create(resource: string, namespace: string, name: string, object: JsonObject): JsonObject {
    const stored = cloneJson(object);
    const metadata = metadataOf(stored);
    metadata['uid'] ??= randomUUID();
    metadata['creationTimestamp'] ??= new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    metadata['resourceVersion'] = String(++this.revision);
    this.bucket(resource).set(keyOf(namespace, name), stored);
    this.sortedKeysOf.delete(resource);
    this.createdAt.set(`${resource}/${keyOf(namespace, name)}`, this.revision);
    this.record(resource, namespace, { type: 'ADDED', object: stored, previous: undefined });
    return cloneJson(stored);
  }

  /** Replaces an object and gives it a new resourceVersion. */
  replace(resource: string, namespace: string, name: string, object: JsonObject): JsonObject {
    const stored = cloneJson(object);
    metadataOf(stored)['resourceVersion'] = String(++this.revision);
    const previous = this.bucket(resource).get(keyOf(namespace, name));
    this.bucket(resource).set(keyOf(namespace, name), stored);
    this.record(resource, namespace, { type: 'MODIFIED', object: stored, previous });
    return cloneJson(stored);
  }

  /**
   * Replaces an object with one built from fresh parts and unchanged parts of the stored version (from
   * {@link peek}), without copying: pushing tag N to an ImageStream shares the other N-1 tag entries with the
   * previous version instead of copying them, so a push of many tags is linear, not quadratic, in time and
   * memory. Nothing reachable from `object` may be changed afterwards by the caller.
   */
  replaceShared(resource: string, namespace: string, name: string, object: JsonObject): void {
    const stored: JsonObject = {
      ...object,
      metadata: { ...metadataOf(object), resourceVersion: String(++this.revision) },
    };
    const previous = this.bucket(resource).get(keyOf(namespace, name));
    this.bucket(resource).set(keyOf(namespace, name), stored);
    this.record(resource, namespace, { type: 'MODIFIED', object: stored, previous });
  }

  /** Removes an object; the DELETED event carries a new resourceVersion, as kube's does. */
  remove(resource: string, namespace: string, name: string): JsonObject | undefined {
    const bucket = this.objects.get(resource);
    const existing = bucket?.get(keyOf(namespace, name));
    if (!bucket || !existing) return undefined;
    bucket.delete(keyOf(namespace, name));
    this.sortedKeysOf.delete(resource);
    this.createdAt.delete(`${resource}/${keyOf(namespace, name)}`);
    const tombstone = cloneJson(existing);
    metadataOf(tombstone)['resourceVersion'] = String(++this.revision);
    this.record(resource, namespace, { type: 'DELETED', object: tombstone, previous: existing });
    return cloneJson(tombstone);
  }

  private record(
    resource: string,
    namespace: string,
    change: { type: WatchEvent['type']; object: JsonObject; previous: ReadonlyJsonObject | undefined },
  ): void {
    const { type, object, previous } = change;
    this.resourceRevisions.set(resource, this.revision);
    // `object` and `previous` are the store's own versions (never changed in place): kept uncopied. The
    // previous version is counted once, with the event that made it (it shares the object's weight).
    const weight = weightOf(object);
    this.history.push({ rv: this.revision, resource, namespace, type, object, previous, weight });
    this.historyWeight += weight;
    let drop = 0;
    let dropWeight = 0;
    // Always keeps the newest event, however heavy.
    while (
      drop < this.history.length - 1 &&
      (this.history.length - drop > HISTORY_LIMIT || this.historyWeight - dropWeight > HISTORY_WEIGHT_LIMIT)
    ) {
      dropWeight += this.history[drop]?.weight ?? 0;
      drop++;
    }
    if (drop > 0) {
      const dropped = this.history.splice(0, drop);
      this.historyWeight -= dropWeight;
      this.compactedRevision = Math.max(this.compactedRevision, dropped.at(-1)?.rv ?? 0);
    }
    for (const sub of this.subscriptions) {
      if (sub.resource !== resource) continue;
      if (sub.namespace !== undefined && sub.namespace !== namespace) continue;
      sub.listener({ type, object: cloneJson(object), ...(previous !== undefined ? { previous } : {}) });
    }
  }

  /**
   * Events after `sinceRevision` for a resource, or undefined when that revision has been compacted away
   * (the caller answers 410 Gone).
   */
  eventsSince(
    resource: string,
    namespace: string | undefined,
    sinceRevision: number,
  ): WatchEvent[] | undefined {
    if (sinceRevision < this.compactedRevision) return undefined;
    return this.history
      .filter(
        (e) =>
          e.rv > sinceRevision &&
          e.resource === resource &&
          (namespace === undefined || e.namespace === namespace),
      )
      .map(({ type, object, previous }) => ({
        type,
        object: copyJson(object),
        ...(previous !== undefined ? { previous } : {}),
      }));
  }

  /** Calls `listener` for every later write to the resource; returns the unsubscribe function. */
  subscribe(resource: string, namespace: string | undefined, listener: WatchListener): () => void {
    const sub: Subscription = { resource, listener, ...(namespace !== undefined ? { namespace } : {}) };
    this.subscriptions.add(sub);
    return () => {
      this.subscriptions.delete(sub);
    };
  }
}
