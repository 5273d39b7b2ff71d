/**
 * An in-memory cluster with the API semantics the core relies on: resourceVersions from one counter,
 * 409 on a stale write, consistent paged lists whose continue tokens expire on compaction (410), watches
 * from a resourceVersion with bookmarks and 410 for a compacted one, the status subresource, 422 with
 * field causes for the invalid values a real server refuses, and 403 for what a user may not do. The
 * testkit's `clusterApiContract` holds it, openshift-sim and a real cluster to the same behaviour.
 */
import { randomUUID } from 'node:crypto';
import {
  portError,
  type ClusterAccessCheck,
  type ClusterListOptions,
  type ClusterObject,
  type ClusterVersionedList,
  type ClusterVersionedListOptions,
  type ClusterWatchEvent,
  type ClusterWatchOptions,
  type ClusterWatchStream,
  type ContractCluster,
  type PortErrorFactory,
  type ResourceKind,
} from './cluster-types.js';
import { causesFor, normalize, type FieldCause } from './validation.js';

/** Options of {@link MemoryCluster}. */
export interface MemoryClusterOptions {
  /** How errors are made (default {@link PortError}s); the core's tests pass its `RegistryPushError`. */
  error?: PortErrorFactory;
  /** Who the client is (default `kube:admin` in `system:cluster-admins`). */
  user?: { username: string; groups: string[] };
  /** What the user may do (default everything). */
  allow?: (check: ClusterAccessCheck) => boolean;
  /** The bearer token {@link MemoryCluster.bearerToken} reports. */
  token?: string;
  /** Kinds without a status subresource (default: ConfigMap, Secret, ServiceAccount, Event and Endpoints). */
  withoutStatus?: (type: ResourceKind) => boolean;
}

type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

interface Change {
  rv: number;
  kind: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: ClusterObject;
  /** The object before a MODIFIED change (a watch with selectors needs to know whether it matched then). */
  previous?: ClusterObject;
}

/** The state several {@link MemoryCluster} views (users) share. */
class Store {
  readonly objects = new Map<string, ClusterObject>();
  readonly changes: Change[] = [];
  readonly lists = new Map<string, ClusterObject[]>();
  readonly watchers = new Set<(change: Change) => void>();
  revision = 1;
  compactedAt = 0;
}

const NO_STATUS = new Set([
  'v1/ConfigMap',
  'v1/Secret',
  'v1/ServiceAccount',
  'v1/Event',
  'v1/Endpoints',
  'image.openshift.io/v1/Image',
]);
const clone = <T>(value: T): T => structuredClone(value);

/** `work`'s result or throw as a settled promise (the in-memory API answers at once, but asynchronously). */
function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}
const kindKey = (type: ResourceKind): string => `${type.apiVersion}/${type.kind}`;
const resourceName = (type: ResourceKind): string => {
  const slash = type.apiVersion.indexOf('/');
  return slash < 0 ? type.plural : `${type.plural}.${type.apiVersion.slice(0, slash)}`;
};

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return clone(patch);
  const base =
    typeof target === 'object' && target !== null && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete base[key];
    else base[key] = mergePatch(base[key], value);
  }
  return base;
}

/** `a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-separated: the equality-based label selectors. */
function matchesLabels(selector: string | undefined, labels: Record<string, string> = {}): boolean {
  if (selector === undefined || selector === '') return true;
  return selector.split(',').every((term) => {
    const t = term.trim();
    const not = /^(.+?)!=(.*)$/.exec(t);
    if (not) return labels[not[1] ?? ''] !== not[2];
    const eq = /^(.+?)==?(.*)$/.exec(t);
    if (eq) return labels[eq[1] ?? ''] === eq[2];
    if (t.startsWith('!')) return !(t.slice(1) in labels);
    return t in labels;
  });
}

/** `metadata.name=x` and `metadata.namespace=y` (and `!=`): the field selectors every kind has. */
function matchesFields(selector: string | undefined, object: ClusterObject): boolean {
  if (selector === undefined || selector === '') return true;
  return selector.split(',').every((term) => {
    const match = /^(metadata\.name|metadata\.namespace)(!=|==?)(.*)$/.exec(term.trim());
    if (match === null) return false;
    const value = match[1] === 'metadata.name' ? object.metadata.name : (object.metadata.namespace ?? '');
    return match[2] === '!=' ? value !== match[3] : value === match[3];
  });
}

