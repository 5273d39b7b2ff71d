// The OpenShift side of the integrated registry, in front of a real distribution registry: token auth
// against the cluster's users and RBAC, the `<namespace>/<name>` repository rule, read-only mode, reads
// resolved through the ImageStream (tags, manifests, and blobs without a repository link), push
// notifications into the API, the prune endpoints and the metrics endpoint.
import { timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import {
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createReadStream } from 'node:fs';
import { mkdir, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { registryBlobDir, type CertificateAndKey } from '@registry-push/testkit';
import { isJsonObject } from '../json.js';
import type { Attributes, Authorizer, Subject } from '../api/rbac.js';
import type { ObjectStore } from '../api/store.js';
import type { RequestContext } from '../api/types.js';
import { ApiError } from '../api/status.js';
import { configDigestOf, type PushNotifier } from './push-notifications.js';
import { StreamView } from './stream-view.js';
import { deleteStoredLink, linkPath, type LinkKind } from './storage-links.js';

/** What the registry front is built from. */
export interface RegistryFrontParts {
  authenticate: (apiToken: string) => Subject | undefined;
  authorizer: Authorizer;
  store: ObjectStore;
  notifier: PushNotifier;
  /** The registry's own identity for the API writes it makes. */
  systemContext: () => RequestContext;
  /** A pusher's identity, for the writes the registry makes with the pusher's credentials. */
  userContext: (subject: Subject) => RequestContext;
  /** The distribution registry behind the front (plain HTTP on loopback) and its storage root. */
  upstream: { url: string; storageDir: string };
  /**
   * Who carries out a repository's link deletes (`DELETE /v2/<repo>/blobs/<digest>`, `/manifests/<digest>`):
   * `upstream` (the default) forwards them to distribution; `storage` does on the storage what
   * distribution's filesystem driver would, with the same answers (see `storage-links.ts`), and forwards
   * only the cases distribution has to decide.
   */
  linkDeletes?: 'upstream' | 'storage';
  tls: CertificateAndKey;
  /** Where the access log line of each answered request goes (a registry pod's log). */
  accessLog?: (line: string) => void;
  /**
   * The legacy metrics secret (`openshift.metrics.secret`): when set, the metrics endpoint takes this secret
   * as the Bearer token or Basic password, and nothing else (the real registry's `verifyMetricsAccess`).
   */
  metricsSecret?: string;
}

/** The access record of a metrics read, as the registry's challenge names it. */
const METRICS_RECORDS: AccessRecord[] = [{ Type: 'metrics', Class: '', Name: '', Action: 'get' }];

/** Compares a presented token with the metrics secret in constant time. */
function secretMatches(token: string, secret: string): boolean {
  const a = Buffer.from(token);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

type Action = 'pull' | 'push' | 'delete';

/** The registry's `response completed` line (logrus text format), without credentials or query secrets. */
function accessLine(req: IncomingMessage, res: ServerResponse, started: bigint): string {
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const uri = (req.url ?? '/').replace(/\?.*$/, '');
  const fields = [
    `time="${new Date().toISOString()}"`,
    'level=info',
    'msg="response completed"',
    'go.version=go1.22.5',
    `http.request.host="${req.headers.host ?? ''}"`,
    `http.request.method=${req.method ?? 'GET'}`,
    `http.request.remoteaddr="${req.socket.remoteAddress ?? ''}"`,
    `http.request.uri="${uri}"`,
    `http.request.useragent="${(req.headers['user-agent'] ?? '').replace(/"/g, "'")}"`,
    `http.response.duration="${ms.toFixed(3)}ms"`,
    `http.response.status=${res.statusCode}`,
  ];
  return fields.join(' ');
}

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
/** The token the token endpoint hands out without credentials; as Bearer it means the anonymous user. */
const ANONYMOUS_TOKEN = 'anonymous';
/** The realm of the registry's Basic challenges (`auth.openshift.realm` of its configuration). */
const BASIC_REALM = 'openshift';
const MAX_MANIFEST = 4 * 1024 * 1024;
/** Headers of distribution's own answers (with the `http.headers` of its configuration, as the testkit's). */
const DISTRIBUTION_HEADERS = {
  'Docker-Distribution-Api-Version': 'registry/2.0',
  'X-Content-Type-Options': 'nosniff',
};
const DIGEST = /^sha256:[a-f0-9]{64}$/;
/** What distribution routes as a digest (`reference.DigestRegexp`); other `/admin/blobs/` paths are 404. */
const DIGEST_SHAPED = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
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

/**
 * Removes a blob's directory. It holds just `data`: its unlink and the rmdir run off the main thread, where
 * a recursive `rm` walks it with synchronous calls (a prune deletes hundreds of thousands of blobs); anything
 * else in it falls back to the recursive removal.
 */
async function removeBlobDir(dir: string): Promise<void> {
  const ignoreMissing = (error: NodeJS.ErrnoException): void => {
    if (error.code !== 'ENOENT') throw error;
  };
  await unlink(join(dir, 'data')).catch(ignoreMissing);
  try {
    await rmdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOTEMPTY') ignoreMissing(error as NodeJS.ErrnoException);
    else await rm(dir, { recursive: true, force: true });
  }
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

/** The body, or undefined when it is over `limit` (read to its end anyway, so the answer can be sent). */
async function readLimited(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  return size > limit ? undefined : Buffer.concat(chunks);
}

/** Who a request is from, as the registry's access controller reads its `Authorization` header. */
type Caller =
  | { kind: 'subject'; subject: Subject }
  /** No usable credentials: the token challenge. */
  | { kind: 'none' }
  /** Basic without a password: `failed to decode credentials`. */
  | { kind: 'undecodable' }
  /** A token the cluster does not know: `access denied`. */
  | { kind: 'unknown' };

/** The repository a request is for, and who makes it. */
interface RepositoryTarget {
  namespace: string;
  name: string;
  repository: string;
  subject: Subject;
}

function isTwoComponents(repository: string): boolean {
  const parts = repository.split('/');
  return parts.length === 2 && parts.every((p) => p !== '');
}

/** One access record of a request, as distribution lists them in an UNAUTHORIZED detail. */
interface AccessRecord {
  Type: string;
  Class: string;
  Name: string;
  Action: string;
}

function accessRecords(method: string, repository: string): AccessRecord[] {
  const record = (action: string): AccessRecord => ({
    Type: 'repository',
    Class: '',
    Name: repository,
    Action: action,
  });
  if (method === 'GET' || method === 'HEAD') return [record('pull')];
  if (method === 'DELETE') return [record('delete')];
  return [record('pull'), record('push')];
}

const REGISTRY_CONFIG = 'configs.imageregistry.operator.openshift.io';

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
      const started = process.hrtime.bigint();
      res.on('close', () => {
        this.inFlight--;
        const key = `${req.method ?? 'GET'} ${res.statusCode}`;
        this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
        this.parts.accessLog?.(accessLine(req, res, started));
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

  /**
   * The operator config's state and read-only flag, read in place: every request asks, and copying the
   * config for each one cost more than the rest of a link delete's handling here.
   */
  private registryConfig(): { managementState: string; readOnly: boolean } {
    const spec = this.parts.store.peek(REGISTRY_CONFIG, '', 'cluster')?.['spec'] as
      { readonly managementState?: unknown; readonly readOnly?: unknown } | undefined;
    return {
      managementState: typeof spec?.managementState === 'string' ? spec.managementState : 'Managed',
      readOnly: spec?.readOnly === true,
    };
  }

  /**
   * Who is asking. The registry takes the API token itself, as Bearer (what its token endpoint echoed
   * back) or as the Basic password; `Bearer anonymous` is the anonymous user.
   */
  private callerOf(req: IncomingMessage): Caller {
    const header = req.headers.authorization ?? '';
    const space = header.indexOf(' ');
    if (space < 0) return { kind: 'none' };
    const scheme = header.slice(0, space).toLowerCase();
    const value = header.slice(space + 1);
    let token: string;
    if (scheme === 'bearer') {
      if (value === ANONYMOUS_TOKEN) return { kind: 'subject', subject: ANONYMOUS };
      token = value;
    } else if (scheme === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      token = colon < 0 ? '' : decoded.slice(colon + 1);
      if (token === '') return { kind: 'undecodable' };
    } else {
      return { kind: 'none' };
    }
    if (token === '') return { kind: 'subject', subject: ANONYMOUS };
    const subject = this.parts.authenticate(token);
    return subject === undefined ? { kind: 'unknown' } : { kind: 'subject', subject };
  }

  /** The token challenge, for requests without credentials. */
  private tokenChallenge(req: IncomingMessage): Record<string, string> {
    const host = req.headers['x-forwarded-host'] ?? req.headers.host ?? 'localhost';
    return { 'WWW-Authenticate': `Bearer realm="https://${String(host)}/openshift/token"` };
  }

  /**
   * The registry's 401: the token challenge when no credentials came, else a Basic challenge naming the
   * error (`access denied` for an unknown token or a refused access review); the body lists the request's
   * access records.
   */
  private unauthorized(
    req: IncomingMessage,
    res: ServerResponse,
    records: AccessRecord[] | null,
    error?: 'access denied' | 'failed to decode credentials',
  ): void {
    const challenge =
      error === undefined
        ? this.tokenChallenge(req)
        : { 'WWW-Authenticate': `Basic realm=${BASIC_REALM},error="${error}"` };
    sendErrors(
      res,
      401,
      [{ code: 'UNAUTHORIZED', message: 'authentication required', detail: records }],
      challenge,
    );
  }

  /** Answers a caller that is not a known subject; true when it did. */
  private refusedCaller(
    req: IncomingMessage,
    res: ServerResponse,
    caller: Caller,
    records: AccessRecord[] | null,
  ): caller is Exclude<Caller, { kind: 'subject' }> {
    if (caller.kind === 'subject') return false;
    if (caller.kind === 'none') this.unauthorized(req, res, records);
    else if (caller.kind === 'undecodable')
      this.unauthorized(req, res, records, 'failed to decode credentials');
    else this.unauthorized(req, res, records, 'access denied');
    return true;
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
    if (url.pathname === '/openshift/token') {
      this.token(req, res, url);
      return;
    }
    if (url.pathname.startsWith('/admin/blobs/')) {
      await this.deleteBlobFromStorage(req, res, url.pathname.slice('/admin/blobs/'.length));
      return;
    }
    if (url.pathname === '/extensions/v2/metrics' && this.parts.metricsSecret !== undefined) {
      this.metricsBySecret(req, res, this.parts.metricsSecret);
      return;
    }
    const caller = this.callerOf(req);
    if (this.refusedCaller(req, res, caller, null)) return;
    const subject = caller.subject;
    if (url.pathname === '/extensions/v2/metrics') {
      if (!this.allows(subject, { verb: 'get', group: 'image.openshift.io', resource: 'registry/metrics' })) {
        this.unauthorized(req, res, METRICS_RECORDS, 'access denied');
        return;
      }
      this.metrics(res);
      return;
    }
    if (url.pathname === '/v2/' || url.pathname === '/v2') {
      sendJson(res, 200, {});
      return;
    }
    await this.repositoryRequest(req, res, url, subject);
  }

  /**
   * The token endpoint: without credentials the `anonymous` token; with Basic, the API token itself once
   * the cluster knows it (no expiry of its own: it lives as long as the API token). A scope naming a
   * repository that is not `<project>/<image>` is refused first.
   */
  private token(req: IncomingMessage, res: ServerResponse, url: URL): void {
    for (const scope of url.searchParams.getAll('scope')) {
      const [type, name = ''] = scope.split(':');
      if ((type === 'repository' || type === 'signature') && !isTwoComponents(name)) {
        sendJson(res, 401, {
          details: `repository name "${name}" must have exactly two components: <project>/<image>`,
        });
        return;
      }
    }
    const header = req.headers.authorization;
    if (header === undefined || header === '') {
      sendJson(res, 200, { token: ANONYMOUS_TOKEN, access_token: ANONYMOUS_TOKEN });
      return;
    }
    const [scheme = '', value = ''] = header.split(/\s+/, 2);
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const token = colon < 0 ? '' : decoded.slice(colon + 1);
    if (scheme.toLowerCase() !== 'basic' || colon < 0 || this.parts.authenticate(token) === undefined) {
      res.writeHead(401, { 'Content-Type': 'application/json', 'Content-Length': '0' }).end();
      return;
    }
    sendJson(res, 200, { token, access_token: token });
  }

  /**
   * The metrics with the legacy secret set: the real registry takes the token of the request (the Bearer
   * value, or the Basic password, any user name) and compares it with the secret; no subject access review
   * is made, so a user token, even a cluster admin's, is refused. No credentials: the usual challenge.
   */
  private metricsBySecret(req: IncomingMessage, res: ServerResponse, secret: string): void {
    const header = req.headers.authorization ?? '';
    const space = header.indexOf(' ');
    const scheme = space < 0 ? '' : header.slice(0, space).toLowerCase();
    const value = space < 0 ? '' : header.slice(space + 1);
    if (scheme !== 'bearer' && scheme !== 'basic') {
      this.unauthorized(req, res, METRICS_RECORDS);
      return;
    }
    let token = value;
    if (scheme === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      token = decoded.indexOf(':') < 0 ? '' : decoded.slice(decoded.indexOf(':') + 1);
    }
    if (!secretMatches(token, secret)) {
      this.unauthorized(req, res, METRICS_RECORDS, 'access denied');
      return;
    }
    this.metrics(res);
  }

  private metrics(res: ServerResponse): void {
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

  /**
   * `DELETE /admin/blobs/<digest>`: removes the blob from storage, for callers allowed `delete images`
   * cluster-wide. Idempotent like the real one: 204 also when the blob is already gone. Paths that are not
   * digest-shaped match no route (404); a digest-shaped one that does not parse is BLOB_UNKNOWN.
   */
  private async deleteBlobFromStorage(
    req: IncomingMessage,
    res: ServerResponse,
    digest: string,
  ): Promise<void> {
    if (!DIGEST_SHAPED.test(digest)) {
      const body = '404 page not found\n';
      res.writeHead(404, {
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Length': String(Buffer.byteLength(body)),
      });
      res.end(body);
      return;
    }
    if (req.method !== 'DELETE') {
      sendErrors(res, 405, [{ code: 'UNSUPPORTED', message: 'The operation is unsupported.' }]);
      return;
    }
    const records = [{ Type: 'admin', Class: '', Name: '', Action: 'prune' }];
    const caller = this.callerOf(req);
    if (this.refusedCaller(req, res, caller, records)) return;
    if (!this.mayPrune(caller.subject)) {
      this.unauthorized(req, res, records, 'access denied');
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
      sendErrors(res, 404, [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' }]);
      return;
    }
    await removeBlobDir(registryBlobDir(this.parts.upstream.storageDir, digest));
    res.writeHead(204).end();
  }

  private denied(req: IncomingMessage, res: ServerResponse, method: string, repository: string): void {
    this.unauthorized(req, res, accessRecords(method, repository), 'access denied');
  }

  /**
   * The access review of one record: pull is `get imagestreams/layers`, push `update` (in an existing
   * project), delete `delete images` cluster-wide, except cancelling an upload, which is push.
   */
  private mayAccess(subject: Subject, namespace: string, action: Action, path: string): boolean {
    if (action === 'delete' && !path.includes('/blobs/uploads/')) return this.mayPrune(subject);
    const verb = action === 'pull' ? 'get' : 'update';
    if (verb === 'update' && !this.parts.store.get('namespaces', '', namespace)) return false;
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
    const target = this.admitted(req, res, url, parsed.repository, subject);
    if (target === undefined) return;
    await this.route(req, res, url, target, parsed);
  }

  /** The repository request's target once its access is reviewed; undefined when it was answered. */
  private admitted(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    repository: string,
    subject: Subject,
  ): RepositoryTarget | undefined {
    const method = req.method ?? 'GET';
    const action = actionFor(method);
    if (!isTwoComponents(repository)) {
      // Simplified: the real registry answers 400 without a body (its token endpoint refuses the scope
      // first, which is what clients meet).
      this.unauthorized(req, res, accessRecords(method, repository), 'access denied');
      return undefined;
    }
    const [namespace = '', name = ''] = repository.split('/');
    // A write needs pull too (distribution asks for both); push rights imply pull in every role.
    const allowed =
      this.mayAccess(subject, namespace, action, url.pathname) &&
      (action !== 'push' || this.mayAccess(subject, namespace, 'pull', url.pathname));
    if (!allowed) {
      this.denied(req, res, method, repository);
      return undefined;
    }
    if (action !== 'pull' && this.registryConfig().readOnly) {
      sendErrors(res, 405, [
        {
          code: 'UNSUPPORTED',
          message: 'The operation is unsupported.',
          detail: 'the registry is read-only',
        },
      ]);
      return undefined;
    }
    return { namespace, name, repository, subject };
  }

  /** Sends an admitted request where it goes: the stream for manifests and tags, else the registry. */
  private async route(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    target: RepositoryTarget,
    parsed: { kind: string; rest: string },
  ): Promise<void> {
    const method = req.method ?? 'GET';
    if (parsed.kind === 'manifests') {
      await this.manifestRequest(req, res, url, target, parsed.rest);
    } else if (parsed.kind === 'tags' && parsed.rest === 'list' && (method === 'GET' || method === 'HEAD')) {
      this.listTags(res, url, target);
    } else if (parsed.kind === 'blobs') {
      await this.blobRequest(req, res, url, target, parsed.rest);
    } else {
      await this.forward(req, res, `${url.pathname}${url.search}`);
    }
  }

  /** Blobs: reads fall back to the stream's images, mounts check the source, link deletes (storage mode). */
  private async blobRequest(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    target: RepositoryTarget,
    reference: string,
  ): Promise<void> {
    const method = req.method ?? 'GET';
    if ((method === 'GET' || method === 'HEAD') && DIGEST.test(reference)) {
      await this.forward(req, res, `${url.pathname}${url.search}`, () =>
        this.serveFromStorage(req, res, target, reference, 'application/octet-stream'),
      );
      this.countBlobLookup({ kind: 'blobs', rest: reference }, 'pull', res.statusCode);
    } else if (method === 'POST' && url.searchParams.has('mount')) {
      await this.mount(req, res, url, target);
    } else if (method === 'DELETE' && this.deletesInStorage(reference)) {
      await this.deleteLink(req, res, url, target.repository, { kind: 'layer', digest: reference });
    } else {
      await this.forward(req, res, `${url.pathname}${url.search}`);
    }
  }

  /**
   * Manifests: reads resolve through the stream (a tag from `status.tags[].items[0]`, a digest only when
   * the stream references it and its Image exists), deletes are refused while that is so, and a PUT is
   * recorded in the API.
   */
  private async manifestRequest(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    target: RepositoryTarget,
    reference: string,
  ): Promise<void> {
    const method = req.method ?? 'GET';
    if (method === 'PUT') {
      await this.putManifest(req, res, url, { ...target, reference });
      return;
    }
    const view = new StreamView(this.parts.store, target.namespace, target.name);
    if (method === 'DELETE' && DIGEST.test(reference) && view.imageOf(reference) !== undefined) {
      // The stream would serve it even without the revision link, so removing the link changes nothing.
      sendErrors(res, 405, [{ code: 'UNSUPPORTED', message: 'The operation is unsupported.' }]);
      return;
    }
    if (method === 'GET' || method === 'HEAD') {
      await this.readManifest(req, res, target, view, reference);
      return;
    }
    // Otherwise the revision link only: the stream and its tags are never changed.
    if (method === 'DELETE' && this.deletesInStorage(reference)) {
      await this.deleteLink(req, res, url, target.repository, { kind: 'manifest', digest: reference });
      return;
    }
    await this.forward(req, res, `${url.pathname}${url.search}`);
  }

  private deletesInStorage(reference: string): boolean {
    return this.parts.linkDeletes === 'storage' && DIGEST.test(reference);
  }

  /** A link delete done on the storage, answered as distribution answers it (202, or 404 with its error). */
  private async deleteLink(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    repository: string,
    { kind, digest }: { kind: LinkKind; digest: string },
  ): Promise<void> {
    const outcome = await deleteStoredLink(this.parts.upstream.storageDir, repository, kind, digest);
    if (outcome === 'upstream') {
      await this.forward(req, res, `${url.pathname}${url.search}`);
    } else if (outcome === 'deleted') {
      res.writeHead(202, { ...DISTRIBUTION_HEADERS, 'Content-Length': '0' }).end();
    } else {
      const error =
        kind === 'layer'
          ? { code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' }
          : { code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' };
      // Distribution's JSON encoder ends the body with a newline.
      const body = `${JSON.stringify({ errors: [error] })}\n`;
      res
        .writeHead(404, {
          ...DISTRIBUTION_HEADERS,
          'Content-Type': 'application/json; charset=utf-8',
          'Content-Length': String(Buffer.byteLength(body)),
        })
        .end(body);
    }
  }

  /** A manifest read: the tag or digest resolved through the stream, the bytes by link or from storage. */
  private async readManifest(
    req: IncomingMessage,
    res: ServerResponse,
    target: RepositoryTarget,
    view: StreamView,
    reference: string,
  ): Promise<void> {
    const digest = DIGEST.test(reference) ? reference : view.tags().get(reference);
    if (!view.exists() && digest === undefined) {
      sendErrors(res, 404, [
        {
          code: 'NAME_UNKNOWN',
          message: 'repository name not known to registry',
          detail: { name: target.repository },
        },
      ]);
      return;
    }
    const image = digest !== undefined ? view.imageOf(digest) : undefined;
    if (digest === undefined || image === undefined) {
      sendErrors(res, 404, [
        {
          code: 'MANIFEST_UNKNOWN',
          message: 'manifest unknown',
          detail: digest === undefined ? { Tag: reference } : { Name: target.repository, Revision: digest },
        },
      ]);
      return;
    }
    const stored = image['dockerImageManifestMediaType'];
    const mediaType =
      typeof stored === 'string' && stored !== '' ? stored : 'application/vnd.oci.image.manifest.v1+json';
    // The bytes come from storage through the same fallback as blobs: a removed revision link is no loss.
    // An OCI manifest to a client that does not accept OCI stays distribution's 404.
    const accept = String(req.headers.accept ?? '');
    const acceptable = !mediaType.startsWith('application/vnd.oci.') || accept.includes(mediaType);
    await this.forward(
      req,
      res,
      `/v2/${target.repository}/manifests/${digest}`,
      acceptable ? () => this.serveFromStorage(req, res, target, digest, mediaType) : undefined,
    );
  }

  /** `GET /v2/<repo>/tags/list` from the stream's tags, paged with `n` and `last` like distribution. */
  private listTags(res: ServerResponse, url: URL, target: RepositoryTarget): void {
    const view = new StreamView(this.parts.store, target.namespace, target.name);
    if (!view.exists()) {
      sendErrors(res, 404, [
        {
          code: 'NAME_UNKNOWN',
          message: 'repository name not known to registry',
          detail: { name: target.repository },
        },
      ]);
      return;
    }
    const last = url.searchParams.get('last');
    const all = [...view.tags().keys()].filter((tag) => last === null || tag > last);
    const n = Number(url.searchParams.get('n') ?? '0');
    const page = Number.isInteger(n) && n > 0 ? all.slice(0, n) : all;
    const headers: Record<string, string> = {};
    const lastOfPage = page[page.length - 1];
    if (page.length < all.length && lastOfPage !== undefined) {
      const next = new URLSearchParams({ n: String(n), last: lastOfPage });
      headers['Link'] = `</v2/${target.repository}/tags/list?${next.toString()}>; rel="next"`;
    }
    const body = JSON.stringify({ name: target.repository, tags: page });
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(body)),
      'Docker-Distribution-Api-Version': 'registry/2.0',
      ...headers,
    });
    res.end(body);
  }

  /**
   * The real registry's blob descriptor fallback: a blob (or manifest) the repository has no link for is
   * served from global storage when an Image of the repository's stream references it.
   */
  private async serveFromStorage(
    req: IncomingMessage,
    res: ServerResponse,
    target: RepositoryTarget,
    digest: string,
    contentType: string,
  ): Promise<void> {
    const view = new StreamView(this.parts.store, target.namespace, target.name);
    const data = join(registryBlobDir(this.parts.upstream.storageDir, digest), 'data');
    const size = view.references(digest)
      ? await stat(data).then(
          (s) => s.size,
          () => undefined,
        )
      : undefined;
    if (size === undefined) {
      sendErrors(res, 404, [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry', detail: digest }]);
      return;
    }
    res.writeHead(200, {
      'Content-Type': contentType,
      'Content-Length': String(size),
      'Docker-Content-Digest': digest,
      'Docker-Distribution-Api-Version': 'registry/2.0',
      ETag: `"${digest}"`,
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const stream = createReadStream(data);
      stream.on('error', reject);
      stream.on('end', () => resolve());
      stream.pipe(res);
    });
  }

  /**
   * A cross-repository mount. Pull on the source is checked (a refusal is no error: the mount just does
   * not happen); the source must have the blob linked or referenced by its stream; otherwise the answer is
   * a normal upload (202), as distribution falls back to one.
   */
  private async mount(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    target: RepositoryTarget,
  ): Promise<void> {
    const digest = url.searchParams.get('mount') ?? '';
    const from = url.searchParams.get('from') ?? '';
    const upload = new URL(url.toString());
    upload.searchParams.delete('mount');
    upload.searchParams.delete('from');
    const plainUpload = `${upload.pathname}${upload.search}`;
    if (from === '' || !DIGEST.test(digest)) {
      await this.forward(req, res, plainUpload);
      return;
    }
    if (!isTwoComponents(from)) {
      // The access record of the source cannot be checked: distribution's bad request, without a body.
      res.writeHead(400, { 'Content-Length': '0' }).end();
      return;
    }
    const [sourceNamespace = '', sourceName = ''] = from.split('/');
    if (!this.mayAccess(target.subject, sourceNamespace, 'pull', url.pathname)) {
      await this.forward(req, res, plainUpload);
      return;
    }
    if (await this.upstreamHasBlob(from, digest)) {
      await this.forward(req, res, `${url.pathname}${url.search}`);
      return;
    }
    const source = new StreamView(this.parts.store, sourceNamespace, sourceName);
    const data = join(registryBlobDir(this.parts.upstream.storageDir, digest), 'data');
    const inStorage = await stat(data).then(
      () => true,
      () => false,
    );
    if (!source.references(digest) || !inStorage) {
      await this.forward(req, res, plainUpload);
      return;
    }
    // Linked in the target the way distribution links a mounted blob.
    const link = linkPath(this.parts.upstream.storageDir, target.repository, 'layer', digest);
    await mkdir(dirname(link), { recursive: true });
    await writeFile(link, digest);
    req.resume();
    res.writeHead(201, {
      Location: `/v2/${target.repository}/blobs/${digest}`,
      'Docker-Content-Digest': digest,
      'Docker-Distribution-Api-Version': 'registry/2.0',
      'Content-Length': '0',
    });
    res.end();
  }

  private async upstreamHasBlob(repository: string, digest: string): Promise<boolean> {
    const url = new URL(`/v2/${repository}/blobs/${digest}`, this.parts.upstream.url);
    return new Promise((resolve) => {
      const request = httpRequest(url, { method: 'HEAD' }, (answer) => {
        answer.resume();
        resolve(answer.statusCode === 200);
      });
      request.on('error', () => resolve(false));
      request.end();
    });
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

  /**
   * Streams the request to the registry and its answer back; a 404 goes to `notFound` instead, when given
   * (the storage fallback of reads).
   */
  private async forward(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    notFound?: () => Promise<void>,
  ): Promise<void> {
    const upstream = new URL(path, this.parts.upstream.url);
    return new Promise((resolve, reject) => {
      const outgoing = httpRequest(
        upstream,
        { method: req.method ?? 'GET', headers: this.upstreamHeaders(req) },
        (answer) => {
          if (answer.statusCode === 404 && notFound !== undefined) {
            answer.resume();
            notFound().then(resolve, reject);
            return;
          }
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
    target: RepositoryTarget & { reference: string },
  ): Promise<void> {
    const body = await readLimited(req, MAX_MANIFEST);
    if (body === undefined) {
      sendErrors(res, 400, [
        { code: 'MANIFEST_INVALID', message: 'manifest invalid', detail: 'http: request body too large' },
      ]);
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
          this.parts.userContext(target.subject),
        );
      } catch (err) {
        // Refused by the API (the pusher may not create the stream, or the image is over the namespace's
        // openshift.io/Image limit): the registry's access denied. The manifest stays stored, untagged.
        if (err instanceof ApiError && err.code === 403) {
          sendErrors(res, 403, [{ code: 'DENIED', message: 'requested access to the resource is denied' }]);
          return;
        }
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
