import { Readable } from 'node:stream';
import { RegistryPushError, isRegistryPushError } from '../errors.js';
import { systemErrorCode } from '../system-errors.js';
import { RegistryAuthenticator, parseChallenges, type RegistryCredentials } from './auth.js';
import { VerifyingStream, blobMismatch, parseDigest, sha256Digest } from './digest.js';
import { MANIFEST_MEDIA_TYPES, type Descriptor } from './media-types.js';
import { registryNetworkError, registryResponseError, type RegistryOperation } from './registry-errors.js';
import type {
  BlobOutcome,
  BlobProgress,
  BlobSource,
  DeleteOutcome,
  FetchedManifest,
  RegistryApi,
} from '../ports/registry-api.js';
import { DEFAULT_RETRY_POLICY, withRetry, type RetryEvent, type RetryPolicy } from './retry.js';
import { RegistryTransport, header, type ConnectionOptions, type HttpResponse } from './transport.js';

/** Options of {@link RegistryClient}. */
export interface RegistryClientOptions extends ConnectionOptions {
  /** Default anonymous. */
  credentials?: RegistryCredentials;
  /** Retries of transient failures (network, 5xx, 429); default {@link DEFAULT_RETRY_POLICY}. */
  retry?: Partial<RetryPolicy>;
  /** Blobs up to this size go up in one PUT (default 256 MiB); larger ones in PATCH chunks. */
  monolithicMaxBytes?: number;
  /** Size of one PATCH chunk (default 64 MiB). */
  chunkBytes?: number;
  /** Told before each retry. */
  onRetry?: (event: RetryEvent & { action: string }) => void;
}

interface Exchange {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  /** A path on the registry or a `Location` it gave. */
  target: string;
  scopes: readonly string[];
  headers?: Record<string, string>;
  /** Made afresh for every attempt. */
  body?: () => Buffer | Readable;
  /** Statuses that are answers, not errors. */
  expect: readonly number[];
  signal?: AbortSignal;
}

const MAX_ERROR_BODY = 64 * 1024;

function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}
function pushScope(repository: string): string {
  return `repository:${repository}:pull,push`;
}
function deleteScope(repository: string): string {
  return `repository:${repository}:delete`;
}

export type {
  BlobOutcome,
  BlobProgress,
  BlobSource,
  DeleteOutcome,
  FetchedManifest,
} from '../ports/registry-api.js';

/**
 * A client of the OCI distribution API for one registry: authentication (anonymous, Basic, Bearer token
 * flow incl. OpenShift's), a private keep-alive pool with its own CA, typed errors, and classified retries
 * with backoff (network trouble, 5xx and 429 honouring `Retry-After`; never 4xx).
 */
export class RegistryClient implements RegistryApi {
  readonly host: string;
  private readonly transport: RegistryTransport;
  private readonly auth: RegistryAuthenticator;
  private readonly policy: RetryPolicy;

  constructor(private readonly options: RegistryClientOptions) {
    this.host = options.host;
    this.transport = new RegistryTransport(options);
    this.auth = new RegistryAuthenticator(
      this.transport,
      options.credentials ?? { kind: 'anonymous' },
      options.host,
    );
    this.policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  }

  /** Close the connection pool. */
  async close(): Promise<void> {
    await this.transport.close();
  }

  /**
   * `GET /v2/` with the credentials: proves the registry speaks the distribution API and accepts them.
   * Throws TOKEN_REJECTED for credentials it refuses, REGISTRY_TLS_UNTRUSTED, REGISTRY_UNREACHABLE, ...
   */
  async checkLogin(signal?: AbortSignal): Promise<void> {
    const operation = { action: 'log in to', host: this.host };
    await this.retrying(operation, async () => {
      const response = await this.exchange(operation, {
        method: 'GET',
        target: '/v2/',
        scopes: [],
        expect: [200],
        ...(signal ? { signal } : {}),
      });
      await response.body.dump();
      const version = header(response.headers, 'docker-distribution-api-version');
      if (version !== undefined && !version.startsWith('registry/2')) {
        throw new RegistryPushError(
          'REGISTRY_PROTOCOL',
          `${this.host} is not a distribution (v2) registry.`,
          {
            hint: 'Check the registry host: it should be the registry route, not the console or API server.',
          },
        );
      }
    });
  }

