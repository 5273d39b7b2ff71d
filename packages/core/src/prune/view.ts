/**
 * The view that decides every registry delete of a confirmed run. Before each decision the executor asks
 * the view to catch up; the decision then reads the view's index as the cluster was at a point no earlier
 * than that request. Two implementations:
 *
 * - {@link ListedView} lists every Image and stream for each catch-up (concurrent requests share one list).
 *   Exact and simple, for one-shot runs and small clusters; at 100k Images each list takes seconds.
 * - {@link LiveView} keeps the index current through watches and catches up by reading the collection's
 *   current resourceVersion and waiting until its watches have delivered everything up to it. A catch-up
 *   costs one small request, so every delete can have its own.
 */
import { RegistryPushError } from '../errors.js';
import { Informer } from '../cluster/informer.js';
import type { ClusterApi } from '../ports/cluster-api.js';
import { Resources, type ResourceType } from '../cluster/resources.js';
import type { PruneCluster } from './cluster-port.js';
import type { ImageObject, ImageStreamObject } from './image-objects.js';
import { atLeast, isRevision, newestChange } from './changes-since.js';
import { ViewIndex } from './view-index.js';
import { VersionWaits } from './version-waits.js';
import type { SnapshotProgress } from './snapshot.js';

/** The index's questions, as the executor asks them. */
export type ViewQueries = Pick<
  ViewIndex,
  | 'image'
  | 'inHistory'
  | 'referrersOf'
  | 'parentsOf'
  | 'unknownHolders'
  | 'repositoryNeeds'
  | 'repositoryUse'
  | 'repositoriesNeeding'
  | 'streamUid'
>;

/** A stream's history now names images it did not name before (a push, a tag, a restore). */
export interface HistoryAddition {
  namespace: string;
  name: string;
  images: string[];
}

/**
 * What a decision reads: every Image only (a blob's referrers), stream histories only (a link's repository:
 * Images are immutable in what they reference, so only the ones a history names and the view lacks need
 * the Images caught up too), or both.
 */
export type ViewNeed = 'images' | 'streams' | 'all';

/** What the executor needs of a view. */
export interface PruneView {
  /**
   * Resolves once the index reflects every change the cluster had made when the call was made — to Images
   * only, to streams only, or to both (`all`, the default); rejects (`PRUNE_VIEW_STALE`) when that cannot be
   * shown. Concurrent calls share the work.
   */
  catchUp(need?: ViewNeed): Promise<void>;
  /** The index, as of the last catch-up (or later). */
  readonly index: ViewQueries;
  /** Registers a listener for history additions; returns its removal. Views without a watch never call it. */
  onHistoryAdded(listener: (addition: HistoryAddition) => void): () => void;
}

/**
 * Catches the view up for a decision about one repository's links: its stream history, and the Images as
 * well only when that history names one the view has not seen (what an Image references never changes, and
 * an Image is created before a history names it).
 */
export async function catchUpRepository(view: PruneView, namespace: string, name: string): Promise<void> {
  await view.catchUp('streams');
  if (view.index.repositoryUse(namespace, name).missing) await view.catchUp('images');
}

/**
 * Runs `task` for callers that arrive while it is idle; callers that arrive while it runs wait for the next
 * run (which must start after they asked), and all of them share that one. With `minIntervalMs`, a run
 * starts no sooner than that after the previous one started: the callers of that time share it.
 */
