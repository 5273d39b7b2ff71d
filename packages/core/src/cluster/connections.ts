/**
 * Connections to the API server that outlive a request. client-node 2 makes a new undici Agent for every
 * call and the raw lists went out with `agent: false`, so every call paid a TCP and TLS handshake and built a
 * new TLS context: a third of a pruner worker's CPU at a few hundred calls a second, and as much again on the
 * API server. One keep-alive agent per transport is kept instead, made from the KubeConfig's TLS settings and
 * made again when they change (a client certificate an exec plugin renewed). Watches keep a socket of their
 * own (a long watch must not hold a pooled one), but share the TLS context.
 */
import { Agent as HttpsAgent, type RequestOptions } from 'node:https';
import { createSecureContext, type SecureContext } from 'node:tls';
import { Agent as UndiciAgent } from 'undici';

/** The TLS settings of a request, as `KubeConfig.applyToHTTPSOptions` gives them. */
type TlsOptions = Pick<
  RequestOptions,
  'ca' | 'cert' | 'key' | 'pfx' | 'passphrase' | 'servername' | 'rejectUnauthorized'
>;

const TLS_FIELDS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'servername', 'rejectUnauthorized'] as const;

/** Pooled sockets per agent: enough for a worker's calls in flight, bounded for the API server's sake. */
const MAX_SOCKETS = 32;

function tlsOf(options: RequestOptions): TlsOptions {
  const tls: TlsOptions = {};
  for (const field of TLS_FIELDS) {
    if (options[field] !== undefined) (tls as Record<string, unknown>)[field] = options[field];
  }
  return tls;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  return a === b;
}

function sameTls(a: TlsOptions, b: TlsOptions): boolean {
  return TLS_FIELDS.every((field) => sameValue(a[field], b[field]));
}

/** The agents of one client: for raw requests, for client-node's calls, and the watches' TLS context. */
export class ApiConnections {
  #tls: TlsOptions | undefined;
  #https: HttpsAgent | undefined;
  #undici: UndiciAgent | undefined;
  #context: SecureContext | undefined;

  /** A keep-alive agent for requests that end (lists, reads), for these TLS settings. */
  httpsAgent(options: RequestOptions): HttpsAgent {
    const tls = this.#current(options);
    this.#https ??= new HttpsAgent({ ...tls, keepAlive: true, maxSockets: MAX_SOCKETS, scheduling: 'lifo' });
    return this.#https;
  }

  /** A keep-alive dispatcher for client-node's calls, for these TLS settings. */
  dispatcher(options: RequestOptions): UndiciAgent {
    const tls = this.#current(options);
    this.#undici ??= new UndiciAgent({
      connections: MAX_SOCKETS,
      connect: { ...tls, keepAlive: true, keepAliveInitialDelay: 30_000 },
    });
    return this.#undici;
  }

  /** The TLS context for a watch's own socket, for these TLS settings. */
  secureContext(options: RequestOptions): SecureContext {
    const tls = this.#current(options);
    const { servername: _servername, rejectUnauthorized: _reject, ...credentials } = tls;
    this.#context ??= createSecureContext(credentials);
    return this.#context;
  }

  /** Closes the pooled sockets (idle ones do not keep the process alive in any case). */
  async close(): Promise<void> {
    this.#https?.destroy();
    const undici = this.#undici;
    this.#https = undefined;
    this.#undici = undefined;
    this.#context = undefined;
    await undici?.close().catch(() => undefined);
  }

  /** The settings of this request; agents made for other settings are let go (their calls finish). */
  #current(options: RequestOptions): TlsOptions {
    const tls = tlsOf(options);
    if (this.#tls !== undefined && sameTls(this.#tls, tls)) return this.#tls;
    const https = this.#https;
    const undici = this.#undici;
    this.#https = undefined;
    this.#undici = undefined;
    this.#context = undefined;
    this.#tls = tls;
    // Calls in flight on the old agents finish; their sockets close when idle.
    if (https !== undefined) setTimeout(() => https.destroy(), 60_000).unref();
    if (undici !== undefined) void undici.close().catch(() => undefined);
    return tls;
  }
}
