// The HTTPS front of the API: authentication by bearer token, URL parsing into (group, version, resource,
// namespace, name, subresource), RBAC, then dispatch to the generic registry or a virtual resource.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { copyJson, isJsonObject, objectAt, stringAt, type JsonObject } from '../json.js';
import { coreVersions, groupInfo, groupList, resourceList, versionInfo } from './discovery.js';
import { openApiGroupVersion, openApiRoot, openApiV2 } from './openapi.js';
import { kindGoType, ANY } from './go-types.js';
import { decodingErrors, JSON_PATCH_OPERATIONS } from './strict-decoding.js';
import { PatchError, patchTypeForContentType, type PatchType } from './patch.js';
import { logContainer, parsePodLogOptions, PodLogs, serveLogs } from './pod-logs.js';
import { decodeProtobuf, encodeProtobuf, prefersProtobuf, PROTOBUF, supportsProtobuf } from './protobuf.js';
import type { AccessReviews } from './reviews.js';
import { forbiddenMessage, type Attributes, type Authorizer, type Subject } from './rbac.js';
import type { ResourceCatalog } from './resources.js';
import { storeKey } from './resources.js';
import type { FieldValidation, ListOptions, ResourceService, WriteOptions } from './service.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import { ApiError, errors } from './status.js';
import type { ObjectStore, WatchEvent } from './store.js';
import type { ServiceAccountTokens } from './tokens.js';
import { apiVersionOf, type ClusterFacts, type RequestContext, type ResourceType } from './types.js';
import type { VirtualResources } from './virtual.js';

/** What the API server is built from. */
export interface ApiServerParts {
  /** The containers' log lines of the simulated pods (`pods/<name>/log`); none kept when absent. */
  podLogs?: PodLogs;
  catalog: ResourceCatalog;
  store: ObjectStore;
  service: ResourceService;
  virtual: VirtualResources;
  authorizer: Authorizer;
  /** Looks a bearer token up; undefined means unknown (401). */
  authenticate: (token: string) => Subject | undefined;
  /** Answers TokenReviews and SubjectAccessReviews. */
  reviews?: AccessReviews;
  /** Issues service-account tokens (the TokenRequest subresource `serviceaccounts/token`). */
  tokens?: ServiceAccountTokens;
  facts: ClusterFacts;
  tls: { certPem: string; keyPem: string };
}

interface ParsedPath {
  group: string;
  version: string;
  plural: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

const MAX_BODY = 3 * 1024 * 1024;
const ANONYMOUS: Subject = { name: 'system:anonymous', groups: ['system:unauthenticated'] };

function segmentsOf(pathname: string): string[] {
  return pathname
    .split('/')
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        throw errors.badRequest(`invalid path segment "${s}"`);
      }
    });
}

/** Splits a resource path; undefined when it is not one (a discovery path or unknown). */
export function parseResourcePath(pathname: string): ParsedPath | undefined {
  const api = splitApiPrefix(segmentsOf(pathname));
  if (api === undefined) return undefined;
  const { rest, ...base } = api;
  for (const segment of rest) {
    if (segment === '.' || segment === '..') {
      throw errors.badRequest(`Name parameter invalid: "${segment}": may not be '${segment}'`);
    }
  }
  if (isNamespacedPath(base.group, rest)) {
    const [, namespace = '', plural = '', name, subresource] = rest;
    if (rest.length > 5) return undefined;
    return { ...base, namespace, ...resourceParts(plural, name, subresource) };
  }
  const [plural = '', name, subresource] = rest;
  if (rest.length > 3) return undefined;
  return { ...base, ...resourceParts(plural, name, subresource) };
}

/** `/api/<version>/...` is the core group; `/apis/<group>/<version>/...` any other. */
function splitApiPrefix(segs: string[]): { group: string; version: string; rest: string[] } | undefined {
  if (segs[0] === 'api' && segs.length >= 3) {
    return { group: '', version: segs[1] ?? '', rest: segs.slice(2) };
  }
  if (segs[0] === 'apis' && segs.length >= 4) {
    return { group: segs[1] ?? '', version: segs[2] ?? '', rest: segs.slice(3) };
  }
  return undefined;
}

/**
 * Whether the path is under `namespaces/<ns>/`: a namespace's own paths (`namespaces/<ns>`, its status and
 * finalize) name the cluster-scoped Namespace object, not a resource inside it.
 */