class Coalesced<T> {
  #running: Promise<T> | undefined;
  #next: Promise<T> | undefined;
  #lastStart = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly task: () => Promise<T>,
    private readonly minIntervalMs = 0,
  ) {}

  run(): Promise<T> {
    if (this.#next !== undefined) return this.#next;
    const previous = this.#running;
    const next = (async (): Promise<T> => {
      // At least one turn passes here, so `#next` below is this run's own.
      await previous?.catch(() => undefined);
      const wait = this.#lastStart + this.minIntervalMs - Date.now();
      if (wait > 0) await sleep(wait);
      this.#next = undefined;
      this.#lastStart = Date.now();
      const running = this.task();
      this.#running = running;
      try {
        return await running;
      } finally {
        if (this.#running === running) this.#running = undefined;
      }
    })();
    this.#next = next;
    return next;
  }
}

/** A view that lists every Image and stream for each catch-up. */
export class ListedView implements PruneView {
  #index: ViewIndex;
  readonly #catchUp: Coalesced<void>;

  /**
   * @param cluster Where the lists come from.
   * @param protectAnnotation The policy's protect annotation.
   */
  constructor(
    private readonly cluster: Pick<PruneCluster, 'listImages' | 'listImageStreams'>,
    private readonly protectAnnotation: string,
  ) {
    this.#index = new ViewIndex(protectAnnotation);
    this.#catchUp = new Coalesced(async () => {
      const [images, streams] = await Promise.all([
        this.cluster.listImages(),
        this.cluster.listImageStreams(),
      ]);
      const index = new ViewIndex(this.protectAnnotation);
      for (const image of images) index.putImage(image);
      for (const stream of streams) index.putStream(stream);
      this.#index = index;
    });
  }

  get index(): ViewQueries {
    return this.#index;
  }

  catchUp(): Promise<void> {
    return this.#catchUp.run();
  }

  onHistoryAdded(): () => void {
    return () => undefined;
  }
}

/**
 * What a {@link LiveView} needs of the cluster port: lists that report their resourceVersion and watches
 * (its informers and short watches), and the collection's current resourceVersion (its catch-ups).
 */
export type LiveViewCluster = Pick<ClusterApi, 'listVersioned' | 'watch' | 'currentVersion'>;

/** Options of {@link LiveView}. */
export interface LiveViewOptions {
  /** The policy's protect annotation. */
  protectAnnotation: string;
  /** Awaited before each read of the current resourceVersion (the caller's rate limit). */
  pace?: () => Promise<void>;
  /**
   * The least time between two reads of the current resourceVersion (default 100 ms). Every catch-up
   * asked for in between shares the next read: with many decisions in flight, a read serves them all, and
   * the reads cost at most ten API calls a second whatever the rate of deletes.
   */
  catchUpIntervalMs?: number;
  /** How long a catch-up waits for the watches before it asks the server directly (default 25 ms). */
  settleMs?: number;
  /**
   * How long after a kind's last change its watch counts as busy (default 250 ms). A catch-up waits for a
   * busy watch to pass the target by itself, with its next change, instead of asking the server: while
   * Images and streams change at once, each watch is behind the newest change of the other kind at almost
   * every moment, and a short watch per catch-up and kind would queue (they run one at a time per kind).
   */
  busyMs?: number;
  /** How long that direct question (a short watch) may stay open, in seconds (default 2). */
  probeSeconds?: number;
  /**
   * How long the short watch may stay silent before the view counts it as done (default 50 ms): the server
   * sends the changes after the requested point at once, as the watch opens.
   */
  quietMs?: number;
  /**
   * How long a catch-up may wait on a view that is behind the server's watch history without its watch
   * moving on (default 60 s). The short watch from where the view is then answers 410, yet the view's own
   * watch is still delivering (or re-listing): the catch-up asks again from where the view has got to, for
   * as long as the view keeps moving, up to ten times this in all.
   */
  behindMs?: number;
  /** Told of every failure the watches ride out. */
  onError?: (error: RegistryPushError) => void;
  /**
   * Told how many objects of each kind the first lists have read so far, as {@link takeSnapshot} tells
   * (`source` is the resource's plural name): for a caller that collects garbage while they are read.
   */
  onProgress?: (progress: SnapshotProgress) => void;
}

/** The resourceVersion just after `version` (any later change is at or above it). */
function after(version: string): string {
  return isRevision(version) ? String(BigInt(version) + 1n) : version;
}

/**
 * A 410 from a watch: the server's history no longer reaches back to the version asked for. By code, as the
 * cluster port promises it on every failure (an in-memory cluster's errors need not be the core's type).
 */
