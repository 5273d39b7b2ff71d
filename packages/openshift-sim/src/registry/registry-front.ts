// The OpenShift side of the integrated registry, in front of a real distribution registry: token auth
// against the cluster's users and RBAC, the `<namespace>/<name>` repository rule, read-only mode, push
// notifications into the API, the prune endpoints and the metrics endpoint.
import { createServer, type Server } from 'node:https';
import {
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { rm, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { registryBlobDir, type CertificateAndKey } from '@registry-push/testkit';
import { isJsonObject, objectAt, stringAt } from '../json.js';
import type { Attributes, Authorizer, Subject } from '../api/rbac.js';
import type { ObjectStore } from '../api/store.js';
import type { RequestContext } from '../api/types.js';
import { configDigestOf, type PushNotifier } from './push-notifications.js';
import type { RegistryTokens } from './tokens.js';

/** What the registry front is built from. */
export interface RegistryFrontParts {
  authenticate: (apiToken: string) => Subject | undefined;
  authorizer: Authorizer;
  store: ObjectStore;
  tokens: RegistryTokens;
  notifier: PushNotifier;
  /** The registry's own identity for the API writes it makes. */
  systemContext: () => RequestContext;
  /** The distribution registry behind the front (plain HTTP on loopback) and its storage root. */
  upstream: { url: string; storageDir: string };
  tls: CertificateAndKey;
}

type Action = 'pull' | 'push' | 'delete';

/** The storage driver call a request method stands for, as the storage metrics name it. */
const STORAGE_OPERATION: Readonly<Record<string, string>> = {
  GET: 'Reader',
  HEAD: 'Stat',
  PUT: 'Writer',
  PATCH: 'Writer',
  POST: 'Writer',
  DELETE: 'Delete',
};

const ANONYMOUS: Subject = { name: 'system:anonymous', groups: ['system:unauthenticated'] };
const MAX_MANIFEST = 4 * 1024 * 1024;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
// Hop-by-hop and credential headers never go to the upstream.
const DROPPED_HEADERS = new Set([
  'authorization',
  'connection',
  'keep-alive',
  'proxy-authorization',
  'te',
  'upgrade',
  'host',
]);

interface RegistryErrorBody {
  code: string;
  message: string;
  detail?: unknown;
}

function sendErrors(
  res: ServerResponse,
  status: number,
  errors: RegistryErrorBody[],
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify({ errors });
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    'Docker-Distribution-Api-Version': 'registry/2.0',
    ...headers,
  });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}

/** Splits `/v2/<repo>/<manifests|blobs|tags>/<rest>`; the repository is everything before the keyword. */
export function parseRegistryPath(
  pathname: string,
): { repository: string; kind: string; rest: string } | undefined {
  const segments = pathname.split('/').slice(2);
  for (let i = segments.length - 2; i >= 1; i--) {
    const keyword = segments[i];
    if (keyword === 'manifests' || keyword === 'blobs' || keyword === 'tags') {
      return {
        repository: segments.slice(0, i).join('/'),
        kind: keyword,
        rest: segments.slice(i + 1).join('/'),
      };
    }
  }
  return undefined;
}

function actionFor(method: string): Action {
  if (method === 'GET' || method === 'HEAD') return 'pull';
  if (method === 'DELETE') return 'delete';
  return 'push';
}

