/**
 * The shapes of the cluster port as the testkit sees them. They mirror `ClusterApi` of
 * `@registry-push/core` structurally (the testkit cannot depend on the core, whose tests depend on it), so a
 * `MemoryCluster` is a `ClusterApi` and a `ClusterClient` is a {@link ContractCluster}.
 */

/** A kind: where it lives and what RBAC calls it (the core's `ResourceType`). */
export interface ResourceKind {
  /** `group/version`, or `v1` for the core group. */
  readonly apiVersion: string;
  readonly kind: string;
  /** The lower-case plural RBAC and URLs use. */
  readonly plural: string;
  readonly namespaced: boolean;
}

/** The metadata fields the core reads. */
export interface ObjectMetadata {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** Any object: metadata typed, the rest open. */
export interface ClusterObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMetadata;
}

/** Options of a list. */
export interface ClusterListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Items per page (default 500; zero or less: no limit, as a real server treats `limit=-1`). */
  pageSize?: number;
  onPage?: (itemsSoFar: number) => void;
  beforePage?: () => Promise<void>;
}

/** Options of a list that reports its resourceVersion (the core's `VersionedListOptions`). */
export interface ClusterVersionedListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Items per page (default 500). */
  pageSize?: number;
  /** Aborting ends the list. */
  signal?: AbortSignal;
}

/** What such a list read: the resourceVersion it was read at, and how many items it handed over. */
export interface ClusterVersionedList {
  resourceVersion: string;
  count: number;
}

/** A watch event. */
export type ClusterWatchEvent<T extends ClusterObject = ClusterObject> =
  | { type: 'ADDED'; object: T }
  | { type: 'MODIFIED'; object: T }
  | { type: 'DELETED'; object: T }
  | { type: 'BOOKMARK'; object: { metadata: { resourceVersion: string } } };

/** Options of one watch request. */
export interface ClusterWatchOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  allowWatchBookmarks?: boolean;
  timeoutSeconds?: number;
  bufferSize?: number;
  /** Aborting ends the request. */
  signal?: AbortSignal;
}

/** One watch request's events. */
export interface ClusterWatchStream<T extends ClusterObject = ClusterObject> extends AsyncIterable<
  ClusterWatchEvent<T>
> {
  next(): Promise<ClusterWatchEvent<T> | undefined>;
  close(): void;
}

/** A SelfSubjectAccessReview question. */
export interface ClusterAccessCheck {
  verb: string;
  resource: string;
  group?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** What the contract suite drives: the cluster port's methods. */
export interface ContractCluster {
  readonly server: string;
  get<T extends ClusterObject>(type: ResourceKind, name: string, namespace?: string): Promise<T>;
  find<T extends ClusterObject>(type: ResourceKind, name: string, namespace?: string): Promise<T | undefined>;
  list<T extends ClusterObject>(type: ResourceKind, options?: ClusterListOptions): Promise<T[]>;
  listPages<T extends ClusterObject>(
    type: ResourceKind,
    options: ClusterListOptions,
    onPage: (items: T[]) => void,
  ): Promise<number>;
  listVersioned<T extends ClusterObject>(
    type: ResourceKind,
    options: ClusterVersionedListOptions,
    onPage: (items: T[]) => void | Promise<void>,
  ): Promise<ClusterVersionedList>;
  create<T extends ClusterObject>(type: ResourceKind, body: T, options?: { dryRun?: boolean }): Promise<T>;
  replace<T extends ClusterObject>(type: ResourceKind, body: T): Promise<T>;
  replaceStatus<T extends ClusterObject>(type: ResourceKind, body: T): Promise<T>;
  mergePatch<T extends ClusterObject>(
    type: ResourceKind,
    name: string,
    patch: object,
    namespace?: string,
  ): Promise<T>;
  delete(
    type: ResourceKind,
    name: string,
    namespace?: string,
    preconditions?: { resourceVersion?: string; uid?: string },
  ): Promise<boolean>;
  watch<T extends ClusterObject>(
    type: ResourceKind,
    options?: ClusterWatchOptions,
  ): Promise<ClusterWatchStream<T>>;
  currentVersion(type: ResourceKind): Promise<string>;
  whoami(): Promise<{ username: string; groups: string[] }>;
  canI(check: ClusterAccessCheck): Promise<boolean>;
  bearerToken(): Promise<string | undefined>;
  close(): Promise<void>;
}

/**
 * How an in-memory implementation makes its errors. The core's tests pass one that builds its
 * `RegistryPushError`, so the code under test sees the same error type as from the real client; the
 * default is {@link PortError}.
 */
export type PortErrorFactory = (
  code: string,
  message: string,
  details: { status: number; retryable: boolean },
) => Error;

/** The error the in-memory ports throw by default: a stable `code` (the core's), the HTTP status it stands for. */
export class PortError extends Error {
  override readonly name = 'PortError';

  constructor(
    readonly code: string,
    message: string,
    readonly details: { status: number; retryable: boolean },
  ) {
    super(message);
    Object.setPrototypeOf(this, new.target.prototype);
  }

  /** Whether trying again may help (409, 410, 429, 5xx). */
  get retryable(): boolean {
    return this.details.retryable;
  }
}

/** The default {@link PortErrorFactory}. */
export const portError: PortErrorFactory = (code, message, details) => new PortError(code, message, details);
