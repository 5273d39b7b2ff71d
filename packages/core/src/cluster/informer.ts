/**
 * An informer: list, then watch from the list's resourceVersion, keeping a store of the objects by
 * namespace/name. A dropped or ended watch resumes from the last resourceVersion seen (with bounded
 * back-off when it keeps failing); a 410 (the server's history no longer reaches back that far, as a
 * response or as an ERROR event inside the stream) re-lists and hands the difference to `onEvent` as
 * synthetic events, so a consumer never misses a change. `onEvent` is awaited before the next event is
 * taken, and the watch stream buffers a bounded number of events, pausing the socket beyond that.
 *
 * It works on the cluster port: any {@link ClusterApi}'s `listVersioned` and `watch` (the real client's,
 * the in-memory cluster's), so what is built on it (the prune `LiveView`) runs on either.
 */
import { CORE_ERROR_CODES, RegistryPushError, type ErrorCode } from '../errors.js';
import type { ClusterApi, ClusterWatch, KubeObject, WatchEvent, WatchTarget } from '../ports/cluster-api.js';
import type { ResourceType } from './resources.js';

/** What an {@link Informer} needs of the cluster port: a list that reports its resourceVersion, and watches. */
export type InformerSource = Pick<ClusterApi, 'listVersioned' | 'watch'>;

/** An event the informer hands on: a change of one object (BOOKMARKs only move the resourceVersion). */
export type InformerEvent<T extends KubeObject = KubeObject> = Exclude<
  WatchEvent<T>,
  { type: 'BOOKMARK' }
> & {
  /** True for an event made up from a re-list's difference (or the initial list), not streamed. */
  synthetic: boolean;
};

/** Options of {@link Informer}. */
export interface InformerOptions<T extends KubeObject = KubeObject> extends WatchTarget {
  /** Called for every change, in order; awaited before the next event is taken (back-pressure). */
  onEvent?: (event: InformerEvent<T>) => void | Promise<void>;
  /** Called for every failure the informer rides out (it retries), and for the one that stops it. */
  onError?: (error: RegistryPushError) => void;
  /**
   * Called whenever {@link Informer.resourceVersion} moves on (an event once `onEvent` has taken it, a
   * bookmark, the end of a re-list): for a consumer that waits for a version without polling.
   */
  onProgress?: (resourceVersion: string) => void;
  /** First and longest wait between failed attempts (default 250 ms and 30 s, doubling in between). */
  backoffMs?: { initial: number; max: number };
  /** How long one watch request lasts on the server before it is renewed (default 5 to 10 min, random). */
  timeoutSeconds?: number;
  /** Events a watch buffers before it pauses the socket (default 256). */
  bufferSize?: number;
  /**
   * What the store keeps of each object: all of it (`objects`, the default), or only its resourceVersion
   * (`versions`), for a consumer that indexes what it needs from the events itself: then {@link get} and
   * {@link list} are not available, and a DELETED event made up by a re-list carries only the name,
   * namespace and resourceVersion.
   */
  keep?: 'objects' | 'versions';
  /** Objects per page of the (re-)list (default 500). */
  pageSize?: number;
}

/** A cluster-scoped object's key is its name (which has no slash); a namespaced one's `namespace/name`. */
function keyFor(name: string, namespace: string | undefined): string {
  return namespace === undefined || namespace === '' ? name : `${namespace}/${name}`;
}

function keyOf(object: KubeObject): string {
  return keyFor(object.metadata.name, object.metadata.namespace);
}

/** The object a DELETED event carries when only its key and version were kept. */
function placeholder<T extends KubeObject>(key: string, resourceVersion: string): T {
  const slash = key.indexOf('/');
  const metadata =
    slash < 0
      ? { name: key, resourceVersion }
      : { namespace: key.slice(0, slash), name: key.slice(slash + 1), resourceVersion };
  return { metadata } as T;
}

/**
 * Keeps a live view of one kind. Start it with {@link start}, wait for {@link waitForSync}, read
 * {@link get}/{@link list}, and {@link stop} it: stop ends the socket and every timer, nothing is left open.
 * A failure that retrying cannot fix (401, 403: e.g. RBAC without `watch`) stops the informer; before the
 * first sync, {@link waitForSync} rejects with it, so the caller can fall back to polling.
 */
export class Informer<T extends KubeObject = KubeObject> {
  /** The objects by key (`keep: 'objects'`). */
  private readonly objects = new Map<string, T>();
  /** The resourceVersions by key (`keep: 'versions'`). */
  private readonly versions = new Map<string, string>();
  private version = '';
  private synced = false;
  private stopped = false;
  private readonly abort = new AbortController();
  private stream: ClusterWatch<T> | undefined;
  private sleeper: { timer: NodeJS.Timeout; resolve: () => void } | undefined;
  private loop: Promise<void> | undefined;
  private readonly sync: Promise<void>;
  private resolveSync!: () => void;
  private rejectSync!: (error: RegistryPushError) => void;
  private failure: RegistryPushError | undefined;