function isNamespacedPath(group: string, rest: string[]): boolean {
  if (rest[0] !== 'namespaces' || rest.length < 3) return false;
  const isNamespaceItself =
    group === '' && rest.length === 3 && ['status', 'finalize'].includes(rest[2] ?? '');
  return !isNamespaceItself;
}

function resourceParts(
  plural: string,
  name: string | undefined,
  subresource: string | undefined,
): Pick<ParsedPath, 'plural' | 'name' | 'subresource'> {
  return {
    plural,
    ...(name !== undefined ? { name } : {}),
    ...(subresource !== undefined ? { subresource } : {}),
  };
}

/** The paths every caller may read, authenticated or not: health probes and `/version`. */
function serveOpenPath(pathname: string, res: ServerResponse): boolean {
  if (['/healthz', '/readyz', '/livez'].includes(pathname)) {
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
    return true;
  }
  if (pathname === '/version') {
    send(res, 200, versionInfo());
    return true;
  }
  return false;
}

function sendResourceNotFound(res: ServerResponse): void {
  send(
    res,
    404,
    new ApiError(404, 'NotFound', 'the server could not find the requested resource').toStatus(),
  );
}

/** 405 for a verb the kind does not serve; the all-namespaces path of a namespaced kind serves list and watch only. */
function checkVerbAllowed(type: ResourceType, path: ParsedPath, verb: string): void {
  if (!type.verbs.includes(verb)) throw errors.methodNotAllowed();
  if (type.namespaced && path.namespace === undefined && verb !== 'list' && verb !== 'watch') {
    throw errors.methodNotAllowed();
  }
}

/** `/api`, `/apis`, `/api/<v>`, `/apis/<g>` and `/apis/<g>/<v>`; null for an unknown one; undefined otherwise. */
function apiDiscovery(
  catalog: ResourceCatalog,
  address: string,
  segs: string[],
): JsonObject | null | undefined {
  const [root, first = '', second = ''] = segs;
  if (root === 'api') {
    if (segs.length === 1) return coreVersions(address);
    if (segs.length === 2) return resourceList(catalog, '', first) ?? null;
  }
  if (root === 'apis') {
    if (segs.length === 1) return groupList(catalog);
    if (segs.length === 2) return groupInfo(catalog, first) ?? null;
    if (segs.length === 3) return resourceList(catalog, first, second) ?? null;
  }
  return undefined;
}

/** `/openapi/v3` and its group-version documents; any other `/openapi/...` path is unknown (null). */
function openApiV3Discovery(catalog: ResourceCatalog, segs: string[]): JsonObject | null {
  if (segs[1] !== 'v3') return null;
  if (segs.length === 2) return openApiRoot(catalog);
  if (segs[2] === 'api' && segs.length === 4) return openApiGroupVersion(catalog, '', segs[3] ?? '') ?? null;
  if (segs[2] === 'apis' && segs.length === 5)
    return openApiGroupVersion(catalog, segs[3] ?? '', segs[4] ?? '') ?? null;
  return null;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY)
      throw new ApiError(413, 'RequestEntityTooLarge', 'request entity too large, limit is 3145728');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

function parseJsonBody(body: Buffer): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw errors.badRequest(
      `the object provided is unrecognized (must be of type JSON): ${(err as Error).message}`,
    );
  }
  if (!isJsonObject(value)) throw errors.badRequest('the body of the request must be a JSON object');
  return value;
}

/**
 * Responses whose request preferred protobuf (kubectl's `Accept: application/vnd.kubernetes.protobuf,
 * application/json`): every answer to it, errors included, is protobuf when its kind has a protobuf form.
 */
const protobufAnswers = new WeakSet<ServerResponse>();

/** The media type of a request body: the Content-Type without parameters, JSON when absent. */
function mediaTypeOf(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? 'application/json').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** kube's 415 for a body in a format the resource does not take, listing only the formats it does take. */
function unsupportedBody(protobuf: boolean): ApiError {
  const accepted = ['application/json', ...(protobuf ? [PROTOBUF] : [])].join(', ');
  return errors.unsupportedMediaType(
    `the body of the request was in an unknown format - accepted media types include: ${accepted}`,
  );
}

