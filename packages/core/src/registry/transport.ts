import type * as NodeHttp from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import type { PeerCertificate } from 'node:tls';
import { checkServerIdentity, createSecureContext, rootCertificates } from 'node:tls';
import { RegistryPushError } from '../errors.js';
import { parseCertificateBundle, splitHostPort } from '../trust/pem.js';
import { proxySettings, type ProxySettings } from './proxy.js';

/** How to reach one registry. */
export interface ConnectionOptions {
  /** Registry `host[:port]`. */
  host: string;
  /** Extra CA (PEM) trusted for this registry, next to the system roots (from `registryTrust`). */
  caPem?: string;
  /** Verify the registry certificate (default true). */
  tlsVerify?: boolean;
  /** Speak plain HTTP (a local registry without TLS); never for a route. */
  plainHttp?: boolean;
  /** Dial this `ip:port` instead of resolving the host; TLS name and `Host` stay the registry's. */
  connectTo?: string;
  /** Keep-alive connections to the registry at most (default 8). */
  maxConnections?: number;
  /** Idle time allowed while waiting for headers or body bytes (default 120 s). */
  timeoutMs?: number;
  /**
   * Where `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` (or their lowercase forms) are read from (default
   * `process.env`); `null` for direct connections. Ignored with `connectTo`, which always dials directly.
   */
  proxyEnv?: Readonly<Record<string, string | undefined>> | null;
}

/** One HTTP exchange. */
export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  url: URL;
  headers: Record<string, string>;
  body?: Buffer | Readable;
  signal?: AbortSignal;
}

/** The answer: status, headers and a body that must be read or dumped. */
export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: ResponseBody;
}

// node:http is required, not imported: importing it as an ES module builds a facade that reads every
// export, and its lazy WebSocket getters load Node's bundled undici, about 50 ms of every command's start.
const { Agent: HttpAgent, request: httpRequest } = createRequire(import.meta.url)(
  'node:http',
) as typeof NodeHttp;

/** The value of a header that may repeat, as one string. */
export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Bodies larger than this are not read to free their connection: the connection is closed instead. */
const DUMP_LIMIT = 1024 * 1024;

/** A response body: read it whole, stream it, or dump it so its keep-alive connection can be reused. */
export class ResponseBody implements AsyncIterable<Buffer> {
  constructor(private readonly message: IncomingMessage) {}

  /** The body as a byte stream (read it once, by one reader). */
  stream(): Readable {
    return this.message;
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return (this.message as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  /** The whole body. */
  async bytes(): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of this) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  /** The whole body as UTF-8 text. */
  async text(): Promise<string> {
    return (await this.bytes()).toString('utf8');
  }

  /** The whole body parsed as JSON; a body that is not JSON is a protocol error. */
  async json(): Promise<unknown> {
    const text = await this.text();
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new RegistryPushError(
        'REGISTRY_PROTOCOL',
        'The registry answered with a body that is not JSON.',
        {
          hint: 'Something between here and the registry (a proxy, a login page) may be answering in its place.',
        },
      );
    }
  }

  /** Throw the body away: a short one is read so the connection goes back to the pool, a long one ends it. */
  async dump(): Promise<void> {
    let seen = 0;
    try {
      for await (const chunk of this) {
        seen += chunk.length;
        if (seen > DUMP_LIMIT) {
          this.message.destroy();
          return;
        }
      }
    } catch {
      // A body being thrown away broke off; its connection is closed and nothing was lost.
    }
  }
}

/** A connection that stayed silent for longer than the idle limit. */
function idleTimeout(url: URL, ms: number): Error {
  return Object.assign(new Error(`${url.host} sent nothing for ${Math.round(ms / 1000)} s`), {
    code: 'ETIMEDOUT',
  });
}

/**
 * A keep-alive connection pool to one registry (and whatever token realms it names), with its own trust:
 * the given CA next to the system roots, scoped to this client, never installed process-wide.
 *
 * Built on Node's own HTTP client rather than undici: the same throughput on uploads, and a command
 * that pushes starts and exits about 0.2 s sooner (undici compiles its WebAssembly HTTP parser at
 * load, and Node waits for that compilation before it exits).
 */
export class RegistryTransport {
  /** `https://host[:port]` (or `http://` in plain HTTP mode). */
  readonly origin: string;
  private readonly https: HttpsAgent;
  private readonly http: NodeHttp.Agent;
  private readonly registryHostname: string;
  private readonly dial: { hostname: string; port: number } | undefined;
  /**
   * The pool of the connections `connectTo` redirects, whose certificates are checked against the
   * registry's name (not the address dialled) by a check the agent itself carries: Node pools no socket of
   * a request that brings a `checkServerIdentity` of its own (each such request opened a TLS connection of
   * its own, without limit: thousands of handshakes a minute in a prune run through
   * PRUNER_REGISTRY_CONNECT_TO), unless its agent has one. The registry's own pool without `connectTo`.
   */
  private readonly dialled: HttpsAgent;
  private readonly timeoutMs: number;
  /** The proxies in use, if any. */
  private readonly proxy: ProxySettings | undefined;