  /** Size of a blob in the repository, or undefined when it is not there. */
  async blobSize(
    repository: string,
    digest: string,
    signal?: AbortSignal,
    forPush = false,
  ): Promise<number | undefined> {
    // During a push the lookup asks for push access at once, so a refusal names the role pushing needs.
    const operation = { action: 'look up a blob in', host: this.host, repository, write: forPush };
    return this.retrying(operation, async () => {
      const response = await this.exchange(operation, {
        method: 'HEAD',
        target: `/v2/${repository}/blobs/${digest}`,
        scopes: [forPush ? pushScope(repository) : pullScope(repository)],
        expect: [200, 404],
        ...(signal ? { signal } : {}),
      });
      await response.body.dump();
      if (response.status === 404) return undefined;
      const length = Number(header(response.headers, 'content-length'));
      if (!Number.isSafeInteger(length) || length < 0) {
        throw new RegistryPushError(
          'REGISTRY_PROTOCOL',
          `The registry ${this.host} gave no size for the blob ${digest} in ${repository}.`,
          { hint: 'A proxy in front of the registry may drop the Content-Length header of HEAD requests.' },
        );
      }
      return length;
    });
  }

  /** Stream a blob out of the repository (the caller reads or destroys it). */
  async getBlob(repository: string, digest: string, signal?: AbortSignal): Promise<Readable> {
    const operation = { action: 'read a blob from', host: this.host, repository };
    const response = await this.retrying(operation, () =>
      this.exchange(operation, {
        method: 'GET',
        target: `/v2/${repository}/blobs/${digest}`,
        scopes: [pullScope(repository)],
        expect: [200],
        ...(signal ? { signal } : {}),
      }),
    );
    return response.body.stream();
  }

  /**
   * Make sure the blob is in `repository`: skip it when present, mount it from one of `mountFrom` when the
   * registry has it there, else upload it, verifying its digest and size while streaming.
   */
  async pushBlob(
    repository: string,
    descriptor: Pick<Descriptor, 'digest' | 'size'>,
    source: BlobSource,
    options: {
      mountFrom?: readonly string[];
      onProgress?: (progress: BlobProgress) => void;
      signal?: AbortSignal;
    } = {},
  ): Promise<BlobOutcome> {
    parseDigest(descriptor.digest);
    // A blob the registry has is not read again, so its size is checked against what the registry holds
    // instead: a manifest that declares another size must fail here as it would on upload, before a tag.
    const stored = await this.blobSize(repository, descriptor.digest, options.signal, true);
    if (stored !== undefined) {
      checkStoredSize(descriptor, stored, source.label);
      return 'exists';
    }
    for (const from of options.mountFrom ?? []) {
      if (from === repository) continue;
      if (await this.mountBlob(repository, descriptor.digest, from, options.signal)) {
        const mounted = await this.blobSize(repository, descriptor.digest, options.signal, true);
        if (mounted !== undefined) checkStoredSize(descriptor, mounted, source.label);
        return 'mounted';
      }
    }
    const operation = { action: 'upload a blob to', host: this.host, repository, write: true };
    await this.retrying(operation, () => this.uploadOnce(repository, descriptor, source, operation, options));
    return 'uploaded';
  }