function send(res: ServerResponse, code: number, body: JsonObject, warnings: readonly string[] = []): void {
  // A kind without a protobuf form (a custom resource, an OpenShift kind) is answered in JSON, which the
  // client accepts as its fallback, as kube-apiserver does.
  const encoded = protobufAnswers.has(res) ? encodeProtobuf(body) : undefined;
  const text = encoded ?? JSON.stringify(body);
  const headers: Record<string, string | string[]> = {
    'Content-Type': encoded !== undefined ? PROTOBUF : 'application/json',
    'Cache-Control': 'no-cache, private',
    'Content-Length': String(encoded !== undefined ? encoded.length : Buffer.byteLength(text)),
  };
  if (warnings.length > 0) headers['Warning'] = warnings.map((w) => `299 - ${JSON.stringify(w)}`);
  res.writeHead(code, headers);
  res.end(text);
}

function verbFor(method: string, path: ParsedPath, watch: boolean): string {
  switch (method) {
    case 'GET':
    case 'HEAD':
      if (watch) return 'watch';
      return path.name === undefined ? 'list' : 'get';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return path.name === undefined ? 'deletecollection' : 'delete';
    default:
      throw errors.methodNotAllowed();
  }
}

function patchErrorToApi(err: PatchError): ApiError {
  const codes = { BadRequest: 400, Invalid: 422, Conflict: 409, UnsupportedMediaType: 415 } as const;
  const causes =
    err.detail !== undefined ? [{ reason: 'UnexpectedServerResponse', message: err.detail }] : undefined;
  return new ApiError(codes[err.reason], err.reason, err.message, causes ? { causes } : undefined);
}

function writeOptions(query: URLSearchParams): WriteOptions {
  const dryRun = query.getAll('dryRun');
  if (dryRun.some((d) => d !== 'All'))
    throw errors.badRequest(`dryRun: Unsupported value: "${dryRun.join(',')}": supported values: "All"`);
  const validation = query.get('fieldValidation');
  if (validation !== null && !['Strict', 'Warn', 'Ignore'].includes(validation)) {
    throw errors.badRequest(
      `fieldValidation: Unsupported value: "${validation}": supported values: "Ignore", "Strict", "Warn"`,
    );
  }
  return {
    dryRun: dryRun.length > 0,
    ...(validation !== null ? { fieldValidation: validation as FieldValidation } : {}),
  };
}

function listOptions(query: URLSearchParams): ListOptions {
  const limitText = query.get('limit');
  const given = limitText === null ? 0 : Number(limitText);
  if (!Number.isInteger(given)) throw errors.badRequest(`invalid limit "${limitText ?? ''}"`);
  // A real server takes a negative limit as no limit.
  const limit = Math.max(0, given);
  return {
    labelSelector: query.get('labelSelector'),
    fieldSelector: query.get('fieldSelector'),
    limit,
    continueToken: query.get('continue'),
  };
}

function deletePreconditions(
  body: Buffer,
  mediaType = 'application/json',
): { uid?: string; resourceVersion?: string } {
  if (body.length === 0) return {};
  const options = mediaType === PROTOBUF ? decodeProtobuf(body, 'DeleteOptions') : parseJsonBody(body);
  const preconditions = objectAt(options, 'preconditions') ?? {};
  const uid = stringAt(preconditions, 'uid');
  const resourceVersion = stringAt(preconditions, 'resourceVersion');
  return {
    ...(uid !== undefined ? { uid } : {}),
    ...(resourceVersion !== undefined ? { resourceVersion } : {}),
  };
}

function isTokenRequest(type: ResourceType, path: ParsedPath): boolean {
  return type.group === '' && type.plural === 'serviceaccounts' && path.subresource === 'token';
}

/**
 * Which objects a watch sees: its label and field selectors, and its object's name when it watches one.
 * `selective` is false for a watch of everything (which then needs no look at an object to decide).
 */
