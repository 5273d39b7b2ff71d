/**
 * One raw watch or list request against the API server, with the same credentials and TLS settings as the
 * {@link ClusterClient} (taken from the KubeConfig with `applyToHTTPSOptions`). A raw `https.request` is
 * used instead of client-node's `Watch` so that stopping destroys the socket at once and the stream is read
 * with back-pressure: the response is paused while the consumer has not taken the buffered events.
 */
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { RegistryPushError } from '../errors.js';
import { ApiConnections } from './connections.js';
import { fromStatusCode, toClusterError, type ApiRequest } from './api-errors.js';
import type {
  ClusterWatch,
  KubeObject,
  VersionedList,
  WatchEvent,
  WatchRequestOptions,
  WatchTarget,
} from '../ports/cluster-api.js';

export type { WatchEvent, WatchRequestOptions, WatchTarget } from '../ports/cluster-api.js';
import { qualifiedName, type ResourceType } from './resources.js';

/** How long a list page may take (socket idle time) before it fails as a timeout. */
const LIST_TIMEOUT_MS = 30_000;

/** The path of a kind's collection: `/api/v1/...` for the core group, `/apis/<group>/<version>/...` else. */
export function collectionPath(type: ResourceType, namespace: string | undefined): string {
  const base = type.apiVersion.includes('/') ? `/apis/${type.apiVersion}` : `/api/${type.apiVersion}`;
  const scope =
    type.namespaced && namespace !== undefined ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${base}${scope}/${type.plural}`;
}

/** One raw GET: where it goes, what it is (for error messages), and how its socket and timeout behave. */
interface OpenOptions {
  path: string;
  query: URLSearchParams;
  request: ApiRequest;
  signal?: AbortSignal | undefined;
  /** Socket idle time before the request fails; absent for a watch, which is idle by nature. */
  timeoutMs?: number;
  /** `pooled` for lists and reads (keep-alive agent), `own` for a watch (a socket of its own). */
  socket: 'pooled' | 'own';
}

/**
 * A raw request: the KubeConfig's credentials, CA and client certificate applied per request; lists and
 * reads on pooled keep-alive connections, each watch on a socket of its own.
 */
export class RawApi {
  constructor(
    private readonly kubeConfig: KubeConfig,
    readonly server: string,
    private readonly connections: ApiConnections = new ApiConnections(),
  ) {}

  private async open({ path, query, request, signal, timeoutMs, socket }: OpenOptions): Promise<{
    response: IncomingMessage;
    abort: () => void;
  }> {
    const url = new URL(this.server);
    const options: RequestOptions = {};
    try {
      await this.kubeConfig.applyToHTTPSOptions(options);
    } catch (error) {
      throw toClusterError(error, request);
    }
    const prefix = url.pathname.replace(/\/$/, '');
    const qs = query.toString();
    return new Promise((resolve, reject) => {
      const req = httpsRequest({
        ...options,
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port === '' ? 443 : Number(url.port),
        method: 'GET',
        path: `${prefix}${path}${qs === '' ? '' : `?${qs}`}`,
        headers: { ...(options.headers ?? {}), Accept: 'application/json', 'User-Agent': 'registry-push' },
        // A watch holds its socket for minutes: it must not sit in (and keep alive) a shared agent's pool.
        ...(socket === 'pooled'
          ? { agent: this.connections.httpsAgent(options) }
          : { agent: false, secureContext: this.connections.secureContext(options) }),
        ...(signal === undefined ? {} : { signal }),
      });
      // A list that hangs must fail, not hold the informer forever; a watch is idle by nature and has none.
      if (timeoutMs !== undefined) {
        req.setTimeout(timeoutMs, () =>
          req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })),
        );
      }
      req.once('error', (error) => reject(toClusterError(error, request)));
      req.once('response', (response) => resolve({ response, abort: () => req.destroy() }));
      req.end();
    });
  }

  /** Reads a whole non-watch response and maps a non-2xx status to the core's typed error. */
  private async getJson(
    path: string,
    query: URLSearchParams,
    request: ApiRequest,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    const { response } = await this.open({
      path,
      query,
      request,
      signal,
      timeoutMs: LIST_TIMEOUT_MS,
      socket: 'pooled',
    });
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of response) chunks.push(chunk as Buffer);
    } catch (error) {
      throw toClusterError(error, request);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = {};
    }
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) throw fromStatusCode(status, body as object, request);
    return body;
  }

  /**
   * Every object of a kind, handed over one page at a time (awaited before the next page is read, so a
   * consumer that keeps only what it needs never holds the whole list); returns the list's resourceVersion
   * (a paged list is one snapshot: every continue page is read at the first page's revision) and count.
   */
  async listEach<T extends KubeObject>(
    type: ResourceType,
    target: WatchTarget,
    pageSize: number,
    signal: AbortSignal | undefined,
    onPage: (items: T[]) => void | Promise<void>,
  ): Promise<VersionedList> {
    const request: ApiRequest = {
      verb: 'list',
      resource: qualifiedName(type),
      namespace: target.namespace,
      server: this.server,
    };
    let resourceVersion = '';
    let count = 0;
    let continueToken: string | undefined;
    do {
      const query = selectorQuery(target);
      query.set('limit', String(pageSize));
      if (continueToken !== undefined) query.set('continue', continueToken);
      const page = (await this.getJson(collectionPath(type, target.namespace), query, request, signal)) as {
        items?: T[] | null;
        metadata?: { continue?: string; resourceVersion?: string };
      };
      if (resourceVersion === '') resourceVersion = page.metadata?.resourceVersion ?? '';
      const items = page.items ?? [];
      count += items.length;
      await onPage(items);
      const next = page.metadata?.continue;
      continueToken = next === undefined || next === '' ? undefined : next;
    } while (continueToken !== undefined);
    return { resourceVersion, count };
  }

  /**
   * The collection's current resourceVersion: one list request for a single item (a quorum read, so it is
   * at least as new as every write acknowledged before it).
   */
  async currentVersion(type: ResourceType, signal?: AbortSignal): Promise<string> {
    const request: ApiRequest = { verb: 'list', resource: qualifiedName(type), server: this.server };
    const query = new URLSearchParams({ limit: '1' });
    const page = (await this.getJson(collectionPath(type, undefined), query, request, signal)) as {
      metadata?: { resourceVersion?: string };
    };
    return page.metadata?.resourceVersion ?? '';
  }

  /**
   * A watch as an async iterator of typed events. The iterator ends when the server ends the stream (its
   * timeout, or a dropped connection: the caller resumes from the last resourceVersion it saw), and throws
   * a {@link RegistryPushError} for a refused request or an ERROR event (GONE for 410: the caller re-lists).
   * Returning from the loop (or {@link WatchStream.close}) destroys the socket.
   */
  async watch<T extends KubeObject>(
    type: ResourceType,
    options: WatchRequestOptions = {},
    signal?: AbortSignal,
  ): Promise<WatchStream<T>> {
    const request: ApiRequest = {
      verb: 'watch',
      resource: qualifiedName(type),
      namespace: options.namespace,
      server: this.server,
    };
    const query = selectorQuery(options);
    query.set('watch', 'true');
    if (options.allowWatchBookmarks !== false) query.set('allowWatchBookmarks', 'true');
    if (options.resourceVersion !== undefined && options.resourceVersion !== '') {
      query.set('resourceVersion', options.resourceVersion);
    }
    if (options.timeoutSeconds !== undefined) query.set('timeoutSeconds', String(options.timeoutSeconds));
    const { response, abort } = await this.open({
      path: collectionPath(type, options.namespace),
      query,
      request,
      signal,
      socket: 'own',
    });
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      const chunks: Buffer[] = [];
      try {
        for await (const chunk of response) chunks.push(chunk as Buffer);
      } catch {
        // The status code alone says enough.
      }
      abort();
      let body: object = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as object;
      } catch {
        // Not a Status body.
      }
      throw fromStatusCode(status, body, request);
    }
    return new WatchStream<T>(response, abort, request, options.bufferSize ?? 256);
  }
}

function selectorQuery(target: WatchTarget): URLSearchParams {
  const query = new URLSearchParams();
  if (target.labelSelector !== undefined) query.set('labelSelector', target.labelSelector);
  if (target.fieldSelector !== undefined) query.set('fieldSelector', target.fieldSelector);
  return query;
}

/** A watch's ERROR event as a typed error: 410 Expired/Gone becomes GONE, so the caller knows to re-list. */
function errorEvent(object: unknown, request: ApiRequest): RegistryPushError {
  const status = (typeof object === 'object' && object !== null ? object : {}) as {
    code?: number;
    message?: string;
  };
  if (status.code === 410) {
    return new RegistryPushError(
      'GONE',
      `The watch of ${request.resource} fell behind the server's history (410 Gone).`,
      {
        hint: 'Re-list and watch again.',
        retryable: true,
      },
    );
  }
  return fromStatusCode(typeof status.code === 'number' ? status.code : 500, status, request);
}