async function readLimited(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The integrated registry's OpenShift behaviour, served over TLS with the service certificate. */
export class RegistryFront {
  private server: Server | undefined;
  private readonly requests = new Map<string, number>();
  private inFlight = 0;
  /** Blob lookups by result (`Hit`, `Miss`), standing in for the registry's digest cache. */
  private readonly digestCache = new Map<string, number>();
  /** Failed storage operations by `<operation> <code>`. */
  private readonly storageErrors = new Map<string, number>();

  private count(map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }

  constructor(private readonly parts: RegistryFrontParts) {}

  /** Listens on 127.0.0.1 (a free port); returns `127.0.0.1:<port>`. */
  async listen(): Promise<string> {
    const server = createServer({ cert: this.parts.tls.certPem, key: this.parts.tls.keyPem }, (req, res) => {
      this.inFlight++;
      res.on('close', () => {
        this.inFlight--;
        const key = `${req.method ?? 'GET'} ${res.statusCode}`;
        this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
      });
      this.handle(req, res).catch((err: unknown) => {
        if (res.headersSent) res.destroy();
        else sendErrors(res, 500, [{ code: 'UNKNOWN', message: (err as Error).message }]);
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return `127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private registryConfig(): { managementState: string; readOnly: boolean } {
    const spec = objectAt(
      this.parts.store.get('configs.imageregistry.operator.openshift.io', '', 'cluster'),
      'spec',
    );
    return {
      managementState: stringAt(spec, 'managementState') ?? 'Managed',
      readOnly: spec?.['readOnly'] === true,
    };
  }

  /** Who is asking: a registry token, an API token (Bearer or Basic password), or anonymous. */
  private subjectOf(req: IncomingMessage): Subject | undefined {
    const header = req.headers.authorization;
    if (header === undefined) return ANONYMOUS;
    const [scheme = '', value = ''] = header.split(/\s+/, 2);
    if (scheme.toLowerCase() === 'bearer') {
      const user = this.parts.tokens.verify(value);
      if (user !== undefined) {
        return this.userByName(user);
      }
      return this.parts.authenticate(value);
    }
    if (scheme.toLowerCase() === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const password = decoded.slice(decoded.indexOf(':') + 1);
      return this.parts.authenticate(password);
    }
    return undefined;
  }

  private readonly usersByName = new Map<string, Subject>();

  private userByName(name: string): Subject | undefined {
    return this.usersByName.get(name);
  }

  private challenge(req: IncomingMessage, scope?: string, error?: string): Record<string, string> {
    const host = req.headers['x-forwarded-host'] ?? req.headers.host ?? 'localhost';
    const params = [`realm="https://${String(host)}/openshift/token"`];
    if (scope !== undefined) params.push(`scope="${scope}"`);
    if (error !== undefined) params.push(`error="${error}"`);
    return { 'WWW-Authenticate': `Bearer ${params.join(',')}` };
  }

  private allows(subject: Subject, attrs: Attributes): boolean {
    return this.parts.authorizer.allows(subject, attrs);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://registry.invalid');
    if (this.registryConfig().managementState === 'Removed') {
      sendErrors(res, 503, [
        { code: 'UNAVAILABLE', message: 'the image registry is removed (managementState: Removed)' },
      ]);
      return;
    }
    const subject = this.subjectOf(req);
    if (url.pathname === '/openshift/token') {
      this.token(req, res, url, subject);
      return;
    }
    if (subject === undefined) {
      sendErrors(
        res,
        401,
        [{ code: 'UNAUTHORIZED', message: 'authentication required' }],
        this.challenge(req),
      );
      return;
    }
    if (url.pathname === '/extensions/v2/metrics') {
      this.metrics(res, subject);
      return;
    }
    if (url.pathname.startsWith('/admin/blobs/')) {
      await this.deleteBlobFromStorage(req, res, subject, url.pathname.slice('/admin/blobs/'.length));
      return;
    }
    if (url.pathname === '/v2/' || url.pathname === '/v2') {
      if (subject === ANONYMOUS) {
        sendErrors(
          res,
          401,
          [{ code: 'UNAUTHORIZED', message: 'authentication required' }],
          this.challenge(req),
        );
        return;
      }
      sendJson(res, 200, {});
      return;
    }
    await this.repositoryRequest(req, res, url, subject);
  }

  private token(req: IncomingMessage, res: ServerResponse, url: URL, subject: Subject | undefined): void {
    if (req.headers.authorization === undefined) {
      sendJson(res, 200, { token: 'anonymous', access_token: 'anonymous' });
      return;
    }
    if (subject === undefined || subject === ANONYMOUS) {
      sendErrors(res, 401, [{ code: 'UNAUTHORIZED', message: 'authentication required' }]);
      return;
    }
    for (const scope of url.searchParams.getAll('scope')) {
      const [type, name = ''] = scope.split(':');
      if (type === 'repository' && name.split('/').length !== 2) {
        sendErrors(res, 401, [
          {
            code: 'UNAUTHORIZED',
            message: 'authentication required',
            detail: `repository name "${name}" must have exactly two components: <project>/<image>`,
          },
        ]);
        return;
      }
    }
    this.usersByName.set(subject.name, subject);
    const issued = this.parts.tokens.issue(subject.name);
    sendJson(res, 200, {
      token: issued.token,
      access_token: issued.token,
      expires_in: issued.expiresIn,
      issued_at: issued.issuedAt,
    });
  }

  private metrics(res: ServerResponse, subject: Subject): void {
    if (!this.allows(subject, { verb: 'get', group: 'image.openshift.io', resource: 'registry/metrics' })) {
      sendErrors(res, 401, [{ code: 'UNAUTHORIZED', message: 'authentication required' }]);
      return;
    }
    const family = (
      name: string,
      help: string,
      samples: Map<string, number>,
      labels: (key: string) => string,
    ): string[] =>
      samples.size === 0
        ? []
        : [
            `# HELP ${name} ${help}`,
            `# TYPE ${name} counter`,
            ...[...samples.entries()].sort().map(([key, count]) => `${name}{${labels(key)}} ${count}`),
          ];
    const lines = [
      ...family(
        'imageregistry_digest_cache_requests_total',
        'Total number of requests without scope to the digest cache.',
        this.digestCache,
        (key) => `type="${key}"`,
      ),
      ...family(
        'imageregistry_storage_errors_total',
        'Cumulative number of failed operations with the storage.',
        this.storageErrors,
        (key) => {
          const [operation = '', code = ''] = key.split(' ');
          return `code="${code}",operation="${operation}"`;
        },
      ),
      '# HELP imageregistry_http_in_flight_requests Requests being served.',
      '# TYPE imageregistry_http_in_flight_requests gauge',
      `imageregistry_http_in_flight_requests ${this.inFlight}`,
      '# HELP imageregistry_http_requests_total Requests served, by method and status code.',
      '# TYPE imageregistry_http_requests_total counter',
      ...[...this.requests.entries()].sort().map(([key, count]) => {
        const [method, code] = key.split(' ');
        return `imageregistry_http_requests_total{code="${code ?? ''}",method="${(method ?? '').toLowerCase()}"} ${count}`;
      }),
    ];
    const body = `${lines.join('\n')}\n`;
    res.writeHead(200, {
      'Content-Type': 'text/plain; version=0.0.4',
      'Content-Length': String(Buffer.byteLength(body)),
    });
    res.end(body);
  }

  private mayPrune(subject: Subject): boolean {
    return this.allows(subject, { verb: 'delete', group: 'image.openshift.io', resource: 'images' });
  }

  private async deleteBlobFromStorage(
    req: IncomingMessage,
    res: ServerResponse,
    subject: Subject,
    digest: string,
  ): Promise<void> {
    if (req.method !== 'DELETE') {
      sendErrors(res, 405, [{ code: 'UNSUPPORTED', message: 'The operation is unsupported.' }]);
      return;
    }
    if (!this.mayPrune(subject)) {
      sendErrors(
        res,
        401,
        [{ code: 'UNAUTHORIZED', message: 'authentication required' }],
        this.challenge(req),
      );
      return;
    }
    if (this.registryConfig().readOnly) {
      sendErrors(res, 405, [
        {
          code: 'UNSUPPORTED',
          message: 'The operation is unsupported.',
          detail: 'the registry is read-only',
        },
      ]);
      return;
    }
    if (!DIGEST.test(digest)) {
      sendErrors(res, 400, [
        { code: 'DIGEST_INVALID', message: 'provided digest did not match uploaded content' },
      ]);
      return;
    }
    const dir = registryBlobDir(this.parts.upstream.storageDir, digest);
    const exists = await stat(dir).then(
      () => true,
      () => false,
    );
    if (!exists) {
      sendErrors(res, 404, [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry', detail: digest }]);
      return;
    }
    await rm(dir, { recursive: true, force: true });
    res.writeHead(204).end();
  }

  /** Whether any tag history of the stream still points at the digest. */
  private streamReferences(namespace: string, name: string, digest: string): boolean {
    const stream = this.parts.store.get('imagestreams.image.openshift.io', namespace, name);
    const tags = objectAt(stream, 'status')?.['tags'];
    if (!Array.isArray(tags)) return false;
    return tags.some((entry) => {
      const items = isJsonObject(entry) ? entry['items'] : undefined;
      return Array.isArray(items) && items.some((item) => isJsonObject(item) && item['image'] === digest);
    });
  }

  private denied(
    req: IncomingMessage,
    res: ServerResponse,
    repository: string,
    action: Action,
    why?: string,
  ): void {
    sendErrors(
      res,
      401,
      [
        {
          code: 'UNAUTHORIZED',
          message: 'authentication required',
          detail: why ?? [{ Type: 'repository', Name: repository, Action: action }],
        },
      ],
      this.challenge(req, `repository:${repository}:${action}`, 'insufficient_scope'),
    );
  }

  private authorizeRepository(subject: Subject, namespace: string, action: Action): boolean {
    if (action === 'delete') return this.mayPrune(subject);
    const verb = action === 'pull' ? 'get' : 'update';
    if (action === 'push' && !this.parts.store.get('namespaces', '', namespace)) return false;
    return this.allows(subject, {
      verb,
      group: 'image.openshift.io',
      resource: 'imagestreams/layers',
      namespace,
    });
  }

  private async repositoryRequest(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    subject: Subject,
  ): Promise<void> {
    const parsed = parseRegistryPath(url.pathname);
    if (!parsed) {
      sendErrors(res, 404, [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }]);
      return;
    }
    const method = req.method ?? 'GET';
    const action = actionFor(method);
    const parts = parsed.repository.split('/');
    if (parts.length !== 2 || parts.some((p) => p === '')) {
      this.denied(
        req,
        res,
        parsed.repository,
        action,
        `repository name "${parsed.repository}" must have exactly two components: <project>/<image>`,
      );
      return;
    }
    const [namespace = '', name = ''] = parts;
    if (!this.authorizeRepository(subject, namespace, action)) {
      this.denied(req, res, parsed.repository, action);
      return;
    }
    if (action !== 'pull' && this.registryConfig().readOnly) {
      sendErrors(res, 405, [
        {
          code: 'UNSUPPORTED',
          message: 'The operation is unsupported.',
          detail: 'the registry is read-only',
        },
      ]);
      return;
    }
    if (
      method === 'DELETE' &&
      parsed.kind === 'manifests' &&
      this.streamReferences(namespace, name, parsed.rest)
    ) {
      sendErrors(res, 405, [
        {
          code: 'UNSUPPORTED',
          message: 'The operation is unsupported.',
          detail: `image stream ${namespace}/${name} still references ${parsed.rest}`,
        },
      ]);
      return;
    }
    if (method === 'PUT' && parsed.kind === 'manifests') {
      await this.putManifest(req, res, url, { namespace, name, reference: parsed.rest });
      return;
    }
    await this.forward(req, res, `${url.pathname}${url.search}`);
    this.countBlobLookup(parsed, action, res.statusCode);
  }

  private countBlobLookup(parsed: { kind: string; rest: string }, action: Action, status: number): void {
    if (parsed.kind !== 'blobs' || action !== 'pull' || !DIGEST.test(parsed.rest)) return;
    this.count(this.digestCache, status === 404 ? 'Miss' : 'Hit');
  }

  private upstreamHeaders(req: IncomingMessage): Record<string, string | string[]> {
    const headers: Record<string, string | string[]> = {};
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined && !DROPPED_HEADERS.has(key)) headers[key] = value;
    }
    // Upload locations are built from these, so clients are sent back through the route.
    headers['x-forwarded-proto'] = 'https';
    headers['host'] = String(req.headers.host ?? 'localhost');
    return headers;
  }

  /** Streams the request to the registry and its answer back. */
  private async forward(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const upstream = new URL(path, this.parts.upstream.url);
    return new Promise((resolve, reject) => {
      const outgoing = httpRequest(
        upstream,
        { method: req.method ?? 'GET', headers: this.upstreamHeaders(req) },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          answer.on('end', () => resolve());
          answer.on('error', reject);
        },
      );
      outgoing.on('error', (err) => {
        this.count(this.storageErrors, `${STORAGE_OPERATION[req.method ?? 'GET'] ?? 'Unknown'} UNKNOWN`);
        if (!res.headersSent) {
          sendErrors(res, 502, [
            { code: 'UNAVAILABLE', message: `registry storage unavailable: ${err.message}` },
          ]);
        }
        resolve();
      });
      req.pipe(outgoing);
    });
  }

  private async fetchBlob(repository: string, digest: string): Promise<string | undefined> {
    const url = new URL(`/v2/${repository}/blobs/${digest}`, this.parts.upstream.url);
    return new Promise((resolve) => {
      const request = httpRequest(url, { method: 'GET' }, (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () =>
          resolve(answer.statusCode === 200 ? Buffer.concat(chunks).toString('utf8') : undefined),
        );
        answer.on('error', () => resolve(undefined));
      });
      request.on('error', () => resolve(undefined));
      request.end();
    });
  }

  /** Sends the request with a buffered body and buffers the answer (for manifests, which are small). */
  private async exchange(
    req: IncomingMessage,
    path: string,
    body: Buffer,
  ): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
    const upstream = new URL(path, this.parts.upstream.url);
    const headers = { ...this.upstreamHeaders(req), 'content-length': String(body.length) };
    return new Promise((resolve, reject) => {
      const outgoing = httpRequest(upstream, { method: req.method ?? 'PUT', headers }, (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () =>
          resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: Buffer.concat(chunks) }),
        );
        answer.on('error', reject);
      });
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  }

  /**
   * PUT of a manifest: stored by the registry, then recorded in the API before the client hears back, so a
   * client that reads its ImageStream right after the push sees the new tag, as with the real registry.
   */
  private async putManifest(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    target: { namespace: string; name: string; reference: string },
  ): Promise<void> {
    const body = await readLimited(req, MAX_MANIFEST);
    if (body === undefined) {
      sendErrors(res, 413, [{ code: 'SIZE_INVALID', message: 'manifest too large' }]);
      return;
    }
    const answer = await this.exchange(req, `${url.pathname}${url.search}`, body);
    if (answer.status === 201) {
      const manifest = body.toString('utf8');
      const repository = `${target.namespace}/${target.name}`;
      const digest = String(answer.headers['docker-content-digest'] ?? '');
      // The config only fills a new Image; tagging a stored image again (a push of many tags) skips the read.
      const known = this.parts.store.peek('images.image.openshift.io', '', digest) !== undefined;
      const configDigest = known ? undefined : configDigestOf(manifest);
      const config = configDigest !== undefined ? await this.fetchBlob(repository, configDigest) : undefined;
      try {
        this.parts.notifier.record(
          {
            namespace: target.namespace,
            name: target.name,
            tag: DIGEST.test(target.reference) ? undefined : target.reference,
            digest,
            mediaType: mediaTypeOf(manifest, String(req.headers['content-type'] ?? '')),
            manifest,
            config,
          },
          this.parts.systemContext(),
        );
      } catch (err) {
        sendErrors(res, 500, [
          {
            code: 'UNKNOWN',
            message: `unable to record the image in the cluster: ${(err as Error).message}`,
          },
        ]);
        return;
      }
    }
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  }
}

function mediaTypeOf(manifest: string, fallback: string): string {
  try {
    const parsed: unknown = JSON.parse(manifest);
    if (isJsonObject(parsed) && typeof parsed['mediaType'] === 'string') return parsed['mediaType'];
  } catch {
    // the registry accepted it, so it parsed there; keep the request's content type
  }
  return fallback;
}