  /** Cross-repository mount; true when the registry linked the blob without an upload. */
  async mountBlob(repository: string, digest: string, from: string, signal?: AbortSignal): Promise<boolean> {
    const operation = { action: 'mount a blob into', host: this.host, repository, write: true };
    const query = `mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`;
    const response = await this.retrying(operation, () =>
      this.exchange(operation, {
        method: 'POST',
        target: `/v2/${repository}/blobs/uploads/?${query}`,
        scopes: [pushScope(repository), pullScope(from)],
        headers: { 'content-length': '0' },
        expect: [201, 202],
        ...(signal ? { signal } : {}),
      }),
    );
    await response.body.dump();
    if (response.status === 201) return true;
    // 202: the registry opened an ordinary upload instead; give it back rather than leave it dangling.
    const location = header(response.headers, 'location');
    if (location !== undefined) await this.cancelUpload(repository, location);
    return false;
  }

  private async cancelUpload(repository: string, location: string): Promise<void> {
    const operation = { action: 'cancel an upload in', host: this.host, repository, write: true };
    try {
      const response = await this.exchange(operation, {
        method: 'DELETE',
        target: location,
        scopes: [pushScope(repository)],
        expect: [204, 404],
      });
      await response.body.dump();
    } catch {
      // Abandoned upload sessions expire on the registry; failing to cancel one is harmless.
    }
  }

