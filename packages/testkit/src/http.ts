import { request as httpRequestRaw, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequestRaw } from 'node:https';

/** Options for {@link httpRequest}. */
export interface HttpRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Trust this CA (PEM) instead of the system store, for HTTPS. */
  caPem?: string;
  /** TLS server name (SNI, and the name the certificate must match) when it differs from the URL's host. */
  servername?: string;
  timeoutMs?: number;
}

/** A whole HTTP response. */
export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A small HTTP(S) client for tests: one request, the whole body buffered, a per-request CA. Rejects on
 * connection errors and timeouts, never on a status code.
 */
export async function httpRequest(url: string, options: HttpRequestOptions = {}): Promise<HttpResponse> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequestRaw : httpRequestRaw;
  return new Promise((resolve, reject) => {
    const req = send(
      target,
      {
        method: options.method ?? 'GET',
        // An explicit length: Node frames DELETE bodies only when told their size.
        headers: {
          ...options.headers,
          ...(options.body !== undefined
            ? { 'Content-Length': String(Buffer.byteLength(options.body)) }
            : {}),
        },
        timeout: options.timeoutMs ?? 10_000,
        ...(options.caPem !== undefined ? { ca: options.caPem } : {}),
        ...(options.servername !== undefined ? { servername: options.servername } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request to ${target.origin} timed out`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Resolves the status code of a GET, or undefined when nothing answers. For readiness probes. */
export async function probeStatus(
  url: string,
  caPem?: string,
  timeoutMs = 1_000,
): Promise<number | undefined> {
  try {
    const { status } = await httpRequest(url, { timeoutMs, ...(caPem !== undefined ? { caPem } : {}) });
    return status;
  } catch {
    return undefined;
  }
}
