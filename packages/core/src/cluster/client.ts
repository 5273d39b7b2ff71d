import {
  AuthorizationV1Api,
  createConfiguration,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  ServerConfiguration,
  setHeaderMiddleware,
  type KubeConfig,
  type KubernetesObject,
  type RequestContext,
  type SecurityAuthentication,
} from '@kubernetes/client-node';
import type { RequestOptions } from 'node:https';
import { RegistryPushError } from '../errors.js';
import { toClusterError, type ApiRequest } from './api-errors.js';
import { ApiConnections } from './connections.js';
import { loadClusterAccess, type ClusterAccessOptions, type ClusterAccessSource } from './kubeconfig.js';
import { Informer, type InformerOptions } from './informer.js';
import { groupOf, qualifiedName, versionOf, type ResourceType } from './resources.js';
import { RawApi, type WatchStream } from './watch.js';
import type {
  AccessCheck,
  ClusterApi,
  DeletePreconditions,
  Identity,
  JsonPatchOperation,
  KubeObject,
  ListOptions,
  VersionedList,
  VersionedListOptions,
  WatchRequestOptions,
} from '../ports/cluster-api.js';

export type { AccessCheck, Identity, KubeObject, ListOptions, ObjectMeta } from '../ports/cluster-api.js';

/** What the API server's audit log names as the client. */
const USER_AGENT = 'registry-push';

/** client-node's object API on a given configuration, with the KubeConfig's namespace as the default. */
class ObjectApi extends KubernetesObjectApi {
  constructor(configuration: ConstructorParameters<typeof KubernetesObjectApi>[0], kubeConfig: KubeConfig) {
    super(configuration);
    this.setDefaultNamespace(kubeConfig);
  }
}

/** One page of a list as plain JSON. */
interface ListPage {
  items: unknown[];
  metadata?: { continue?: string };
}

/** How long one API call may take before it counts as a timeout. */
const REQUEST_TIMEOUT_MS = 30_000;
/** How often a paged list restarts after its continue token expired (410) before giving up. */
const LIST_RESTARTS = 3;

function withTimeout<T>(promise: Promise<T>, request: ApiRequest): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new RegistryPushError(
          'TIMEOUT',
          `The API server did not answer the ${request.verb} of ${request.resource} within ${REQUEST_TIMEOUT_MS / 1000} s.`,
          {
            hint: 'Check the connection to the cluster and try again.',
            retryable: true,
          },
        ),
      );
    }, REQUEST_TIMEOUT_MS);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function header(
  type: ResourceType,
  name: string,
  namespace: string | undefined,
): KubernetesObject & { metadata: { name: string; namespace?: string } } {
  return {
    apiVersion: type.apiVersion,
    kind: type.kind,
    metadata: { name, ...(type.namespaced && namespace !== undefined ? { namespace } : {}) },
  };
}

/**
 * Typed access to the API server for the kinds in {@link Resources}: reads, paged lists, writes with the
 * right patch content type, status updates, identity and access reviews. Every failure is a
 * {@link RegistryPushError}; client-node's raw exceptions (which carry response bodies and headers) never
 * leave this class.
 */
export class ClusterClient implements ClusterApi {
  /** The API server URL. */
  readonly server: string;
  /** Where the access came from. */
  readonly source: ClusterAccessSource;
  private readonly objects: KubernetesObjectApi;
  private readonly custom: CustomObjectsApi;
  private readonly authorization: AuthorizationV1Api;
  private readonly raw: RawApi;
  private readonly connections: ApiConnections;

  private constructor(
    private readonly kubeConfig: KubeConfig,
    server: string,
    source: ClusterAccessSource,
  ) {
    this.server = server;
    this.source = source;
    const connections = new ApiConnections();
    this.connections = connections;
    // client-node's own authentication, then the pooled connection instead of a new agent per call.
    const auth: SecurityAuthentication = {
      getName: () => 'kubeconfig, pooled connections',
      applySecurityAuthentication: async (context: RequestContext) => {
        await kubeConfig.applySecurityAuthentication(context);
        const options: RequestOptions = {};
        await kubeConfig.applyToHTTPSOptions(options);
        context.setDispatcher(connections.dispatcher(options));
      },
    };
    const configuration = createConfiguration({
      baseServer: new ServerConfiguration(server, {}),
      authMethods: { default: auth },
      middleware: [setHeaderMiddleware('User-Agent', USER_AGENT)],
    });
    this.objects = new ObjectApi(configuration, kubeConfig);
    this.custom = new CustomObjectsApi(configuration);
    this.authorization = new AuthorizationV1Api(configuration);
    this.raw = new RawApi(kubeConfig, server, connections);
  }