  private async uploadOnce(
    repository: string,
    descriptor: Pick<Descriptor, 'digest' | 'size'>,
    source: BlobSource,
    operation: RegistryOperation,
    options: { onProgress?: (progress: BlobProgress) => void; signal?: AbortSignal },
  ): Promise<void> {
    const scopes = [pushScope(repository)];
    const signal = options.signal;
    const started = await this.exchange(operation, {
      method: 'POST',
      target: `/v2/${repository}/blobs/uploads/`,
      scopes,
      headers: { 'content-length': '0' },
      expect: [202],
      ...(signal ? { signal } : {}),
    });
    await started.body.dump();
    let location = this.location(started, operation);
    // Sizes are checked here as the bytes go; the digest is the registry's to check (see VerifyingStream).
    const verified = (): Readable => {
      const verifier = new VerifyingStream(
        descriptor.digest,
        descriptor.size,
        source.label,
        (sent) => options.onProgress?.({ digest: descriptor.digest, sent, total: descriptor.size }),
        { hash: false },
      );
      const input = source.open();
      input.on('error', (error) => verifier.destroy(unreadableSource(source.label, error)));
      // An upload that ends early (refused, reset, aborted) closes the file too.
      verifier.on('close', () => input.destroy());
      return input.pipe(verifier);
    };
    const monolithicMax = this.options.monolithicMaxBytes ?? 256 * 1024 * 1024;
    if (descriptor.size <= monolithicMax) {
      const done = await this.committing(descriptor, source, () =>
        this.exchange(operation, {
          method: 'PUT',
          target: withDigest(location, descriptor.digest),
          scopes,
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(descriptor.size) },
          body: verified,
          expect: [201],
          ...(signal ? { signal } : {}),
        }),
      );
      await done.body.dump();
      return;
    }
    const chunkBytes = this.options.chunkBytes ?? 64 * 1024 * 1024;
    const stream = verified();
    // Errors reach us through the reader; this keeps one raised between two chunks from going unhandled.
    stream.on('error', () => undefined);
    const reader = new ChunkReader(stream);
    try {
      for (let offset = 0; offset < descriptor.size; offset += chunkBytes) {
        const length = Math.min(chunkBytes, descriptor.size - offset);
        const chunk = await this.exchange(operation, {
          method: 'PATCH',
          target: location,
          scopes,
          headers: {
            'content-type': 'application/octet-stream',
            'content-length': String(length),
            'content-range': `${offset}-${offset + length - 1}`,
          },
          body: () => Readable.from(reader.take(length), { objectMode: false, highWaterMark: 256 * 1024 }),
          expect: [202],
          ...(signal ? { signal } : {}),
        });
        await chunk.body.dump();
        location = this.location(chunk, operation);
      }
      // Draining the end of the stream runs the final digest check before the upload is committed.
      await reader.finish();
    } finally {
      stream.destroy();
    }
    const done = await this.committing(descriptor, source, () =>
      this.exchange(operation, {
        method: 'PUT',
        target: withDigest(location, descriptor.digest),
        scopes,
        headers: { 'content-length': '0' },
        expect: [201],
        ...(signal ? { signal } : {}),
      }),
    );
    await done.body.dump();
  }

  /**
   * The PUT that commits an upload. The registry refuses it with DIGEST_INVALID when what it received does
   * not hash to the digest: then the file is read once more to tell a corrupt file (BLOB_CORRUPT, naming
   * it) from bytes changed on the way (the registry's error stands).
   */
  private async committing(
    descriptor: Pick<Descriptor, 'digest' | 'size'>,
    source: BlobSource,
    put: () => Promise<HttpResponse>,
  ): Promise<HttpResponse> {
    try {
      return await put();
    } catch (error) {
      if (!isRegistryPushError(error, 'REGISTRY_DIGEST_INVALID')) throw error;
      let input: Readable;
      try {
        input = source.open();
      } catch {
        throw error;
      }
      const corrupt = await blobMismatch(input, descriptor.digest, descriptor.size, source.label).catch(
        () => undefined,
      );
      throw corrupt ?? error;
    }
  }

  private location(response: HttpResponse, operation: RegistryOperation): string {
    const location = header(response.headers, 'location');
    if (location === undefined || location === '') {
      throw new RegistryPushError(
        'REGISTRY_PROTOCOL',
        `The registry gave no upload location while trying to ${operation.action} ${operation.repository ?? ''}.`,
        {
          hint: 'A proxy in front of the registry may drop the Location header.',
        },
      );
    }
    return location;
  }

  /** A manifest or index by tag or digest; undefined when absent. */
  async getManifest(
    repository: string,
    reference: string,
    signal?: AbortSignal,
  ): Promise<FetchedManifest | undefined> {
    const operation = { action: 'read a manifest of', host: this.host, repository };
    return this.retrying(operation, async () => {
      const response = await this.exchange(operation, {
        method: 'GET',
        target: `/v2/${repository}/manifests/${reference}`,
        scopes: [pullScope(repository)],
        headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') },
        expect: [200, 404],
        ...(signal ? { signal } : {}),
      });
      if (response.status === 404) {
        await response.body.dump();
        return undefined;
      }
      const bytes = await response.body.bytes();
      const digest = sha256Digest(bytes);
      if (reference.includes(':') && reference !== digest) {
        throw new RegistryPushError(
          'REGISTRY_PROTOCOL',
          `The registry sent a manifest for ${reference} whose digest is ${digest}.`,
          {
            hint: 'Something between here and the registry changes content; check proxies.',
          },
        );
      }
      const mediaType = (header(response.headers, 'content-type') ?? '').split(';')[0]?.trim() ?? '';
      return { mediaType, digest, bytes };
    });
  }

  /** The digest a tag or digest resolves to, or undefined when absent. */
  async headManifest(
    repository: string,
    reference: string,
    signal?: AbortSignal,
  ): Promise<{ digest: string; mediaType: string; size: number } | undefined> {
    const operation = { action: 'look up a manifest of', host: this.host, repository };
    return this.retrying(operation, async () => {
      const response = await this.exchange(operation, {
        method: 'HEAD',
        target: `/v2/${repository}/manifests/${reference}`,
        scopes: [pullScope(repository)],
        headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') },
        expect: [200, 404],
        ...(signal ? { signal } : {}),
      });
      await response.body.dump();
      if (response.status === 404) return undefined;
      const digest = header(response.headers, 'docker-content-digest');
      if (digest === undefined) {
        // Some registries omit the digest on HEAD; fetch it to know.
        const fetched = await this.getManifest(repository, reference, signal);
        return fetched === undefined
          ? undefined
          : { digest: fetched.digest, mediaType: fetched.mediaType, size: fetched.bytes.length };
      }
      return {
        digest,
        mediaType: (header(response.headers, 'content-type') ?? '').split(';')[0]?.trim() ?? '',
        size: Number(header(response.headers, 'content-length') ?? '0'),
      };
    });
  }

  /** Store a manifest under a tag or its digest; returns the digest the registry confirmed. */
  async putManifest(
    repository: string,
    reference: string,
    mediaType: string,
    bytes: Buffer,
    signal?: AbortSignal,
  ): Promise<string> {
    const operation = { action: 'push the manifest of', host: this.host, repository, write: true };
    const expected = sha256Digest(bytes);
    return this.retrying(operation, async () => {
      const response = await this.exchange(operation, {
        method: 'PUT',
        target: `/v2/${repository}/manifests/${reference}`,
        scopes: [pushScope(repository)],
        headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
        body: () => bytes,
        expect: [201],
        ...(signal ? { signal } : {}),
      });
      await response.body.dump();
      const confirmed = header(response.headers, 'docker-content-digest') ?? expected;
      if (confirmed !== expected) {
        throw new RegistryPushError(
          'REGISTRY_PROTOCOL',
          `The registry stored ${repository}:${reference} as ${confirmed}, not ${expected}.`,
          {
            hint: 'The registry rewrote the manifest; check that nothing between here and it alters content.',
          },
        );
      }
      return confirmed;
    });
  }

  /** Delete a manifest by digest (the OpenShift registry refuses while an ImageStream still uses it). */
  async deleteManifest(repository: string, digest: string, signal?: AbortSignal): Promise<DeleteOutcome> {
    return this.delete(
      { action: 'delete a manifest of', host: this.host, repository, delete: true },
      `/v2/${repository}/manifests/${digest}`,
      [deleteScope(repository)],
      signal,
    );
  }

  /** Delete a blob from a repository: on OpenShift this removes the repository's layer link only. */
  async deleteBlob(repository: string, digest: string, signal?: AbortSignal): Promise<DeleteOutcome> {
    return this.delete(
      { action: 'delete a layer link of', host: this.host, repository, delete: true },
      `/v2/${repository}/blobs/${digest}`,
      [deleteScope(repository)],
      signal,
    );
  }

  /** OpenShift's `DELETE /admin/blobs/<digest>`: remove a blob from the registry storage. */
  async deleteStoredBlob(digest: string, signal?: AbortSignal): Promise<DeleteOutcome> {
    parseDigest(digest);
    return this.delete(
      { action: 'delete a stored blob from', host: this.host, delete: true },
      `/admin/blobs/${digest}`,
      ['registry:catalog:*'],
      signal,
    );
  }

  private async delete(
    operation: RegistryOperation,
    target: string,
    scopes: readonly string[],
    signal?: AbortSignal,
  ): Promise<DeleteOutcome> {
    return this.retrying(operation, async () => {
      const response = await this.exchange(operation, {
        method: 'DELETE',
        target,
        scopes,
        expect: [200, 202, 204, 404],
        ...(signal ? { signal } : {}),
      });
      if (response.status === 404) {
        // A 404 for an unknown repository or blob means there is nothing to delete: done, not an error.
        await response.body.dump();
        return 'absent';
      }
      await response.body.dump();
      return 'deleted';
    });
  }

  /** All tags of a repository, following `Link` pagination. */
  async listTags(
    repository: string,
    options: { pageSize?: number; signal?: AbortSignal } = {},
  ): Promise<string[]> {
    const operation = { action: 'list the tags of', host: this.host, repository };
    const tags: string[] = [];
    let target: string | undefined = `/v2/${repository}/tags/list?n=${options.pageSize ?? 1000}`;
    for (let page = 0; target !== undefined && page < 10_000; page++) {
      const current: string = target;
      const response = await this.retrying(operation, () =>
        this.exchange(operation, {
          method: 'GET',
          target: current,
          scopes: [pullScope(repository)],
          expect: [200, 404],
          ...(options.signal ? { signal: options.signal } : {}),
        }),
      );
      if (response.status === 404) {
        await response.body.dump();
        return tags;
      }
      const body = (await response.body.json()) as { tags?: unknown };
      if (Array.isArray(body.tags)) tags.push(...body.tags.filter((t): t is string => typeof t === 'string'));
      target = nextLink(header(response.headers, 'link'));
    }
    return tags;
  }

  private retrying<T>(operation: RegistryOperation, run: () => Promise<T>): Promise<T> {
    const onRetry = this.options.onRetry;
    // A connection that breaks while a response body is read fails outside `exchange`: type it here, so
    // it is retried like any other network failure and reported as one.
    const attempt = (): Promise<T> =>
      run().catch((error: unknown) => {
        const code = systemErrorCode(error);
        if (isRegistryPushError(error) || code === undefined || code === 'ABORT_ERR') throw error;
        throw registryNetworkError(error, operation);
      });
    return withRetry(
      attempt,
      this.policy,
      onRetry === undefined
        ? undefined
        : (event) =>
            onRetry({ ...event, action: `${operation.action} ${operation.repository ?? operation.host}` }),
    );
  }

  /** One request with authentication: answers one challenge, then reports what the registry said. */
  private async exchange(operation: RegistryOperation, exchange: Exchange): Promise<HttpResponse> {
    const url = this.transport.url(exchange.target);
    for (let attempt = 0; ; attempt++) {
      const authorization = this.auth.authorization(exchange.scopes);
      const headers: Record<string, string> = { 'user-agent': 'registry-push', ...exchange.headers };
      if (authorization !== undefined) headers['authorization'] = authorization;
      let response: HttpResponse;
      try {
        response = await this.transport.send({
          method: exchange.method,
          url,
          headers,
          ...(exchange.body === undefined ? {} : { body: exchange.body() }),
          ...(exchange.signal === undefined ? {} : { signal: exchange.signal }),
        });
      } catch (error) {
        throw this.sendFailure(error, operation);
      }
      if (response.status === 401) {
        const bodyText = await readLimited(response);
        // One answer per request: a 401 to the credential the answer produced is a refusal.
        if (
          attempt === 0 &&
          (await this.auth.answer(response, exchange.scopes, authorization, exchange.signal))
        )
          continue;
        throw await this.unauthorized(response, bodyText, operation, {
          target: exchange.target,
          sent: authorization,
          ...(exchange.signal === undefined ? {} : { signal: exchange.signal }),
        });
      }
      if (exchange.expect.includes(response.status)) {
        if (authorization !== undefined) this.auth.accepted();
        return response;
      }
      const text = await readLimited(response);
      const error = registryResponseError(
        response.status,
        this.auth.scrub(text),
        operation,
        header(response.headers, 'retry-after'),
      );
      throw error;
    }
  }

  private sendFailure(error: unknown, operation: RegistryOperation): RegistryPushError {
    // A corrupt blob aborts its upload from inside the request body: that is the error to report.
    if (isRegistryPushError(error)) return error;
    const cause = (error as { cause?: unknown } | undefined)?.cause;
    if (isRegistryPushError(cause)) return cause;
    return registryNetworkError(error, operation);
  }

  /**
   * The error for a 401 that stands. Docker token registries say when good credentials do not reach the
   * repository (`insufficient_scope`); the OpenShift registry does not (see {@link RegistryAuthenticator.accepts}),
   * so for any other refusal the credentials that were sent are checked once against `/v2/`: taken there,
   * the refusal is about permission (REGISTRY_DENIED); refused there too, the token is wrong or expired.
   */
  private async unauthorized(
    response: HttpResponse,
    bodyText: string,
    operation: RegistryOperation,
    request: { target: string; sent: string | undefined; signal?: AbortSignal },
  ): Promise<RegistryPushError> {
    const challenge = parseChallenges(header(response.headers, 'www-authenticate'))[0];
    if (challenge?.params['error'] === 'insufficient_scope') return this.denied(bodyText, operation);
    // `/v2/` asks for no access: refused there, the credentials themselves are.
    if (this.auth.anonymous || this.transport.url(request.target).pathname === '/v2/') {
      return this.auth.rejected();
    }
    const accepted = await this.auth.accepts(request.sent, request.signal);
    return accepted === true ? this.denied(bodyText, operation) : this.auth.rejected();
  }

  /** The credentials are good but do not reach this repository: the role the operation needs. */
  private denied(bodyText: string, operation: RegistryOperation): RegistryPushError {
    const error = registryResponseError(401, this.auth.scrub(bodyText), operation);
    const project = operation.repository?.split('/')[0] ?? '<project>';
    return new RegistryPushError(
      'REGISTRY_DENIED',
      `The registry ${this.host} did not allow you to ${operation.action} ${operation.repository ?? this.host}.`,
      {
        hint:
          operation.write === true
            ? `Pushing needs the system:image-builder role (or edit/admin) in the project, and the project must exist: oc policy add-role-to-user system:image-builder <user> -n ${project}`
            : `Pulling needs the system:image-puller role (or registry-viewer) in the project: oc policy add-role-to-user system:image-puller <user> -n ${project}`,
        details: { ...error.details },
      },
    );
  }
}