function watchFilter(
  type: ResourceType,
  path: ParsedPath,
  query: URLSearchParams,
): { matches: (object: JsonObject) => boolean; selective: boolean } {
  const labelMatch = parseLabelSelector(query.get('labelSelector'));
  const fieldNames = [
    'metadata.name',
    ...(type.namespaced ? ['metadata.namespace'] : []),
    ...type.selectableFields,
  ];
  const fieldMatch = parseFieldSelector(query.get('fieldSelector'), fieldNames);
  const matches = (object: JsonObject): boolean => {
    const meta = objectAt(object, 'metadata') ?? {};
    const labels = Object.fromEntries(
      Object.entries(objectAt(meta, 'labels') ?? {}).filter(
        (e): e is [string, string] => typeof e[1] === 'string',
      ),
    );
    const fields = {
      'metadata.name': stringAt(meta, 'name') ?? '',
      'metadata.namespace': stringAt(meta, 'namespace') ?? '',
      ...(type.strategy?.fields?.(object) ?? {}),
    };
    // A watch on a named object (`…/configmaps/a?watch=true`) sees only that object.
    if (path.name !== undefined && fields['metadata.name'] !== path.name) return false;
    return labelMatch(labels) && fieldMatch(fields);
  };
  const selective =
    path.name !== undefined ||
    (query.get('labelSelector') ?? '') !== '' ||
    (query.get('fieldSelector') ?? '') !== '';
  return { matches, selective };
}

/**
 * An object's content before a change, at the change's resourceVersion: what kube's watch cache sends as
 * DELETED to a watcher that saw the object and no longer does. A deletion's own event already is that.
 */
function previousContent(event: WatchEvent): JsonObject {
  if (event.type === 'DELETED' || event.previous === undefined) return event.object;
  const content = copyJson(event.previous);
  const meta = objectAt(content, 'metadata');
  const rv = stringAt(objectAt(event.object, 'metadata'), 'resourceVersion');
  if (meta !== undefined && rv !== undefined) meta['resourceVersion'] = rv;
  return content;
}

/** `metadata.name=<name>` (or `==`) as the only requirement of a field selector, else undefined. */
function nameFromFieldSelector(selector: string | null): string | undefined {
  if (selector === null || selector.includes(',')) return undefined;
  const match = /^\s*metadata\.name\s*==?\s*([^\s=!]+)\s*$/.exec(selector);
  return match?.[1];
}

/** The simulated kube-apiserver (plus the openshift-apiserver groups), over HTTPS. */
export class ApiServer {
  private server: Server | undefined;
  private address = '';
  private readonly openWatches = new Set<ServerResponse>();

  constructor(private readonly parts: ApiServerParts) {}