/**
 * The events of one watch response. Lines are parsed as they come into a bounded buffer; when it is full
 * the response is paused (TCP back-pressure reaches the server) until the consumer takes events again.
 */
export class WatchStream<T extends KubeObject = KubeObject> implements ClusterWatch<T> {
  private readonly buffer: (WatchEvent<T> | RegistryPushError)[] = [];
  private partial = '';
  private ended = false;
  private closed = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly response: IncomingMessage,
    private readonly abort: () => void,
    private readonly request: ApiRequest,
    private readonly bufferSize: number,
  ) {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => this.onData(chunk));
    // A dropped connection ends the stream like the server's timeout does: the caller resumes either way.
    response.on('end', () => this.finish());
    response.on('error', () => this.finish());
    response.on('close', () => this.finish());
  }

  private onData(chunk: string): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      let parsed: { type?: string; object?: unknown };
      try {
        parsed = JSON.parse(line) as { type?: string; object?: unknown };
      } catch {
        // A line cut by a dropped connection: the resume from the last good resourceVersion replays it.
        continue;
      }
      if (parsed.type === 'ERROR') {
        this.buffer.push(errorEvent(parsed.object, this.request));
      } else if (
        parsed.type === 'ADDED' ||
        parsed.type === 'MODIFIED' ||
        parsed.type === 'DELETED' ||
        parsed.type === 'BOOKMARK'
      ) {
        this.buffer.push({ type: parsed.type, object: parsed.object } as WatchEvent<T>);
      }
    }
    if (this.buffer.length >= this.bufferSize) this.response.pause();
    this.signal();
  }

  private finish(): void {
    this.ended = true;
    this.signal();
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** The next event, or undefined at the end of the stream. */
  async next(): Promise<WatchEvent<T> | undefined> {
    for (;;) {
      const item = this.buffer.shift();
      if (item !== undefined) {
        if (this.buffer.length < this.bufferSize / 2 && !this.ended) this.response.resume();
        if (item instanceof RegistryPushError) {
          this.close();
          throw item;
        }
        return item;
      }
      if (this.ended || this.closed) return undefined;
      this.response.resume();
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** Destroys the socket; a pending {@link next} returns undefined. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort();
    this.response.destroy();
    this.finish();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WatchEvent<T>> {
    try {
      for (;;) {
        const event = await this.next();
        if (event === undefined) return;
        yield event;
      }
    } finally {
      this.close();
    }
  }
}