/** The events of one in-memory watch. */
class MemoryWatch<T extends ClusterObject> implements ClusterWatchStream<T> {
  private readonly queue: (ClusterWatchEvent<T> | Error)[] = [];
  private wake: (() => void) | undefined;
  private ended = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly unsubscribe: () => void,
    timeoutSeconds: number | undefined,
    private readonly bookmark: (() => string) | undefined,
  ) {
    if (timeoutSeconds !== undefined) {
      this.timer = setTimeout(() => this.end(), timeoutSeconds * 1000);
      this.timer.unref();
    }
  }

  push(item: ClusterWatchEvent<T> | Error): void {
    if (this.ended) return;
    this.queue.push(item);
    this.signal();
  }

  /** The server's end of the request: a bookmark at the current revision first when bookmarks were asked. */
  end(): void {
    if (this.ended) return;
    if (this.bookmark !== undefined) {
      this.queue.push({ type: 'BOOKMARK', object: { metadata: { resourceVersion: this.bookmark() } } });
    }
    this.finish();
  }

  private finish(): void {
    this.ended = true;
    clearTimeout(this.timer);
    this.unsubscribe();
    this.signal();
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  async next(): Promise<ClusterWatchEvent<T> | undefined> {
    for (;;) {
      const item = this.queue.shift();
      if (item instanceof Error) {
        this.close();
        throw item;
      }
      if (item !== undefined) return item;
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  close(): void {
    this.queue.length = 0;
    this.finish();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ClusterWatchEvent<T>> {
    try {
      for (let event = await this.next(); event !== undefined; event = await this.next()) yield event;
    } finally {
      this.close();
    }
  }
}

/**
 * An in-memory implementation of the core's cluster port. {@link MemoryCluster.as} gives a view of the same
 * state for another user (with other rights); {@link MemoryCluster.compact} expires continue tokens and old
 * resourceVersions as etcd compaction does.
 */
export class MemoryCluster implements ContractCluster {
  readonly server = 'memory://cluster';
  readonly source = 'kubeconfig' as const;
  private readonly store: Store;
  private readonly error: PortErrorFactory;
  private readonly user: { username: string; groups: string[] };
  private readonly allow: (check: ClusterAccessCheck) => boolean;

  constructor(
    private readonly options: MemoryClusterOptions = {},
    store?: Store,
  ) {
    this.store = store ?? new Store();
    this.error = options.error ?? portError;
    this.user = options.user ?? { username: 'kube:admin', groups: ['system:cluster-admins'] };
    this.allow = options.allow ?? (() => true);
  }

  /** A client of the same cluster for another user. */
  as(
    user: { username: string; groups?: string[] },
    allow: (check: ClusterAccessCheck) => boolean,
  ): MemoryCluster {
    return new MemoryCluster(
      { ...this.options, user: { username: user.username, groups: user.groups ?? [] }, allow },
      this.store,
    );
  }

  /** Forgets history up to now: continue tokens and older resourceVersions get 410 Gone. */
  compact(): void {
    this.store.compactedAt = ++this.store.revision;
    this.store.changes.length = 0;
    this.store.lists.clear();
  }

  /**
   * Stores an object as given — its creationTimestamp, status and generation included — as if it had been
   * created so, for test fixtures (a uid is added when it has none). Replaces an object of the same name.
   */
  seed<T extends ClusterObject>(type: ResourceKind, object: T): T {
    const stored = clone(object);
    stored.apiVersion = type.apiVersion;
    stored.kind = type.kind;
    stored.metadata = {
      uid: randomUUID(),
      creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      ...stored.metadata,
      resourceVersion: String(++this.store.revision),
    };
    const key = this.key(type, stored.metadata.name, stored.metadata.namespace);
    const previous = this.store.objects.get(key);
    this.store.objects.set(key, stored);
    this.record(
      type,
      previous === undefined
        ? { rv: this.store.revision, type: 'ADDED', object: stored }
        : { rv: this.store.revision, type: 'MODIFIED', object: stored, previous },
    );
    return clone(stored);
  }

  /** Every object of a kind as stored (for assertions). */
  objectsOf<T extends ClusterObject>(type: ResourceKind): T[] {
    return [...this.store.objects.entries()]
      .filter(([key]) => key.startsWith(`${kindKey(type)}|`))
      .map(([, object]) => clone(object) as T);
  }

  private fail(code: string, status: number, message: string): Error {
    return this.error(code, message, {
      status,
      retryable: [409, 410, 429].includes(status) || status >= 500,
    });
  }

  private target(type: ResourceKind, name: string | undefined, namespace: string | undefined): string {
    const what = name === undefined ? resourceName(type) : `${resourceName(type)} "${name}"`;
    return type.namespaced && namespace !== undefined ? `${what} in namespace "${namespace}"` : what;
  }

  private authorize(
    verb: Verb,
    type: ResourceKind,
    name?: string,
    namespace?: string,
    subresource?: string,
  ): void {
    const slash = type.apiVersion.indexOf('/');
    const check: ClusterAccessCheck = {
      verb,
      resource: type.plural,
      group: slash < 0 ? '' : type.apiVersion.slice(0, slash),
      ...(subresource === undefined ? {} : { subresource }),
      ...(type.namespaced && namespace !== undefined ? { namespace } : {}),
      ...(name === undefined ? {} : { name }),
    };
    if (this.allow(check)) return;
    const scope =
      check.namespace === undefined ? 'at the cluster scope' : `in namespace "${check.namespace}"`;
    const resource = subresource === undefined ? resourceName(type) : `${resourceName(type)}/${subresource}`;
    throw this.fail(
      'FORBIDDEN',
      403,
      `User "${this.user.username}" may not ${verb} ${resource}${name === undefined ? '' : ` "${name}"`} ${scope}.`,
    );
  }

  private key(type: ResourceKind, name: string, namespace: string | undefined): string {
    return `${kindKey(type)}|${type.namespaced ? (namespace ?? '') : ''}|${name}`;
  }

  private hasStatus(type: ResourceKind): boolean {
    return !(this.options.withoutStatus?.(type) ?? NO_STATUS.has(kindKey(type)));
  }

  private record(type: ResourceKind, change: Omit<Change, 'kind'>): void {
    const full = { ...change, kind: kindKey(type), object: clone(change.object) };
    this.store.changes.push(full);
    for (const watcher of this.store.watchers) watcher(full);
  }

  private invalid(
    type: ResourceKind,
    verb: Verb,
    name: string,
    namespace: string | undefined,
    causes: FieldCause[],
  ): Error {
    const text = causes.map((c) => `${c.field}: ${c.message}`).join('; ');
    return this.fail(
      'INVALID',
      422,
      `The cluster refused the ${verb} of ${this.target(type, name, namespace)} as invalid (${text}).`,
    );
  }

  private check(type: ResourceKind, verb: Verb, object: ClusterObject): void {
    const { name, namespace } = object.metadata;
    const found = causesFor(type, object);
    if (found.badRequest !== undefined) {
      throw this.fail(
        'API_ERROR',
        400,
        `The API server answered HTTP 400 to the ${verb} of ${this.target(type, name, namespace)} (BadRequest): ${found.badRequest}.`,
      );
    }
    if (found.causes.length > 0) throw this.invalid(type, verb, name, namespace, found.causes);
  }

  get<T extends ClusterObject>(type: ResourceKind, name: string, namespace?: string): Promise<T> {
    return settle(() => {
      this.authorize('get', type, name, namespace);
      const object = this.store.objects.get(this.key(type, name, namespace));
      if (object === undefined)
        throw this.fail('NOT_FOUND', 404, `${this.target(type, name, namespace)} was not found.`);
      return clone(object) as T;
    });
  }

  find<T extends ClusterObject>(
    type: ResourceKind,
    name: string,
    namespace?: string,
  ): Promise<T | undefined> {
    return settle(() => {
      this.authorize('get', type, name, namespace);
      const object = this.store.objects.get(this.key(type, name, namespace));
      return object === undefined ? undefined : (clone(object) as T);
    });
  }

  private matching(type: ResourceKind, options: ClusterListOptions): ClusterObject[] {
    const prefix = `${kindKey(type)}|`;
    return [...this.store.objects.entries()]
      .filter(([key]) => key.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([, object]) => object)
      .filter(
        (o) =>
          (!type.namespaced ||
            options.namespace === undefined ||
            o.metadata.namespace === options.namespace) &&
          matchesLabels(options.labelSelector, o.metadata.labels) &&
          matchesFields(options.fieldSelector, o),
      )
      .map(clone);
  }

  /** One page: the first reads now and keeps the listing; a continue token reads the same listing on. */
  private page(
    type: ResourceKind,
    options: ClusterListOptions,
    token: string | undefined,
  ): { items: ClusterObject[]; rv: number; next?: string } {
    let listing: ClusterObject[];
    let offset = 0;
    let rv: number;
    if (token === undefined) {
      rv = this.store.revision;
      listing = this.matching(type, options);
    } else {
      const parsed = JSON.parse(Buffer.from(token, 'base64url').toString()) as {
        rv: number;
        id: string;
        offset: number;
      };
      rv = parsed.rv;
      const kept = this.store.lists.get(parsed.id);
      if (rv < this.store.compactedAt || kept === undefined) {
        throw this.fail(
          'GONE',
          410,
          `The list of ${resourceName(type)} expired while it was being read (410 Gone).`,
        );
      }
      listing = kept;
      offset = parsed.offset;
    }
    const size = options.pageSize ?? 500;
    if (size <= 0 || offset + size >= listing.length) return { items: listing.slice(offset), rv };
    const id = randomUUID();
    this.store.lists.set(id, listing);
    const next = Buffer.from(JSON.stringify({ rv, id, offset: offset + size })).toString('base64url');
    return { items: listing.slice(offset, offset + size), rv, next };
  }

  /**
   * Every object of a kind, a page at a time (awaited), and the revision the list was read at: every page
   * is read at the first page's, so a watch from it sees exactly the changes after the list.
   */
  async listVersioned<T extends ClusterObject>(
    type: ResourceKind,
    options: ClusterVersionedListOptions,
    onPage: (items: T[]) => void | Promise<void>,
  ): Promise<ClusterVersionedList> {
    this.authorize('list', type, undefined, options.namespace);
    let count = 0;
    let resourceVersion: string | undefined;
    let token: string | undefined;
    do {
      if (options.signal?.aborted === true) {
        throw this.error('INTERRUPTED', `The list of ${resourceName(type)} was aborted.`, {
          status: 0,
          retryable: false,
        });
      }
      const page = this.page(type, options, token);
      resourceVersion ??= String(page.rv);
      count += page.items.length;
      await onPage(page.items as T[]);
      token = page.next;
    } while (token !== undefined);
    return { resourceVersion: resourceVersion ?? String(this.store.revision), count };
  }

  async listPages<T extends ClusterObject>(
    type: ResourceKind,
    options: ClusterListOptions,
    onPage: (items: T[]) => void,
  ): Promise<number> {
    this.authorize('list', type, undefined, options.namespace);
    let count = 0;
    let token: string | undefined;
    do {
      await options.beforePage?.();
      const page = this.page(type, options, token);
      count += page.items.length;
      onPage(page.items as T[]);
      options.onPage?.(count);
      token = page.next;
    } while (token !== undefined);
    return count;
  }

  /** Every object of a kind; an expired continue token restarts the list (up to 3 times), as the core's client does. */
  async list<T extends ClusterObject>(type: ResourceKind, options: ClusterListOptions = {}): Promise<T[]> {
    for (let attempt = 0; ; attempt++) {
      const items: T[] = [];
      try {
        await this.listPages<T>(type, options, (page) => items.push(...page));
        return items;
      } catch (error) {
        if ((error as { code?: unknown }).code !== 'GONE' || attempt >= 3) throw error;
      }
    }
  }

  create<T extends ClusterObject>(
    type: ResourceKind,
    body: T,
    options: { dryRun?: boolean } = {},
  ): Promise<T> {
    return settle(() => {
      const { name, namespace } = body.metadata;
      this.authorize('create', type, undefined, namespace);
      const key = this.key(type, name, namespace);
      this.check(type, 'create', body);
      if (this.store.objects.has(key)) {
        throw this.fail(
          'CONFLICT',
          409,
          `${this.target(type, name, namespace)} already exists (409 AlreadyExists).`,
        );
      }
      const object = clone(body) as T & { status?: unknown };
      if (this.hasStatus(type)) delete object.status;
      object.apiVersion = type.apiVersion;
      object.kind = type.kind;
      object.metadata = {
        ...object.metadata,
        ...(type.namespaced ? {} : { namespace: undefined }),
        uid: randomUUID(),
        creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        ...(this.hasStatus(type) ? { generation: 1 } : {}),
      };
      if (!type.namespaced) delete object.metadata.namespace;
      if (options.dryRun === true) return clone(object);
      object.metadata.resourceVersion = String(++this.store.revision);
      this.store.objects.set(key, object);
      this.record(type, { rv: this.store.revision, type: 'ADDED', object });
      return clone(object);
    });
  }

  /** Stores `next` over `current` (same key), moving the generation on when anything but metadata and status changed. */
  private write(type: ResourceKind, current: ClusterObject, next: ClusterObject): ClusterObject {
    const strip = (o: ClusterObject): unknown => {
      const { metadata: _m, status: _s, ...rest } = o as ClusterObject & { status?: unknown };
      return rest;
    };
    normalize(type, next);
    const changed = JSON.stringify(strip(current)) !== JSON.stringify(strip(next));
    next.metadata = {
      ...next.metadata,
      uid: current.metadata.uid,
      creationTimestamp: current.metadata.creationTimestamp,
      resourceVersion: String(++this.store.revision),
      ...(current.metadata.generation === undefined
        ? {}
        : { generation: current.metadata.generation + (changed ? 1 : 0) }),
    };
    if (current.metadata.generation === undefined) delete next.metadata.generation;
    this.store.objects.set(this.key(type, current.metadata.name, current.metadata.namespace), next);
    // `current` left the store just now: nothing else holds it, so it needs no copy.
    this.record(type, { rv: this.store.revision, type: 'MODIFIED', object: next, previous: current });
    return clone(next);
  }

  private current(type: ResourceKind, verb: Verb, body: ClusterObject): ClusterObject {
    const { name, namespace, resourceVersion } = body.metadata;
    const current = this.store.objects.get(this.key(type, name, namespace));
    if (current === undefined)
      throw this.fail('NOT_FOUND', 404, `${this.target(type, name, namespace)} was not found.`);
    if (
      resourceVersion !== undefined &&
      resourceVersion !== '' &&
      resourceVersion !== current.metadata.resourceVersion
    ) {
      throw this.fail(
        'CONFLICT',
        409,
        `${this.target(type, name, namespace)} was changed by someone else while we were updating it (409 Conflict).`,
      );
    }
    void verb;
    return current;
  }

  replace<T extends ClusterObject>(type: ResourceKind, body: T): Promise<T> {
    return settle(() => {
      this.authorize('update', type, body.metadata.name, body.metadata.namespace);
      const current = this.current(type, 'update', body);
      this.check(type, 'update', body);
      const next = clone(body) as T & { status?: unknown };
      next.apiVersion = type.apiVersion;
      next.kind = type.kind;
      if (this.hasStatus(type)) {
        const status = (current as { status?: unknown }).status;
        if (status === undefined) delete next.status;
        else next.status = clone(status);
      }
      return this.write(type, current, next) as T;
    });
  }

  replaceStatus<T extends ClusterObject>(type: ResourceKind, body: T): Promise<T> {
    return settle(() => {
      const { name, namespace } = body.metadata;
      this.authorize('update', type, name, namespace, 'status');
      if (!this.hasStatus(type))
        throw this.fail('NOT_FOUND', 404, `${this.target(type, name, namespace)} has no status.`);
      const current = this.current(type, 'update', body);
      const next = {
        ...clone(current),
        status: clone((body as { status?: unknown }).status),
      } as unknown as T;
      // As kube: a status write changes the status stanza only, metadata included.
      next.metadata = clone(current.metadata);
      this.check(type, 'update', next);
      return this.write(type, current, next) as T;
    });
  }

  mergePatch<T extends ClusterObject>(
    type: ResourceKind,
    name: string,
    patch: object,
    namespace?: string,
  ): Promise<T> {
    return settle(() => {
      this.authorize('patch', type, name, namespace);
      const rv = (patch as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion;
      const current = this.current(type, 'patch', {
        metadata: {
          name,
          ...(namespace === undefined ? {} : { namespace }),
          ...(rv === undefined ? {} : { resourceVersion: rv }),
        },
      });
      const next = mergePatch(current, patch) as T & { status?: unknown };
      next.metadata = { ...next.metadata, name: current.metadata.name };
      if (current.metadata.namespace !== undefined) next.metadata.namespace = current.metadata.namespace;
      if (this.hasStatus(type)) {
        const status = (current as { status?: unknown }).status;
        if (status === undefined) delete next.status;
        else next.status = clone(status);
      }
      this.check(type, 'patch', next);
      return this.write(type, current, next) as T;
    });
  }

  delete(
    type: ResourceKind,
    name: string,
    namespace?: string,
    preconditions?: { resourceVersion?: string; uid?: string },
  ): Promise<boolean> {
    return settle(() => {
      this.authorize('delete', type, name, namespace);
      const key = this.key(type, name, namespace);
      const current = this.store.objects.get(key);
      if (current === undefined) return false;
      const stale =
        (preconditions?.resourceVersion !== undefined &&
          preconditions.resourceVersion !== current.metadata.resourceVersion) ||
        (preconditions?.uid !== undefined && preconditions.uid !== current.metadata.uid);
      if (stale) {
        throw this.fail(
          'CONFLICT',
          409,
          `${this.target(type, name, namespace)} was changed by someone else while we were updating it (409 Conflict).`,
        );
      }
      this.store.objects.delete(key);
      const gone = {
        ...clone(current),
        metadata: { ...current.metadata, resourceVersion: String(++this.store.revision) },
      };
      this.record(type, { rv: this.store.revision, type: 'DELETED', object: gone });
      return true;
    });
  }

  watch<T extends ClusterObject>(
    type: ResourceKind,
    options: ClusterWatchOptions = {},
  ): Promise<ClusterWatchStream<T>> {
    return settle(() => {
      this.authorize('watch', type, undefined, options.namespace);
      const selected = (o: ClusterObject): boolean =>
        (!type.namespaced || options.namespace === undefined || o.metadata.namespace === options.namespace) &&
        matchesLabels(options.labelSelector, o.metadata.labels) &&
        matchesFields(options.fieldSelector, o);
      let unsubscribe = (): void => undefined;
      const stream = new MemoryWatch<T>(
        () => unsubscribe(),
        options.timeoutSeconds,
        options.allowWatchBookmarks === false ? undefined : () => String(this.store.revision),
      );
      // As kube's watch cache: an object that starts matching the selectors is ADDED for this watch, one
      // that stops matching is DELETED with its previous content (at the change's resourceVersion), a
      // deleted one is sent if it matched.
      const send = (change: Change): void => {
        if (change.kind !== kindKey(type)) return;
        const matches = selected(change.object);
        const matched = change.previous !== undefined && selected(change.previous);
        let kind: ClusterWatchEvent['type'] | undefined;
        let object = change.object;
        if (change.type !== 'MODIFIED') kind = matches ? change.type : undefined;
        else if (matches) kind = matched ? 'MODIFIED' : 'ADDED';
        else if (matched && change.previous !== undefined) {
          kind = 'DELETED';
          const resourceVersion = change.object.metadata.resourceVersion ?? '';
          object = { ...change.previous, metadata: { ...change.previous.metadata, resourceVersion } };
        }
        if (kind === undefined) return;
        stream.push({ type: kind, object: clone(object) as T } as ClusterWatchEvent<T>);
      };
      const from = options.resourceVersion;
      if (from === undefined || from === '' || from === '0') {
        for (const object of this.matching(type, options))
          stream.push({ type: 'ADDED', object: object as T });
      } else if (Number(from) < this.store.compactedAt) {
        stream.push(
          this.fail(
            'GONE',
            410,
            `The watch of ${resourceName(type)} fell behind the server's history (410 Gone).`,
          ),
        );
        return stream;
      } else {
        for (const change of this.store.changes) if (change.rv > Number(from)) send(change);
      }
      this.store.watchers.add(send);
      unsubscribe = () => this.store.watchers.delete(send);
      const signal = options.signal;
      if (signal !== undefined) {
        const abort = (): void => stream.close();
        if (signal.aborted) abort();
        else signal.addEventListener('abort', abort, { once: true });
      }
      return stream;
    });
  }

  currentVersion(type: ResourceKind): Promise<string> {
    return settle(() => {
      this.authorize('list', type);
      return String(this.store.revision);
    });
  }

  whoami(): Promise<{ username: string; groups: string[] }> {
    return settle(() => {
      return clone(this.user);
    });
  }

  canI(check: ClusterAccessCheck): Promise<boolean> {
    return settle(() => {
      return this.allow(check);
    });
  }

  bearerToken(): Promise<string | undefined> {
    return settle(() => {
      return this.options.token;
    });
  }

  async close(): Promise<void> {
    // nothing to release
  }
}