/** Read at most 64 KiB of an error body (a proxy's HTML page must not fill memory). */
async function readLimited(response: HttpResponse): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of response.body) {
    if (length < MAX_ERROR_BODY) chunks.push(chunk);
    length += chunk.length;
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, MAX_ERROR_BODY);
}

function withDigest(location: string, digest: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

/**
 * The registry holds `descriptor.digest` with `stored` bytes: a descriptor declaring another size is as
 * wrong as a file of the wrong size, and a manifest naming it must not be written.
 */
function checkStoredSize(
  descriptor: Pick<Descriptor, 'digest' | 'size'>,
  stored: number,
  label: string,
): void {
  if (stored === descriptor.size) return;
  throw new RegistryPushError(
    'BLOB_CORRUPT',
    `The blob ${descriptor.digest} in ${label} is declared as ${descriptor.size} bytes, but the registry holds it with ${stored} bytes. No tag was written.`,
    {
      hint: 'The manifest gives the wrong size for this blob; rebuild or re-export the image.',
      details: { digest: descriptor.digest, source: label, declared: descriptor.size, stored },
    },
  );
}

/** A blob's file could not be read while it was being pushed. */
function unreadableSource(label: string, error: unknown): RegistryPushError {
  if (isRegistryPushError(error)) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new RegistryPushError('SOURCE_INVALID', `Could not read ${label} while pushing it: ${reason}.`, {
    hint: 'The image files changed or went away during the push; export or build the image again and push it again.',
    cause: error,
    details: { source: label },
  });
}

/** `<...>; rel="next"` from a `Link` header. */
function nextLink(link: string | undefined): string | undefined {
  if (link === undefined) return undefined;
  const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
  return match?.[1];
}

/**
 * Hands out consecutive byte ranges of one stream, so a large blob read once can go up as several PATCH
 * requests without holding more than one read buffer in memory.
 */
class ChunkReader {
  private readonly iterator: AsyncIterator<Buffer>;
  private pending: Buffer | undefined;

  constructor(stream: Readable) {
    this.iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  async *take(length: number): AsyncGenerator<Buffer> {
    let left = length;
    while (left > 0) {
      let buffer = this.pending;
      this.pending = undefined;
      if (buffer === undefined) {
        const next = await this.iterator.next();
        if (next.done === true) return;
        buffer = next.value;
      }
      if (buffer.length > left) {
        this.pending = buffer.subarray(left);
        buffer = buffer.subarray(0, left);
      }
      left -= buffer.length;
      yield buffer;
    }
  }

  /** Read to the end (there should be nothing left), so the stream's final checks run. */
  async finish(): Promise<void> {
    for (;;) {
      const next = await this.iterator.next();
      if (next.done === true) return;
    }
  }
}