  /**
   * @param api The cluster port it lists and watches through (a `ClusterClient`, the in-memory cluster).
   * @param type The kind it keeps.
   * @param options Selection, callbacks, back-off and what the store keeps.
   */
  constructor(
    private readonly api: InformerSource,
    private readonly type: ResourceType,
    private readonly options: InformerOptions<T> = {},
  ) {
    this.sync = new Promise<void>((resolve, reject) => {
      this.resolveSync = resolve;
      this.rejectSync = reject;
    });
    // A caller that never waits must not see an unhandled rejection.
    this.sync.catch(() => undefined);
  }

  /** The resourceVersion of the last event or list seen. */
  get resourceVersion(): string {
    return this.version;
  }

  /** Whether the initial list is in the store and the watch was accepted. */
  get hasSynced(): boolean {
    return this.synced;
  }

  /**
   * Whether a watch is open now (after the first list): the store follows the server. False while the
   * informer starts, backs off, re-lists or after it stopped.
   */
  get connected(): boolean {
    return this.synced && !this.stopped && this.stream !== undefined;
  }

  /** The error that stopped the informer, if one did. */
  get error(): RegistryPushError | undefined {
    return this.failure;
  }

  /** The object by name (and namespace for namespaced kinds). */
  get(name: string, namespace?: string): T | undefined {
    this.requireObjects();
    return this.objects.get(keyFor(name, namespace));
  }

  /** Every object in the store. */
  list(): T[] {
    this.requireObjects();
    return [...this.objects.values()];
  }

  /** Starts listing and watching (once). */
  start(): this {
    this.loop ??= this.run();
    return this;
  }

  /** Resolves after the first list and watch; rejects when the informer stopped on a failure before. */
  waitForSync(): Promise<void> {
    return this.sync;
  }

  /**
   * Ends the open watch, so that the informer resumes from its resourceVersion at once — or re-lists, when
   * the server's history no longer reaches back that far. For a consumer that needs a recent
   * resourceVersion from an informer whose kind has not changed for a long time (its watch has nothing to
   * deliver, so its resourceVersion stays where the last change left it).
   */
  refresh(): void {
    this.stream?.close();
  }

  /** Ends the watch, its socket and any back-off timer; waits until the loop has returned. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.stream?.close();
    if (this.sleeper !== undefined) {
      clearTimeout(this.sleeper.timer);
      this.sleeper.resolve();
    }
    if (!this.synced) {
      this.rejectSync(new RegistryPushError('INTERRUPTED', 'The informer was stopped before it synced.'));
    }
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    let needList = true;
    while (!this.stopped) {
      try {
        if (needList) {
          await this.relist();
          needList = false;
        }
        const seen = await this.watchOnce();
        if (this.stopped) break;
        // A stream that ended without a single event may be a server that drops every connection at once:
        // back off then, so the loop never spins; a stream that carried events resumes at once.
        if (seen > 0) failures = 0;
        else await this.sleep(failures++);
      } catch (error) {
        this.stream = undefined;
        if (this.stopped) break;
        const outcome = this.failed(error);
        if (outcome === 'stop') break;
        // The history is gone: only a fresh list can bring the store up to date.
        if (outcome === 'relist') needList = true;
        else await this.sleep(failures++);
      }
    }
    this.stream?.close();
  }

  /** One watch request from {@link resourceVersion}, applied until it ends; returns how many events came. */
  private async watchOnce(): Promise<number> {
    const stream = await this.api.watch<T>(this.type, {
      ...this.target(),
      resourceVersion: this.version,
      allowWatchBookmarks: true,
      timeoutSeconds: this.options.timeoutSeconds ?? 300 + Math.floor(Math.random() * 300),
      ...(this.options.bufferSize === undefined ? {} : { bufferSize: this.options.bufferSize }),
      signal: this.abort.signal,
    });
    this.stream = stream;
    if (this.stopped) return 0;
    if (!this.synced) {
      this.synced = true;
      this.resolveSync();
    }
    let seen = 0;
    for (let event = await stream.next(); event !== undefined; event = await stream.next()) {
      seen++;
      await this.apply(event);
    }
    this.stream = undefined;
    return seen;
  }