  constructor(readonly options: ConnectionOptions) {
    this.origin = `${options.plainHttp === true ? 'http' : 'https'}://${options.host}`;
    // URL lowercases host names; so must the comparison that decides where connectTo applies.
    this.registryHostname = splitHostPort(options.host).hostname.toLowerCase();
    this.dial = options.connectTo === undefined ? undefined : splitHostPort(options.connectTo);
    this.timeoutMs = options.timeoutMs ?? 120_000;
    // Node's agents tunnel through an HTTP proxy when given the proxy variables (CONNECT for https).
    this.proxy =
      this.dial === undefined && options.proxyEnv !== null
        ? proxySettings(options.proxyEnv ?? process.env, options.plainHttp === true ? 'http:' : 'https:')
        : undefined;
    const proxyEnv = this.proxy?.env;
    const pool = {
      keepAlive: true,
      maxSockets: options.maxConnections ?? 8,
      // Idle keep-alive connections are closed after this long, before a registry or proxy drops them.
      timeout: 30_000,
      ...(proxyEnv === undefined ? {} : { proxyEnv }),
    };
    // One TLS context for the pool: parsing the system roots plus our CA once, not per connection.
    // Node's client offers no ALPN, so every connection is HTTP/1.1: parallel uploads get a TCP stream
    // each instead of sharing one HTTP/2 connection (over which a Go registry served them one at a time).
    const tls = {
      ...pool,
      rejectUnauthorized: options.tlsVerify ?? true,
      ...(options.caPem === undefined
        ? {}
        : {
            // A CA that is not a certificate would be dropped by OpenSSL without a word, and the push would
            // fail later as an untrusted registry: refuse it here as what it is.
            secureContext: createSecureContext({
              ca: [...rootCertificates, parseCertificateBundle(options.caPem, 'The registry CA').pem],
            }),
          }),
    };
    this.https = new HttpsAgent(tls);
    // Redirected connections all go to the registry itself, so they are all checked against its name.
    const registryHostname = this.registryHostname.replace(/^\[|\]$/g, '');
    this.dialled =
      this.dial === undefined
        ? this.https
        : new HttpsAgent({
            ...tls,
            checkServerIdentity: (_servername: string, cert: PeerCertificate) =>
              checkServerIdentity(registryHostname, cert),
          });
    this.http = new HttpAgent(pool);
  }

  /** A URL on the registry from a path or from a `Location` header (relative or absolute). */
  url(pathOrLocation: string): URL {
    return new URL(pathOrLocation, this.origin);
  }

  /** Send one request; network failures are thrown as they come (the client classifies them). */
  send(request: HttpRequest): Promise<HttpResponse> {
    const { url, body } = request;
    const secure = url.protocol === 'https:';
    const hostname = url.hostname.replace(/^\[|\]$/g, '');
    // Only connections to the registry itself are redirected; a token realm elsewhere resolves normally.
    const dial = this.dial !== undefined && hostname === this.registryHostname ? this.dial : undefined;
    const headers: Record<string, string> = { host: url.host, ...request.headers };
    if (Buffer.isBuffer(body) && headers['content-length'] === undefined) {
      headers['content-length'] = String(body.length);
    }
    const send = secure ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const outgoing = send({
        agent: secure ? (dial === undefined ? this.https : this.dialled) : this.http,
        method: request.method,
        host: dial?.hostname ?? hostname,
        // An empty port is the scheme's default, as Node reads it.
        port: dial?.port ?? url.port,
        path: `${url.pathname}${url.search}`,
        headers,
        // A certificate is checked against the registry's name, wherever the connection goes (SNI only
        // carries DNS names; the identity check covers an IP literal too).
        ...(secure && isIP(hostname) === 0 ? { servername: hostname } : {}),
        ...(request.signal === undefined ? {} : { signal: request.signal }),
      });
      // Set on the request rather than as an option: the option is skipped on a reused socket whose
      // timeout Node has already changed (to the agent's, or to a server's keep-alive hint).
      outgoing.setTimeout(this.timeoutMs, () => outgoing.destroy(idleTimeout(url, this.timeoutMs)));
      // Before an answer, a failure rejects; after one, it surfaces to whoever reads the response body.
      // A failure on a proxied connection says so, for the advice in the error.
      outgoing.on('error', (error: Error) =>
        reject(this.proxy?.proxies(url) === true ? Object.assign(error, { proxied: true }) : error),
      );
      outgoing.on('response', (message) => {
        // An answer that came before the whole body was sent (a refusal) ends the exchange: the server
        // will not read the rest, so the connection cannot be reused and the body must stop.
        message.once('end', () => {
          if (!outgoing.writableFinished) outgoing.destroy();
        });
        resolve({
          status: message.statusCode ?? 0,
          headers: message.headers,
          body: new ResponseBody(message),
        });
      });
      if (body === undefined || Buffer.isBuffer(body)) {
        outgoing.end(body);
        return;
      }
      // A body that fails (a corrupt blob, an unreadable file) aborts the request with its own error, so
      // the registry never receives a complete upload; a request that ends early releases the body.
      body.on('error', (error) => outgoing.destroy(error));
      outgoing.on('close', () => {
        if (!body.readableEnded) body.destroy();
      });
      body.pipe(outgoing);
    });
  }

  /** Close the pool: every connection, idle or busy, is closed. */
  close(): Promise<void> {
    this.https.destroy();
    if (this.dialled !== this.https) this.dialled.destroy();
    this.http.destroy();
    return Promise.resolve();
  }
}
