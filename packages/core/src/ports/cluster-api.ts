/**
 * The cluster port: what the core asks of a Kubernetes/OpenShift API server, as one small interface. The
 * entry points take it as their `client`; `ClusterClient` (client-node over HTTPS) is the real
 * implementation, `MemoryCluster` in `@registry-push/testkit` the in-memory one, and the testkit's
 * `clusterApiContract` holds both (and the simulator, and a real cluster) to the same behaviour.
 */
import type { ClusterAccessSource } from '../cluster/kubeconfig.js';
import type { ResourceType } from '../cluster/resources.js';

/** The metadata fields the tools read. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** Any Kubernetes object: its metadata typed, the rest open. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

/** Options of {@link ClusterApi.list} and {@link ClusterApi.listPages}. */
export interface ListOptions {
  /** Limit to one namespace; all namespaces otherwise (for namespaced kinds). */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Items per page (default 500, as kubectl). */
  pageSize?: number;
  /** Called after each page with the number of items read so far (for progress displays). */
  onPage?: (itemsSoFar: number) => void;
  /** Awaited before each page is requested (a caller's rate limit: a paged list is many calls). */
  beforePage?: () => Promise<void>;
}

/** One SelfSubjectAccessReview question. */
export interface AccessCheck {
  verb: string;
  /** Plural resource name, e.g. `imagestreams`. */
  resource: string;
  group?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** The identity behind the credentials. */
export interface Identity {
  username: string;
  groups: string[];
}

/** A watch event with its object typed; `BOOKMARK` only carries `metadata.resourceVersion`. */
export type WatchEvent<T extends KubeObject = KubeObject> =
  | { type: 'ADDED'; object: T }
  | { type: 'MODIFIED'; object: T }
  | { type: 'DELETED'; object: T }
  | { type: 'BOOKMARK'; object: { metadata: { resourceVersion: string } } };

/** Where a watch or list goes. */
export interface WatchTarget {
  /** One namespace; all namespaces (or the cluster scope) otherwise. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

/** Options of one watch request. */
export interface WatchRequestOptions extends WatchTarget {
  /** Resume after this resourceVersion; empty/absent starts with the current state as ADDED events. */
  resourceVersion?: string;
  /** Ask for BOOKMARK events (default true). */
  allowWatchBookmarks?: boolean;
  /** Server-side timeout of the request; the stream ends normally after it. */
  timeoutSeconds?: number;
  /** Events buffered before the response is paused (default 256). */
  bufferSize?: number;
  /** Aborting ends the request, while it opens or later (a pending `next()` then returns undefined). */
  signal?: AbortSignal;
}

/** Options of {@link ClusterApi.listVersioned}. */
export interface VersionedListOptions extends WatchTarget {
  /** Items per page (default 500). */
  pageSize?: number;
  /** Aborting ends the list between pages (and the page being read). */
  signal?: AbortSignal;
}

/** What {@link ClusterApi.listVersioned} read. */
export interface VersionedList {
  /**
   * The resourceVersion the list was read at (every page of a paged list is read at the first page's): a
   * watch from it sees every change after the list, and none before.
   */
  resourceVersion: string;
  /** Items handed over. */
  count: number;
}

/**
 * The events of one watch request. Iterating ends when the server ends the request; an ERROR event throws
 * (code `GONE` for 410); leaving the loop or {@link ClusterWatch.close} ends the request.
 */
export interface ClusterWatch<T extends KubeObject = KubeObject> extends AsyncIterable<WatchEvent<T>> {
  /** The next event, or undefined at the end of the stream. */
  next(): Promise<WatchEvent<T> | undefined>;
  /** Ends the request; a pending {@link ClusterWatch.next} returns undefined. */
  close(): void;
}

/** One operation of an RFC 6902 JSON patch, as the core sends them. */
export type JsonPatchOperation =
  { op: 'test'; path: string; value: unknown } | { op: 'remove'; path: string };

/** The preconditions of a delete: it only happens while the object still has them (409 otherwise). */
export interface DeletePreconditions {
  resourceVersion?: string;
  uid?: string;
}

/**
 * The cluster API as the core uses it. Every failure rejects with an error whose `code` says what the
 * server answered: `NOT_FOUND` (404), `CONFLICT` (409: AlreadyExists, or a stale `resourceVersion`),
 * `GONE` (410: an expired continue token or watch position), `INVALID` (422, the field causes in the
 * message), `API_ERROR` with `details.status` 400 (a body the server cannot decode, e.g. Secret data that
 * is not base64), `FORBIDDEN` (403, naming user, verb and resource), `TOKEN_INVALID` (401). The real
 * implementation's errors are `RegistryPushError`s.
 */
export interface ClusterApi {
  /** The API server URL (for messages). */
  readonly server: string;
  /** Where the credentials came from (decides how a token found in them is reported); absent in tests. */
  readonly source?: ClusterAccessSource;
  /** Read one object; `NOT_FOUND` when it does not exist. */
  get<T extends KubeObject>(type: ResourceType, name: string, namespace?: string): Promise<T>;
  /** Read one object, or undefined when it does not exist. */
  find<T extends KubeObject>(type: ResourceType, name: string, namespace?: string): Promise<T | undefined>;
  /** Every object of a kind, read in pages; an expired continue token restarts the whole list. */
  list<T extends KubeObject>(type: ResourceType, options?: ListOptions): Promise<T[]>;
  /**
   * Every object of a kind, handed to `onPage` one page at a time; an expired continue token is `GONE`
   * (pages already handed over cannot be taken back). Returns the count.
   */
  listPages<T extends KubeObject>(
    type: ResourceType,
    options: ListOptions,
    onPage: (items: T[]) => void,
  ): Promise<number>;
  /**
   * Every object of a kind, handed to `onPage` one page at a time (awaited before the next page is read),
   * and the resourceVersion the list was read at: the start of a list-then-watch (the `Informer`). An
   * expired continue token is `GONE` (pages already handed over cannot be taken back).
   */
  listVersioned<T extends KubeObject>(
    type: ResourceType,
    options: VersionedListOptions,
    onPage: (items: T[]) => void | Promise<void>,
  ): Promise<VersionedList>;
  /** Create an object (`dryRun` validates and returns it without storing); AlreadyExists is `CONFLICT`. */
  create<T extends KubeObject>(type: ResourceType, body: T, options?: { dryRun?: boolean }): Promise<T>;
  /** Replace an object (PUT); a stale `metadata.resourceVersion` is `CONFLICT`. */
  replace<T extends KubeObject>(type: ResourceType, body: T): Promise<T>;
  /** Replace an object's `status` through the status subresource (the rest of the body is ignored). */
  replaceStatus<T extends KubeObject>(type: ResourceType, body: T): Promise<T>;
  /** Apply a JSON merge patch (RFC 7386). */
  mergePatch<T extends KubeObject>(
    type: ResourceType,
    name: string,
    patch: object,
    namespace?: string,
  ): Promise<T>;
  /**
   * Apply an RFC 6902 JSON patch to an object's `status` subresource: every operation or none (a failed
   * `test` is `INVALID`). Optional: without it, callers read the object and replace its status instead.
   */
  patchStatus?<T extends KubeObject>(
    type: ResourceType,
    name: string,
    operations: readonly JsonPatchOperation[],
    namespace?: string,
  ): Promise<T>;
  /** Delete an object; false when it was already gone. */
  delete(
    type: ResourceType,
    name: string,
    namespace?: string,
    preconditions?: DeletePreconditions,
  ): Promise<boolean>;
  /** One watch request (no resume, no re-list: see `Informer` for that). */
  watch<T extends KubeObject>(type: ResourceType, options?: WatchRequestOptions): Promise<ClusterWatch<T>>;
  /** The current resourceVersion of a kind's collection (a quorum read). */
  currentVersion(type: ResourceType): Promise<string>;
  /** Who the credentials belong to (OpenShift's `users/~`). */
  whoami(): Promise<Identity>;
  /** Whether the current user may do something (a SelfSubjectAccessReview). */
  canI(check: AccessCheck): Promise<boolean>;
  /** The bearer token the implementation sends, if it uses one. */
  bearerToken(): Promise<string | undefined>;
  /** Releases connections; idle ones never keep the process alive. */
  close(): Promise<void>;
}