function isGone(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === 'GONE';
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function stale(message: string, cause?: unknown): RegistryPushError {
  return new RegistryPushError('PRUNE_VIEW_STALE', message, {
    hint: 'Nothing was deleted on this view; the unit can run again. Check that the pruner may list and watch Images and ImageStreams.',
    retryable: true,
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * A view kept current by watches on Images and ImageStreams. Start it with {@link start} (the first lists),
 * then call {@link catchUp} before each decision, and {@link stop} it when done.
 *
 * How a catch-up knows it is current: it reads the collection's resourceVersion now (a quorum read: every
 * write acknowledged before it is at or below it), then waits until both watches have delivered an event or
 * bookmark at or after it. When nothing changes in Images or streams the watches have nothing to deliver,
 * so after `settleMs` it opens a short watch of its own from where the view is: the server sends every change
 * after that point at once, as the watch opens, so the short watch is done at a bookmark at or past the
 * target, or after `quietMs` without an event. The view is current once its own watches have delivered every
 * change the short watch showed. The reads and the short watches are shared: every catch-up asked for
 * before a read starts waits for that read, and every one that needs a short watch of a kind joins the next
 * to start, so their number stays bounded however many decisions are in flight.
 */
export class LiveView implements PruneView {
  readonly #index: ViewIndex;
  readonly #images: Informer<ImageObject>;
  readonly #streams: Informer<ImageStreamObject>;
  readonly #listeners = new Set<(addition: HistoryAddition) => void>();
  /** The cluster's current resourceVersion, read for the catch-ups asked for before the read. */
  readonly #target: Coalesced<string>;
  /** The newest target read: a short watch started after a catch-up's read covers at least its target. */
  #latestTarget = '';
  readonly #probes = new Map<Informer, Coalesced<void>>();
  /** When each watch last delivered a change (ms since the epoch). */
  readonly #lastChange = new Map<Informer, number>();
  /** The decisions waiting for each watch to reach a version. */
  readonly #waits = new Map<Informer, VersionWaits>();
  readonly #stats = { catchUps: 0, probes: 0 };
  /** Objects the first lists have read, per kind; undefined once {@link start} is done. */
  #listed: Map<string, number> | undefined = new Map();
  #stopped = false;

  /**
   * @param client The cluster port (a `ClusterClient`, the in-memory cluster), allowed to list and watch
   *   Images and ImageStreams.
   * @param options The protect annotation, pacing and timing.
   */
  constructor(
    private readonly client: LiveViewCluster,
    private readonly options: LiveViewOptions,
  ) {
    this.#index = new ViewIndex(options.protectAnnotation);
    const onError = options.onError;
    const imageWaits = new VersionWaits();
    const streamWaits = new VersionWaits();
    this.#images = new Informer<ImageObject>(client, Resources.image, {
      keep: 'versions',
      onError: (error) => {
        imageWaits.wakeAll();
        onError?.(error);
      },
      onProgress: (version) => imageWaits.reached(version),
      onEvent: (event) => {
        this.#lastChange.set(this.#images, Date.now());
        this.#counted(Resources.image);
        if (event.type === 'DELETED') this.#index.removeImage(event.object.metadata.name);
        else this.#index.putImage(event.object);
      },
    });
    this.#streams = new Informer<ImageStreamObject>(client, Resources.imageStream, {
      keep: 'versions',
      onError: (error) => {
        streamWaits.wakeAll();
        onError?.(error);
      },
      onProgress: (version) => streamWaits.reached(version),
      onEvent: (event) => {
        this.#lastChange.set(this.#streams, Date.now());
        this.#counted(Resources.imageStream);
        const { name, namespace = '' } = event.object.metadata;
        if (event.type === 'DELETED') {
          this.#index.removeStream(namespace, name);
          return;
        }
        const added = this.#index.putStream(event.object);
        if (added.length > 0 && !event.synthetic) {
          for (const listener of this.#listeners) listener({ namespace, name, images: added });
        }
      },
    });
    this.#waits.set(this.#images, imageWaits);
    this.#waits.set(this.#streams, streamWaits);
    this.#target = new Coalesced(() => this.#readTarget(), options.catchUpIntervalMs ?? 100);
    for (const [informer, type] of [
      [this.#images, Resources.image],
      [this.#streams, Resources.imageStream],
    ] as const) {
      this.#probes.set(informer, new Coalesced(() => this.#probe(informer, type)));
    }
  }

  get index(): ViewQueries {
    return this.#index;
  }

  /** Images and streams held (for metrics). */
  get size(): { images: number; streams: number } {
    return { images: this.#index.imageCount, streams: this.#index.streamCount };
  }

  /** Catch-ups asked for, and the short watches they needed (for the logs). */
  get stats(): { catchUps: number; probes: number } {
    return { ...this.#stats };
  }

  /** Lists and starts watching; resolves when both kinds are in the index. */
  async start(): Promise<void> {
    this.#images.start();
    this.#streams.start();
    try {
      await Promise.all([this.#images.waitForSync(), this.#streams.waitForSync()]);
    } catch (error) {
      await this.stop();
      throw error;
    } finally {
      const listed = this.#listed;
      this.#listed = undefined;
      for (const [source, items] of listed ?? []) this.options.onProgress?.({ source, items, done: true });
    }
  }

  /** Counts an object of the first lists (or an event that came with them) for `onProgress`. */
  #counted(type: ResourceType): void {
    if (this.#listed === undefined || this.options.onProgress === undefined) return;
    const items = (this.#listed.get(type.plural) ?? 0) + 1;
    this.#listed.set(type.plural, items);
    this.options.onProgress({ source: type.plural, items, done: false });
  }

  /** Ends both watches; nothing is left open. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const waits of this.#waits.values()) waits.wakeAll();
    await Promise.all([this.#images.stop(), this.#streams.stop()]);
  }

  async catchUp(need: ViewNeed = 'all'): Promise<void> {
    if (this.#stopped) throw stale('The live view was stopped.');
    this.#stats.catchUps++;
    const target = await this.#target.run();
    await Promise.all([
      ...(need === 'streams' ? [] : [this.#reach(this.#images, Resources.image, target)]),
      ...(need === 'images' ? [] : [this.#reach(this.#streams, Resources.imageStream, target)]),
    ]);
  }

  onHistoryAdded(listener: (addition: HistoryAddition) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async #readTarget(): Promise<string> {
    await this.options.pace?.();
    try {
      const target = await this.client.currentVersion(Resources.imageStream);
      if (!atLeast(this.#latestTarget, target)) this.#latestTarget = target;
      return target;
    } catch (error) {
      throw stale('The cluster could not be asked for its current state.', error);
    }
  }

  /** Resolves once `informer` has delivered everything up to `target`. */
  async #reach(informer: Informer, type: ResourceType, target: string): Promise<void> {
    const settleMs = this.options.settleMs ?? 25;
    const busyMs = this.options.busyMs ?? 250;
    const until = Date.now() + 10 * (this.options.behindMs ?? 60_000);
    let seen = informer.resourceVersion;
    while (!(await this.#delivered(informer, type, target, settleMs))) {
      if (Date.now() < until) {
        // A watch that is still delivering gets there by itself: a short watch now would only fetch again
        // what it is about to deliver — from a view far behind, thousands of changes per decision, which
        // loads the server and puts every view further behind.
        if (informer.resourceVersion !== seen) {
          seen = informer.resourceVersion;
          continue;
        }
        // A kind that keeps changing passes the target with its next change: events come in
        // resourceVersion order, so once one after the target is delivered, so is everything before it.
        if (Date.now() - (this.#lastChange.get(informer) ?? 0) < busyMs) continue;
      }
      // One short watch at a time per kind, shared by every catch-up that reads before it starts.
      return this.#probes.get(informer)!.run();
    }
  }

  /** Whether `informer` reaches `version` within `ms` (it stops early when the view cannot decide). */
  async #delivered(informer: Informer, type: ResourceType, version: string, ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    const waits = this.#waits.get(informer)!;
    while (!atLeast(informer.resourceVersion, version)) {
      this.#check(informer, type);
      const left = until - Date.now();
      if (left <= 0) return false;
      // Woken when the watch gets there, fails or the view stops; a version that is no number (another
      // port's) is looked at again every few milliseconds.
      await waits.wait(version, Math.min(left, isRevision(version) ? 1000 : 5));
    }
    return true;
  }

  #check(informer: Informer, type: ResourceType): void {
    if (this.#stopped) throw stale('The live view was stopped.');
    if (informer.error !== undefined) {
      throw stale(`The watch of ${type.plural} stopped: ${informer.error.message}`, informer.error);
    }
  }

  /**
   * A short watch from where the view is: which changes exist up to now (at least the newest target read
   * before it started), then wait for the view's own watch to deliver them. When the server's history no
   * longer reaches back to where the view is (410), the view is behind but its watch goes on delivering:
   * ask again from where it has got to, as long as it keeps moving (see `behindMs`), and restart a watch
   * that has nothing to deliver.
   */
  async #probe(informer: Informer, type: ResourceType): Promise<void> {
    this.#stats.probes++;
    const target = this.#latestTarget;
    const behindMs = this.options.behindMs ?? 60_000;
    const started = Date.now();
    // A view that is behind but moving catches up: while decisions wait on it, this worker deletes
    // nothing, so its own changes stop piling up ahead of it. Only a view that stops moving is given up on.
    let moved = started;
    let seen = informer.resourceVersion;
    for (;;) {
      this.#check(informer, type);
      const from = informer.resourceVersion;
      if (from !== seen) {
        seen = from;
        moved = Date.now();
      }
      const newest = await this.#changesSince(type, from, target);
      if (newest !== undefined) {
        // Every change up to the target is now known; the view is current once its own watch delivered them.
        const left = Math.max(10_000, started + 10 * behindMs - Date.now());
        if (await this.#delivered(informer, type, newest, left)) return;
        throw stale(`The watch of ${type.plural} did not deliver changes in time.`);
      }
      const now = Date.now();
      if (now - moved >= behindMs || now - started >= 10 * behindMs) {
        throw stale(
          `The view of ${type.plural} stayed behind the cluster's history for ${Math.round((now - started) / 1000)} s.`,
        );
      }
      // Until the view's watch has moved on (or half a second); it may have got there meanwhile.
      await this.#delivered(informer, type, after(from), 500);
      if (atLeast(informer.resourceVersion, target)) return;
      // Nothing of this kind changed for longer than the server's history reaches back (the streams while
      // only Images are deleted): its watch has nothing to deliver and stays where it is. Restarted, it is
      // refused the same way (410) and re-lists, which makes it current.
      if (informer.resourceVersion === from) informer.refresh();
    }
  }

  /**
   * The newest resourceVersion of a change after `from`, up to `target` at least (`from` when there is
   * none), or undefined when the server's history no longer reaches back to `from` (410).
   */
  async #changesSince(type: ResourceType, from: string, target: string): Promise<string | undefined> {
    let stream;
    try {
      stream = await this.client.watch(type, {
        resourceVersion: from,
        allowWatchBookmarks: true,
        timeoutSeconds: this.options.probeSeconds ?? 2,
      });
    } catch (error) {
      if (isGone(error)) return undefined;
      throw stale(`The view of ${type.plural} could not be checked against the cluster.`, error);
    }
    try {
      return await newestChange(stream, from, target, this.options.quietMs ?? 50);
    } catch (error) {
      if (isGone(error)) return undefined;
      throw stale(`The view of ${type.plural} could not be checked against the cluster.`, error);
    } finally {
      stream.close();
    }
  }
}