  /** Closes the pooled connections to the API server (idle ones never keep the process alive). */
  async close(): Promise<void> {
    await this.connections.close();
  }

  /**
   * One watch request as an async iterator of typed events (ADDED/MODIFIED/DELETED/BOOKMARK). It ends when
   * the server ends it; an ERROR event throws the core's typed error (GONE for 410). For a live view that
   * resumes and re-lists by itself, use {@link informer}.
   */
  async watch<T extends KubeObject>(
    type: ResourceType,
    options: WatchRequestOptions = {},
  ): Promise<WatchStream<T>> {
    return this.raw.watch<T>(type, options, options.signal);
  }

  /**
   * Every object of a kind, one page at a time (awaited before the next page is read), and the
   * resourceVersion the list was read at, where a watch that follows it starts (an {@link Informer}'s
   * list). An expired continue token is GONE.
   */
  async listVersioned<T extends KubeObject>(
    type: ResourceType,
    options: VersionedListOptions,
    onPage: (items: T[]) => void | Promise<void>,
  ): Promise<VersionedList> {
    const { pageSize, signal, ...target } = options;
    return this.raw.listEach<T>(type, target, pageSize ?? 500, signal, onPage);
  }

  /**
   * The current resourceVersion of a kind's collection (one list request for a single item: a quorum read,
   * at or above every write acknowledged before it).
   */
  async currentVersion(type: ResourceType): Promise<string> {
    return this.raw.currentVersion(type);
  }

  /** An {@link Informer} of a kind (not started): list, then watch, resume, re-list on 410. */
  informer<T extends KubeObject>(type: ResourceType, options: InformerOptions<T> = {}): Informer<T> {
    return new Informer<T>(this, type, options);
  }

  /** Build a client from the options (no network traffic yet). */
  static fromOptions(options: ClusterAccessOptions = {}): ClusterClient {
    const loaded = loadClusterAccess(options);
    return new ClusterClient(loaded.kubeConfig, loaded.server, loaded.source);
  }

  private async call<T>(request: Omit<ApiRequest, 'server'>, action: () => Promise<T>): Promise<T> {
    const full = { ...request, server: this.server };
    try {
      return await withTimeout(action(), full);
    } catch (error) {
      throw toClusterError(error, full);
    }
  }

  /** Read one object; NOT_FOUND when it does not exist. */
  async get<T extends KubeObject>(type: ResourceType, name: string, namespace?: string): Promise<T> {
    return this.call({ verb: 'get', resource: qualifiedName(type), name, namespace }, async () => {
      const object = await this.objects.read(header(type, name, namespace));
      return object as unknown as T;
    });
  }

  /** Read one object, or undefined when it does not exist. */
  async find<T extends KubeObject>(
    type: ResourceType,
    name: string,
    namespace?: string,
  ): Promise<T | undefined> {
    try {
      return await this.get<T>(type, name, namespace);
    } catch (error) {
      if (error instanceof RegistryPushError && error.code === 'NOT_FOUND') return undefined;
      throw error;
    }
  }

  /**
   * Every object of a kind, handed to `onPage` one page at a time and not kept, for lists too large to hold
   * twice (Images of a big cluster). A continue token that expires mid-way is a GONE error here, since pages
   * already handed over cannot be taken back: the caller starts its own work again. Returns the count.
   */
  async listPages<T extends KubeObject>(
    type: ResourceType,
    options: ListOptions,
    onPage: (items: T[]) => void,
  ): Promise<number> {
    const request = { verb: 'list', resource: qualifiedName(type), namespace: options.namespace } as const;
    let count = 0;
    let continueToken: string | undefined;
    do {
      await options.beforePage?.();
      const page = await this.call(request, () => this.listPage(type, options, continueToken));
      count += page.items.length;
      onPage(page.items as T[]);
      options.onPage?.(count);
      continueToken = page.metadata?.continue;
    } while (continueToken !== undefined && continueToken !== '');
    return count;
  }

