import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { createSecureContext, rootCertificates } from 'node:tls';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import { splitHostPort } from '../trust/pem.js';

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
  body: Dispatcher.ResponseData['body'];
}

/** The value of a header that may repeat, as one string. */
export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * A keep-alive connection pool to one registry (and whatever token realms it names), with its own trust:
 * the given CA next to the system roots, scoped to this client, never installed process-wide.
 */
export class RegistryTransport {
  /** `https://host[:port]` (or `http://` in plain HTTP mode). */
  readonly origin: string;
  private readonly agent: Agent;

  constructor(readonly options: ConnectionOptions) {
    this.origin = `${options.plainHttp === true ? 'http' : 'https'}://${options.host}`;
    const tlsVerify = options.tlsVerify ?? true;
    // One TLS context for the pool: parsing the system roots plus our CA once, not per connection.
    const secureContext =
      options.caPem === undefined
        ? undefined
        : createSecureContext({ ca: [...rootCertificates, options.caPem] });
    const base = buildConnector({
      // buildConnector offers h2 in ALPN unless told not to, whatever the Agent says: a Go registry then
      // picks HTTP/2, and parallel uploads finish one after another instead of together (measured).
      allowH2: false,
      rejectUnauthorized: tlsVerify,
      ...(secureContext === undefined ? {} : { secureContext }),
    });
    const registry = splitHostPort(options.host);
    const dial = options.connectTo === undefined ? undefined : splitHostPort(options.connectTo);
    const connect: buildConnector.connector = (connectOptions, callback) => {
      // Only connections to the registry itself are redirected; a token realm elsewhere resolves normally.
      if (dial !== undefined && connectOptions.hostname === registry.hostname) {
        base(
          {
            ...connectOptions,
            hostname: dial.hostname,
            port: String(dial.port),
            servername: registry.hostname,
          },
          callback,
        );
        return;
      }
      base(connectOptions, callback);
    };
    const timeout = options.timeoutMs ?? 120_000;
    this.agent = new Agent({
      connect,
      // HTTP/1.1 on several keep-alive connections: parallel uploads get a TCP stream each instead of
      // sharing one HTTP/2 connection's flow-control window (which registries' Go servers also police).
      allowH2: false,
      connections: options.maxConnections ?? 8,
      keepAliveTimeout: 30_000,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
  }

  /** A URL on the registry from a path or from a `Location` header (relative or absolute). */
  url(pathOrLocation: string): URL {
    return new URL(pathOrLocation, this.origin);
  }

  /** Send one request; network failures are thrown as they come (the client classifies them). */
  async send(request: HttpRequest): Promise<HttpResponse> {
    const response = await this.agent.request({
      origin: request.url.origin,
      path: `${request.url.pathname}${request.url.search}`,
      method: request.method,
      headers: request.headers,
      body: request.body ?? null,
      signal: request.signal ?? null,
    });
    return { status: response.statusCode, headers: response.headers, body: response.body };
  }

  /** Close the pool (idle connections go at once; running requests finish). */
  async close(): Promise<void> {
    await this.agent.close();
  }
}