  /** What a failure means: re-list (410), stop (retrying cannot help: 401, 403, ...), or back off and retry. */
  private failed(error: unknown): 'relist' | 'stop' | 'retry' {
    const typed = this.typed(error);
    this.options.onError?.(typed);
    if (typed.code === 'GONE') return 'relist';
    if (typed.retryable || typed.code === 'CLUSTER_UNREACHABLE' || typed.code === 'TIMEOUT') return 'retry';
    this.failure = typed;
    if (!this.synced) this.rejectSync(typed);
    this.stopped = true;
    return 'stop';
  }

  /**
   * A failure as the core's typed error. The port promises a `code` on every failure, but only the real
   * client's are `RegistryPushError`s: another implementation's keeps its code (GONE must re-list).
   */
  private typed(error: unknown): RegistryPushError {
    if (error instanceof RegistryPushError) return error;
    const { code, retryable } = (typeof error === 'object' && error !== null ? error : {}) as {
      code?: unknown;
      retryable?: unknown;
    };
    if (typeof code === 'string' && (CORE_ERROR_CODES as readonly string[]).includes(code)) {
      return new RegistryPushError(code as ErrorCode, (error as Error).message, {
        retryable: retryable === true,
        cause: error,
      });
    }
    return new RegistryPushError('API_ERROR', `The watch of ${this.type.plural} failed.`, { cause: error });
  }

  private target(): WatchTarget {
    const { namespace, labelSelector, fieldSelector } = this.options;
    return {
      ...(namespace === undefined ? {} : { namespace }),
      ...(labelSelector === undefined ? {} : { labelSelector }),
      ...(fieldSelector === undefined ? {} : { fieldSelector }),
    };
  }

  private requireObjects(): void {
    if (this.options.keep === 'versions') {
      throw new Error(
        'This informer keeps only resourceVersions (keep: versions): it has no objects to read.',
      );
    }
  }

  private remember(key: string, object: T): void {
    if (this.options.keep === 'versions') this.versions.set(key, object.metadata.resourceVersion ?? '');
    else this.objects.set(key, object);
  }

  private forget(key: string): void {
    this.objects.delete(key);
    this.versions.delete(key);
  }

  private *storedVersions(): Iterable<[string, string]> {
    yield* this.versions;
    for (const [key, object] of this.objects) yield [key, object.metadata.resourceVersion ?? ''];
  }

  /**
   * Lists page by page, replaces the store, and hands on the difference to the old store as synthetic
   * events (additions and changes as their page arrives, deletions at the end), so no more than a page of
   * whole objects is held at a time.
   */
  private async relist(): Promise<void> {
    const before = new Map<string, string>();
    for (const [key, version] of this.storedVersions()) before.set(key, version);
    const seen = new Set<string>();
    const { resourceVersion } = await this.api.listVersioned<T>(
      this.type,
      { ...this.target(), pageSize: this.options.pageSize ?? 500, signal: this.abort.signal },
      async (items) => {
        for (const item of items) {
          if (this.stopped) return;
          const key = keyOf(item);
          seen.add(key);
          const old = before.get(key);
          this.remember(key, item);
          if (old === undefined)
            await this.options.onEvent?.({ type: 'ADDED', object: item, synthetic: true });
          else if (old !== (item.metadata.resourceVersion ?? '')) {
            await this.options.onEvent?.({ type: 'MODIFIED', object: item, synthetic: true });
          }
        }
      },
    );
    if (this.stopped) return;
    for (const [key, version] of before) {
      if (seen.has(key)) continue;
      const gone = this.objects.get(key) ?? placeholder<T>(key, version);
      this.forget(key);
      if (this.stopped) return;
      await this.options.onEvent?.({ type: 'DELETED', object: gone, synthetic: true });
    }
    this.version = resourceVersion;
    this.options.onProgress?.(resourceVersion);
  }

  private async apply(event: WatchEvent<T>): Promise<void> {
    const rv = event.object.metadata.resourceVersion;
    if (event.type === 'BOOKMARK') {
      if (rv !== undefined && rv !== '') {
        this.version = rv;
        this.options.onProgress?.(rv);
      }
      return;
    }
    const key = keyOf(event.object);
    if (event.type === 'DELETED') this.forget(key);
    else this.remember(key, event.object);
    if (rv !== undefined && rv !== '') this.version = rv;
    await this.options.onEvent?.({ ...event, synthetic: false });
    if (rv !== undefined && rv !== '') this.options.onProgress?.(rv);
  }

  /** Waits the back-off for the `attempt`-th failure in a row; {@link stop} cuts it short. */
  private async sleep(attempt: number): Promise<void> {
    const { initial, max } = this.options.backoffMs ?? { initial: 250, max: 30_000 };
    if (this.stopped) return;
    const delay = Math.min(max, initial * 2 ** Math.min(attempt, 20));
    await new Promise<void>((resolve) => {
      this.sleeper = { timer: setTimeout(resolve, delay), resolve };
    });
    this.sleeper = undefined;
  }
}