  /**
   * Every object of a kind, read in pages. When the continue token expires mid-way (410) the whole list
   * starts again, so the result is always one consistent listing, never a splice of two.
   */
  async list<T extends KubeObject>(type: ResourceType, options: ListOptions = {}): Promise<T[]> {
    const request = { verb: 'list', resource: qualifiedName(type), namespace: options.namespace } as const;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.listOnce<T>(type, options, request);
      } catch (error) {
        if (error instanceof RegistryPushError && error.code === 'GONE' && attempt < LIST_RESTARTS) continue;
        throw error;
      }
    }
  }

  private async listOnce<T extends KubeObject>(
    type: ResourceType,
    options: ListOptions,
    request: Omit<ApiRequest, 'server'>,
  ): Promise<T[]> {
    const items: T[] = [];
    let continueToken: string | undefined;
    do {
      const page = await this.call(request, () => this.listPage(type, options, continueToken));
      items.push(...(page.items as unknown as T[]));
      options.onPage?.(items.length);
      const next = page.metadata?.continue;
      continueToken = next === undefined || next === '' ? undefined : next;
    } while (continueToken !== undefined);
    return items;
  }

  /**
   * One page of a list, as plain JSON. Kinds of an API group go through the custom-objects API:
   * client-node's generic object API drops `metadata.continue` for kinds it has no model for (OpenShift's
   * Images, ImageStreams, Builds, ...), which would silently end such a list after its first page.
   */
  private async listPage(
    type: ResourceType,
    options: ListOptions,
    continueToken: string | undefined,
  ): Promise<ListPage> {
    const slash = type.apiVersion.indexOf('/');
    if (slash < 0) return this.corePage(type, options, continueToken);
    const query = {
      group: type.apiVersion.slice(0, slash),
      version: type.apiVersion.slice(slash + 1),
      plural: type.plural,
      limit: options.pageSize ?? 500,
      ...(continueToken === undefined ? {} : { _continue: continueToken }),
      ...(options.fieldSelector === undefined ? {} : { fieldSelector: options.fieldSelector }),
      ...(options.labelSelector === undefined ? {} : { labelSelector: options.labelSelector }),
    };
    const page = (
      type.namespaced && options.namespace !== undefined
        ? await this.custom.listNamespacedCustomObject({ ...query, namespace: options.namespace })
        : await this.custom.listClusterCustomObject(query)
    ) as { items?: unknown[]; metadata?: { continue?: string } };
    return { items: page.items ?? [], ...(page.metadata === undefined ? {} : { metadata: page.metadata }) };
  }

  /** A page of a core (`v1`) kind, which client-node has models for (its token is `_continue`). */
  private async corePage(
    type: ResourceType,
    options: ListOptions,
    continueToken: string | undefined,
  ): Promise<ListPage> {
    const page = await this.objects.list(
      type.apiVersion,
      type.kind,
      type.namespaced ? options.namespace : undefined,
      undefined,
      undefined,
      undefined,
      options.fieldSelector,
      options.labelSelector,
      options.pageSize ?? 500,
      continueToken,
    );
    const next = page.metadata?._continue;
    return { items: page.items, metadata: next === undefined ? {} : { continue: next } };
  }

  /** Create an object (`dryRun` validates and returns it without storing); AlreadyExists is CONFLICT. */
  async create<T extends KubeObject>(
    type: ResourceType,
    body: T,
    options: { dryRun?: boolean } = {},
  ): Promise<T> {
    const { name, namespace } = body.metadata;
    return this.call({ verb: 'create', resource: qualifiedName(type), name, namespace }, async () => {
      const created = await this.objects.create(
        {
          ...body,
          apiVersion: type.apiVersion,
          kind: type.kind,
        } as KubernetesObject,
        undefined,
        options.dryRun === true ? 'All' : undefined,
      );
      return created as unknown as T;
    });
  }

  /** Replace an object (PUT); the body's `resourceVersion` guards against lost updates (409). */
  async replace<T extends KubeObject>(type: ResourceType, body: T): Promise<T> {
    const { name, namespace } = body.metadata;
    return this.call({ verb: 'update', resource: qualifiedName(type), name, namespace }, async () => {
      const replaced = await this.objects.replace({
        ...body,
        apiVersion: type.apiVersion,
        kind: type.kind,
      } as KubernetesObject);
      return replaced as unknown as T;
    });
  }

  /** Replace an object's `status` through the status subresource (for kinds outside the core group). */
  async replaceStatus<T extends KubeObject>(type: ResourceType, body: T): Promise<T> {
    const { name, namespace } = body.metadata;
    const group = groupOf(type);
    const version = versionOf(type);
    const fullBody = { ...body, apiVersion: type.apiVersion, kind: type.kind };
    return this.call(
      { verb: 'update', resource: `${qualifiedName(type)}/status`, name, namespace },
      async () => {
        const result: unknown =
          type.namespaced && namespace !== undefined
            ? await this.custom.replaceNamespacedCustomObjectStatus({
                group,
                version,
                namespace,
                plural: type.plural,
                name,
                body: fullBody,
              })
            : await this.custom.replaceClusterCustomObjectStatus({
                group,
                version,
                plural: type.plural,
                name,
                body: fullBody,
              });
        return result as T;
      },
    );
  }

  /**
   * Apply an RFC 6902 JSON patch to `status` (kinds outside the core group): client-node sends custom
   * objects' patches as `application/json-patch+json` by default, which is what this body is.
   */
  async patchStatus<T extends KubeObject>(
    type: ResourceType,
    name: string,
    operations: readonly JsonPatchOperation[],
    namespace?: string,
  ): Promise<T> {
    const group = groupOf(type);
    const version = versionOf(type);
    const body = [...operations];
    return this.call(
      { verb: 'patch', resource: `${qualifiedName(type)}/status`, name, namespace },
      async () => {
        const result: unknown =
          type.namespaced && namespace !== undefined
            ? await this.custom.patchNamespacedCustomObjectStatus({
                group,
                version,
                namespace,
                plural: type.plural,
                name,
                body,
              })
            : await this.custom.patchClusterCustomObjectStatus({
                group,
                version,
                plural: type.plural,
                name,
                body,
              });
        return result as T;
      },
    );
  }

  /**
   * Apply a JSON merge patch. client-node defaults to json-patch, which a real API server answers with 400
   * for a merge body, and strategic merge is 415 on custom resources; merge patch works on every kind.
   */
  async mergePatch<T extends KubeObject>(
    type: ResourceType,
    name: string,
    patch: object,
    namespace?: string,
  ): Promise<T> {
    return this.call({ verb: 'patch', resource: qualifiedName(type), name, namespace }, async () => {
      const body = { ...patch, ...header(type, name, namespace) };
      const metadata = (patch as { metadata?: object }).metadata;
      if (metadata !== undefined) body.metadata = { ...metadata, ...body.metadata };
      const patched = await this.objects.patch(
        body,
        undefined,
        undefined,
        undefined,
        undefined,
        PatchStrategy.MergePatch,
      );
      return patched as unknown as T;
    });
  }

  /**
   * Delete an object. With `resourceVersion` the delete only happens if nobody changed the object since
   * it was read (409 otherwise). Returns false when it was already gone.
   */
  async delete(
    type: ResourceType,
    name: string,
    namespace?: string,
    preconditions?: DeletePreconditions,
  ): Promise<boolean> {
    try {
      await this.call({ verb: 'delete', resource: qualifiedName(type), name, namespace }, () =>
        this.objects.delete(
          header(type, name, namespace),
          undefined,
          undefined,
          undefined,
          undefined,
          undefined,
          preconditions === undefined ? undefined : { preconditions },
        ),
      );
      return true;
    } catch (error) {
      if (error instanceof RegistryPushError && error.code === 'NOT_FOUND') return false;
      throw error;
    }
  }

  /** Who the credentials belong to (OpenShift's `users/~`, as `oc whoami`). */
  async whoami(): Promise<Identity> {
    const user = await this.get<KubeObject & { groups?: string[] | null }>(
      { apiVersion: 'user.openshift.io/v1', kind: 'User', plural: 'users', namespaced: false },
      '~',
    );
    return { username: user.metadata.name, groups: user.groups ?? [] };
  }

  /** Whether the current user may do something, asked with a SelfSubjectAccessReview. */
  async canI(check: AccessCheck): Promise<boolean> {
    return this.call(
      { verb: 'create', resource: 'selfsubjectaccessreviews.authorization.k8s.io' },
      async () => {
        const review = await this.authorization.createSelfSubjectAccessReview({
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: {
              resourceAttributes: {
                verb: check.verb,
                resource: check.resource,
                group: check.group ?? '',
                ...(check.subresource === undefined ? {} : { subresource: check.subresource }),
                ...(check.namespace === undefined ? {} : { namespace: check.namespace }),
                ...(check.name === undefined ? {} : { name: check.name }),
              },
            },
          },
        });
        return review.status?.allowed === true;
      },
    );
  }

  /** The bearer token the client sends, if it uses one (also for exec and in-cluster credentials). */
  async bearerToken(): Promise<string | undefined> {
    const options: RequestOptions = {};
    try {
      await this.kubeConfig.applyToHTTPSOptions(options);
    } catch (error) {
      throw toClusterError(error, { verb: 'get', resource: 'credentials', server: this.server });
    }
    const authorization = (options.headers as Record<string, unknown> | undefined)?.Authorization;
    if (typeof authorization !== 'string') return undefined;
    const match = /^Bearer\s+(.+)$/i.exec(authorization);
    return match?.[1];
  }
}