  /** Listens on 127.0.0.1 (port 0 picks a free one); returns the base URL. */
  async listen(port = 0): Promise<string> {
    const server = createServer({ cert: this.parts.tls.certPem, key: this.parts.tls.keyPem }, (req, res) => {
      void this.handle(req, res);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const { port: bound } = server.address() as AddressInfo;
    this.address = `127.0.0.1:${bound}`;
    return `https://${this.address}`;
  }

  /** Ends open watches and closes the listener. */
  async close(): Promise<void> {
    for (const res of this.openWatches) res.end();
    this.openWatches.clear();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private subjectOf(req: IncomingMessage): Subject {
    const header = req.headers.authorization;
    if (header === undefined) return ANONYMOUS;
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const subject = match ? this.parts.authenticate(match[1] ?? '') : undefined;
    if (!subject) throw errors.unauthorized();
    return subject;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (prefersProtobuf(req.headers.accept)) protobufAnswers.add(res);
    try {
      await this.route(req, res);
    } catch (err) {
      if (res.headersSent) {
        res.end();
        return;
      }
      const apiError =
        err instanceof ApiError
          ? err
          : err instanceof PatchError
            ? patchErrorToApi(err)
            : new ApiError(500, 'InternalError', `Internal error occurred: ${(err as Error).message}`);
      send(res, apiError.code, apiError.toStatus());
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://sim.invalid');
    // The path as sent: URL parsing would resolve `%2e%2e` segments into another resource's path.
    const rawPath = (req.url ?? '/').split('?')[0] ?? '/';
    if (serveOpenPath(url.pathname, res)) return;
    const subject = this.subjectOf(req);
    if (url.pathname === '/openapi/v2') {
      this.openApiV2(req, res, subject);
      return;
    }
    if (this.serveDiscovery(url.pathname, res, subject)) return;
    const resolved = this.resolveResource(rawPath);
    if (resolved === undefined) {
      sendResourceNotFound(res);
      return;
    }
    const { type, path } = resolved;
    const watch = ['true', '1'].includes(url.searchParams.get('watch') ?? '');
    const verb = verbFor(req.method ?? 'GET', path, watch);
    this.authorize(subject, type, path, verb, url.searchParams);
    const ctx: RequestContext = {
      store: this.parts.store,
      authorizer: this.parts.authorizer,
      user: subject,
      facts: this.parts.facts,
      namespace: path.namespace ?? '',
    };
    await this.dispatch(req, res, { type, path, verb, query: url.searchParams, ctx });
  }

  /** Answers a discovery path (true) for authenticated callers; false when the path is not one. */
  private serveDiscovery(pathname: string, res: ServerResponse, subject: Subject): boolean {
    const discovery = this.discovery(pathname);
    if (discovery === undefined) return false;
    if (subject === ANONYMOUS) {
      throw errors.forbidden(`forbidden: User "system:anonymous" cannot get path "${pathname}"`);
    }
    send(
      res,
      discovery === null ? 404 : 200,
      discovery ?? errors.notFound({ group: '', resource: '' }).toStatus(),
    );
    return true;
  }

  /** The kind a resource path names, when the server serves it at that version and scope. */
  private resolveResource(rawPath: string): { type: ResourceType; path: ParsedPath } | undefined {
    const path = parseResourcePath(rawPath);
    if (!path) return undefined;
    const type = this.parts.catalog.find(path.group, path.plural);
    if (!type || type.version !== path.version || (path.namespace !== undefined && !type.namespaced)) {
      return undefined;
    }
    return { type, path };
  }

  /** `/openapi/v2`, for authenticated callers as the other discovery documents. */
  private openApiV2(req: IncomingMessage, res: ServerResponse, subject: Subject): void {
    if (subject === ANONYMOUS) {
      throw errors.forbidden('forbidden: User "system:anonymous" cannot get path "/openapi/v2"');
    }
    const document = openApiV2(req.headers.accept);
    res.writeHead(200, {
      'Content-Type': document.contentType,
      'Content-Length': String(document.body.length),
    });
    res.end(document.body);
  }

  /** A discovery document, null for an unknown discovery path, undefined when not a discovery path. */
  private discovery(pathname: string): JsonObject | null | undefined {
    const segs = segmentsOf(pathname);
    if (segs[0] === 'openapi') return openApiV3Discovery(this.parts.catalog, segs);
    return apiDiscovery(this.parts.catalog, this.address, segs);
  }

  private authorize(
    subject: Subject,
    type: ResourceType,
    path: ParsedPath,
    verb: string,
    query: URLSearchParams,
  ): void {
    // A list or watch narrowed to one name by `fieldSelector=metadata.name=<name>` is authorized as a
    // request for that name (so rules with resourceNames cover it), as kube's request info does.
    const selectedName =
      path.name === undefined && (verb === 'list' || verb === 'watch')
        ? nameFromFieldSelector(query.get('fieldSelector'))
        : undefined;
    const name = path.name ?? selectedName;
    const attrs: Attributes = {
      verb,
      group: type.group,
      resource: path.subresource !== undefined ? `${type.plural}/${path.subresource}` : type.plural,
      ...(path.namespace !== undefined ? { namespace: path.namespace } : {}),
      ...(name !== undefined ? { name } : {}),
    };
    // A namespace is its own scope for authorization, as in kube.
    if (type.group === '' && type.plural === 'namespaces' && path.name !== undefined)
      attrs.namespace = path.name;
    if (!this.parts.authorizer.allows(subject, attrs)) {
      const target = {
        group: type.group,
        resource: type.plural,
        ...(name !== undefined ? { name } : {}),
      };
      throw errors.forbidden(forbiddenMessage(subject, attrs), target);
    }
  }

  private async dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    call: { type: ResourceType; path: ParsedPath; verb: string; query: URLSearchParams; ctx: RequestContext },
  ): Promise<void> {
    const { type, path, verb } = call;
    checkVerbAllowed(type, path, verb);
    if (isTokenRequest(type, path)) {
      await this.tokenRequest(req, res, path, verb);
      return;
    }
    if (type.group === '' && type.plural === 'pods' && path.subresource === 'log' && verb === 'get') {
      this.podLog(res, call);
      return;
    }
    if (path.subresource !== undefined && !(path.subresource === 'status' && type.statusSubresource)) {
      sendResourceNotFound(res);
      return;
    }
    const body = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(req.method ?? '')
      ? await readBody(req)
      : Buffer.alloc(0);
    if (this.dispatchVirtual(req, res, call, body)) return;
    if (verb === 'watch') {
      this.watch(req, res, call);
      return;
    }
    await Promise.resolve();
    this.dispatchGeneric(req, res, call, body);
  }

  /** `GET pods/<name>/log`: the pod's container lines, as the kubelet streams them through the API server. */
  private podLog(
    res: ServerResponse,
    call: { type: ResourceType; path: ParsedPath; query: URLSearchParams; ctx: RequestContext },
  ): void {
    const { type, path, query, ctx } = call;
    const namespace = path.namespace ?? '';
    const name = path.name ?? '';
    const options = parsePodLogOptions(name, query);
    const pod = this.parts.service.get(type, namespace, name, ctx);
    const containers = (
      Array.isArray(objectAt(pod, 'spec')?.['containers'])
        ? (objectAt(pod, 'spec')?.['containers'] as unknown[])
        : []
    )
      .map((container) => (isJsonObject(container) ? stringAt(container, 'name') : undefined))
      .filter((container): container is string => container !== undefined);
    const container = logContainer(name, containers, options.container);
    const phase = stringAt(objectAt(pod, 'status'), 'phase') ?? 'Pending';
    if (phase === 'Pending') {
      throw errors.badRequest(
        `container "${container}" in pod "${name}" is waiting to start: ContainerCreating`,
      );
    }
    const logs = this.parts.podLogs ?? new PodLogs();
    const exists = (): boolean => this.parts.store.get('pods', namespace, name) !== undefined;
    serveLogs(res, logs, { namespace, pod: name, exists }, options);
  }

  /** Serves the kinds computed on request rather than stored (true), or leaves the call (false). */
  private dispatchVirtual(
    req: IncomingMessage,
    res: ServerResponse,
    call: { type: ResourceType; path: ParsedPath; verb: string; query: URLSearchParams; ctx: RequestContext },
    body: Buffer,
  ): boolean {
    const { type, path } = call;
    if (
      type.group === 'image.openshift.io' &&
      ['imagestreamtags', 'imagestreammappings'].includes(type.plural)
    ) {
      this.dispatchImageVirtual(res, call, body);
      return true;
    }
    if (type.group === 'authentication.k8s.io' || type.group === 'authorization.k8s.io') {
      this.review(req, res, call, body);
      return true;
    }
    if (type.group === 'user.openshift.io') {
      if (path.name !== '~')
        throw errors.notFound({ group: type.group, resource: 'users', name: path.name ?? '' });
      send(res, 200, this.parts.virtual.currentUser(call.ctx));
      return true;
    }
    return false;
  }

  /**
   * `POST tokenreviews`, `subjectaccessreviews` and `selfsubjectaccessreviews` (the caller's right to create
   * them is already checked).
   */
  private review(
    req: IncomingMessage,
    res: ServerResponse,
    call: { type: ResourceType; ctx: RequestContext },
    body: Buffer,
  ): void {
    const review = this.jsonBody(req, body);
    if (call.type.plural === 'selfsubjectaccessreviews') {
      send(res, 201, this.parts.virtual.selfSubjectAccessReview(review, call.ctx));
      return;
    }
    const reviews = this.parts.reviews;
    if (reviews === undefined) throw errors.methodNotAllowed();
    send(
      res,
      201,
      call.type.plural === 'tokenreviews' ? reviews.tokenReview(review) : reviews.subjectAccessReview(review),
    );
  }

  /** `POST …/serviceaccounts/<name>/token`: a TokenRequest. */
  private async tokenRequest(
    req: IncomingMessage,
    res: ServerResponse,
    path: ParsedPath,
    verb: string,
  ): Promise<void> {
    const tokens = this.parts.tokens;
    if (tokens === undefined || verb !== 'create') throw errors.methodNotAllowed();
    const body = await readBody(req);
    // kubectl create token sends its TokenRequest in protobuf.
    const request =
      mediaTypeOf(req) === PROTOBUF ? decodeProtobuf(body, 'TokenRequest') : this.jsonBody(req, body, true);
    send(res, 201, tokens.request(path.namespace ?? '', path.name ?? '', request));
  }

  /** A JSON body; `protobuf` says whether the 415 for another format lists protobuf as accepted. */
  private jsonBody(req: IncomingMessage, body: Buffer, protobuf = false): JsonObject {
    const contentType = mediaTypeOf(req);
    if (contentType !== 'application/json' && contentType !== '*/*') throw unsupportedBody(protobuf);
    return parseJsonBody(body);
  }

  /** The object of a create or update: JSON, or protobuf for the kinds that have a protobuf form. */
  /**
   * What kube's strict decoder names in a JSON body: keys sent twice, and for a built-in kind the fields its
   * Go type lacks (a custom resource's are found by pruning, later). Undefined for protobuf, whose decoding
   * has no such errors.
   */
  private decodingErrorsOf(req: IncomingMessage, body: Buffer, type: ResourceType): string[] | undefined {
    if (mediaTypeOf(req) === PROTOBUF) return undefined;
    const goType =
      type.builtin && type.schema === undefined ? kindGoType(type.group, type.version, type.kind) : undefined;
    return decodingErrors(body.toString('utf8'), goType ?? ANY);
  }

  /** What kube's strict decoder names in a patch: keys sent twice, a JSON patch's operations' unknown fields. */
  private patchDecodingErrors(patchType: PatchType, body: Buffer): string[] {
    const text = body.toString('utf8');
    if (patchType !== 'json') return decodingErrors(text, ANY);
    return decodingErrors(text, JSON_PATCH_OPERATIONS).map((error) => `json patch ${error}`);
  }

  private objectBody(req: IncomingMessage, body: Buffer, type: ResourceType): JsonObject {
    // Asked only when needed: the first question loads the protobuf definitions, which JSON clients never use.
    const protobuf = (): boolean => type.builtin && supportsProtobuf(type.group, type.version, type.kind);
    if (mediaTypeOf(req) === PROTOBUF) {
      // As kube-apiserver: a custom resource (or a kind served without protobuf) refuses a protobuf body.
      if (!protobuf()) throw unsupportedBody(false);
      return decodeProtobuf(body, type.kind);
    }
    try {
      return this.jsonBody(req, body);
    } catch (err) {
      if (err instanceof ApiError && err.code === 415) throw unsupportedBody(protobuf());
      throw err;
    }
  }

  private dispatchImageVirtual(
    res: ServerResponse,
    call: { type: ResourceType; path: ParsedPath; verb: string; ctx: RequestContext },
    body: Buffer,
  ): void {
    const { virtual } = this.parts;
    const namespace = call.path.namespace ?? '';
    if (call.type.plural === 'imagestreammappings') {
      send(res, 201, virtual.createImageStreamMapping(namespace, parseJsonBody(body), call.ctx));
      return;
    }
    if (call.verb === 'get')
      send(res, 200, virtual.getImageStreamTag(namespace, call.path.name ?? '', call.ctx));
    else if (call.verb === 'list') send(res, 200, virtual.listImageStreamTags(call.path.namespace, call.ctx));
    else if (call.verb === 'delete') {
      const { uid } = deletePreconditions(body);
      send(res, 200, virtual.deleteImageStreamTag(namespace, call.path.name ?? '', uid, call.ctx));
    } else throw errors.methodNotAllowed();
  }

  private dispatchGeneric(
    req: IncomingMessage,
    res: ServerResponse,
    call: { type: ResourceType; path: ParsedPath; verb: string; query: URLSearchParams; ctx: RequestContext },
    body: Buffer,
  ): void {
    const { service } = this.parts;
    const { type, path, query, ctx } = call;
    const namespace = path.namespace ?? '';
    const name = path.name ?? '';
    const sub = path.subresource === 'status' ? 'status' : undefined;
    switch (call.verb) {
      case 'get':
        send(res, 200, service.get(type, namespace, name, ctx));
        return;
      case 'list':
        send(res, 200, service.list(type, path.namespace, listOptions(query), ctx));
        return;
      case 'create': {
        const result = service.create(
          type,
          namespace,
          this.objectBody(req, body, type),
          { ...writeOptions(query), decodingErrors: this.decodingErrorsOf(req, body, type) },
          ctx,
        );
        send(res, 201, result.object, result.warnings);
        return;
      }
      case 'update': {
        const result = service.update({ type, namespace, name }, this.objectBody(req, body, type), ctx, {
          subresource: sub,
          options: { ...writeOptions(query), decodingErrors: this.decodingErrorsOf(req, body, type) },
        });
        send(res, 200, result.object, result.warnings);
        return;
      }
      case 'patch': {
        const patchType = patchTypeForContentType(req.headers['content-type'], type.builtin);
        const result = service.patch({ type, namespace, name }, { type: patchType, body }, ctx, {
          subresource: sub,
          options: { ...writeOptions(query), decodingErrors: this.patchDecodingErrors(patchType, body) },
        });
        send(res, 200, result.object, result.warnings);
        return;
      }
      case 'delete':
        send(
          res,
          200,
          service.delete({ type, namespace, name }, ctx, {
            preconditions: deletePreconditions(body, mediaTypeOf(req)),
            options: writeOptions(query),
          }),
        );
        return;
      case 'deletecollection':
        send(
          res,
          200,
          service.deleteCollection(type, path.namespace, listOptions(query), writeOptions(query), ctx),
        );
        return;
      default:
        throw errors.methodNotAllowed();
    }
  }

  /** `?watch=true`: newline-delimited events, from a resourceVersion or with the current state first. */
  private watch(
    req: IncomingMessage,
    res: ServerResponse,
    call: { type: ResourceType; path: ParsedPath; query: URLSearchParams; ctx: RequestContext },
  ): void {
    const { store } = this.parts;
    const { type, path, query, ctx } = call;
    const { matches, selective } = watchFilter(type, path, query);
    const namespace = type.namespaced ? path.namespace : undefined;
    const rvText = query.get('resourceVersion') ?? '';
    if (rvText !== '' && !/^\d+$/.test(rvText)) {
      throw errors.badRequest(`resourceVersion: Invalid value: "${rvText}": must be a non-negative integer`);
    }
    let backlog: WatchEvent[] | undefined;
    const fromCurrentState = rvText === '' || rvText === '0';
    if (fromCurrentState) {
      backlog = store.list(storeKey(type), namespace).map((object) => ({ type: 'ADDED' as const, object }));
    } else {
      backlog = store.eventsSince(storeKey(type), namespace, Number(rvText));
    }
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Transfer-Encoding': 'chunked',
      'Cache-Control': 'no-cache, private',
    });
    // kube sends the headers at once; without this a watch with nothing to report yet never got its 200.
    res.flushHeaders();
    // A watch that ended (its timeout, the server stopping, the client gone) writes nothing more: between
    // res.end() and the 'close' event a store change could still reach it, and a write after end is an
    // unhandled error that stops the whole simulator.
    const write = (event: { type: string; object: JsonObject }): void => {
      if (res.writableEnded || res.destroyed) return;
      res.write(`${JSON.stringify(event)}\n`);
    };
    if (backlog === undefined) {
      write({
        type: 'ERROR',
        object: new ApiError(
          410,
          'Expired',
          `too old resource version: ${rvText} (${store.compactedAt})`,
        ).toStatus(),
      });
      res.end();
      return;
    }
    // As kube's watch cache (cacheWatcher.convertToWatchEvent) decides by the version before the change:
    // matching now and not before is ADDED, matching both MODIFIED, matching only before DELETED with the
    // previous content at the event's resourceVersion (so also a DELETED event of a deleted object).
    const emit = (event: WatchEvent): void => {
      const now = event.type !== 'DELETED' && matches(event.object);
      const before = event.previous !== undefined && (!selective || matches(previousContent(event)));
      if (now) {
        type.strategy?.decorate?.(event.object, ctx);
        write({ type: before ? 'MODIFIED' : 'ADDED', object: event.object });
      } else if (before) {
        const gone = previousContent(event);
        type.strategy?.decorate?.(gone, ctx);
        write({ type: 'DELETED', object: gone });
      }
    };
    backlog.forEach(emit);
    const unsubscribe = store.subscribe(storeKey(type), namespace, emit);
    this.openWatches.add(res);
    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? '0');
    // With allowWatchBookmarks, kube's watch cache sends a BOOKMARK at the current revision before it ends a
    // watch on its timeout, so the client resumes from there rather than from its last (maybe old) event.
    const bookmarks = ['true', '1'].includes(query.get('allowWatchBookmarks') ?? '');
    const end = (): void => {
      finish();
      if (bookmarks) {
        write({
          type: 'BOOKMARK',
          object: {
            apiVersion: apiVersionOf(type),
            kind: type.kind,
            metadata: { resourceVersion: String(store.currentRevision) },
          },
        });
      }
      res.end();
    };
    const finish = (): void => {
      unsubscribe();
      if (timer) clearTimeout(timer);
      this.openWatches.delete(res);
    };
    const timer = timeoutSeconds > 0 ? setTimeout(end, timeoutSeconds * 1000) : undefined;
    res.on('close', finish);
    res.on('error', finish);
    req.on('close', finish);
  }
}
