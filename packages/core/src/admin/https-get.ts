import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import { RegistryPushError } from '../errors.js';
import { splitHostPort } from '../trust/pem.js';

/** Options of {@link httpsGet}. */
export interface HttpsGetOptions {
  /** `host[:port]` as clients name it (TLS name check, SNI and `Host`). */
  host: string;
  path: string;
  headers?: Record<string, string>;
  /** Extra trust anchors (PEM), added to the system roots. */
  caPem?: string;
  /** Default true. */
  tlsVerify?: boolean;
  /** Dial this `ip:port` instead of resolving the host. */
  connectTo?: string;
  timeoutMs?: number;
  /** Largest body read (default 8 MiB). */
  maxBytes?: number;
}

/** A whole response. */
export interface HttpsAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

const TLS_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME|ERR_TLS/;

function networkError(host: string, error: NodeJS.ErrnoException): RegistryPushError {
  const code = error.code ?? error.message;
  if (TLS_ERRORS.test(code)) {
    return new RegistryPushError(
      'REGISTRY_TLS_UNTRUSTED',
      `The certificate of ${host} is not trusted (${code}).`,
      {
        hint: 'Give the registry CA (ca-file), or run `registry-push trust` to find it.',
        details: { host },
      },
    );
  }
  return new RegistryPushError('REGISTRY_UNREACHABLE', `Could not reach ${host} (${code}).`, {
    hint: 'Check that the registry route host resolves and is reachable from this machine.',
    details: { host },
    retryable: true,
  });
}

/**
 * One HTTPS GET to the registry with the whole (bounded) body read. Connection and TLS failures become
 * {@link RegistryPushError}s; any HTTP status is returned, never thrown. Headers given (a token) are never
 * part of an error.
 */
export function httpsGet(options: HttpsGetOptions): Promise<HttpsAnswer> {
  const { hostname, port } = splitHostPort(options.host);
  const target = options.connectTo === undefined ? { hostname, port } : splitHostPort(options.connectTo);
  const maxBytes = options.maxBytes ?? 8 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: options.path,
        method: 'GET',
        headers: { ...options.headers, Host: options.host },
        ...(isIP(hostname) === 0 ? { servername: hostname } : {}),
        ...(options.caPem === undefined ? {} : { ca: [...rootCertificates, options.caPem] }),
        rejectUnauthorized: options.tlsVerify !== false,
        timeout: options.timeoutMs ?? 15_000,
        // A private agent: the token-bearing connection is not pooled with anything else.
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            req.destroy();
            reject(
              new RegistryPushError(
                'REGISTRY_PROTOCOL',
                `${options.host}${options.path} sent more than ${maxBytes} bytes.`,
                { details: { host: options.host } },
              ),
            );
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (error: NodeJS.ErrnoException) => reject(networkError(options.host, error)));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('timeout', () => {
      const error: NodeJS.ErrnoException = new Error('timed out');
      error.code = 'ETIMEDOUT';
      req.destroy(error);
    });
    req.on('error', (error: NodeJS.ErrnoException) => reject(networkError(options.host, error)));
    req.end();
  });
}
