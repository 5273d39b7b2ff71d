import {
  STATUS_CODES,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the proxy does to one request instead of forwarding it. */
export type Fault =
  /** Drop the connection without an answer (the client sees a reset). */
  | { kind: 'reset' }
  /**
   * Answer with this status, e.g. 500, 503, or 429 with Retry-After: after reading the request body, or
   * with `early` at once and then close the connection without reading it (as a router with a body limit,
   * or a registry refusing an upload, does).
   */
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string; early?: boolean };

/** Seen by the fault plan: the request's number (from 1), method and path. */
export interface ProxiedRequest {
  index: number;
  method: string;
  path: string;
}

/** Options of {@link startFaultProxy}. */
export interface FaultProxyOptions {
  /** `http://127.0.0.1:<port>` of the server behind the proxy. */
  target: string;
  /** Decides per request: a fault, or undefined to forward it. */
  plan: (request: ProxiedRequest) => Fault | undefined;
}

/** A running proxy. */
export interface RunningFaultProxy {
  /** `127.0.0.1:<port>` */
  host: string;
  /** Every request seen, with what was done to it. */
  log: Array<ProxiedRequest & { fault?: Fault['kind']; status?: number }>;
  stop(): Promise<void>;
}

/**
 * A loopback HTTP reverse proxy that injects faults (connection resets, 5xx, 429 with Retry-After) into
 * chosen requests and forwards the rest unchanged, so retry logic is tested against a real server.
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<RunningFaultProxy> {
  const target = new URL(options.target);
  const log: RunningFaultProxy['log'] = [];
  let index = 0;
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const seen: ProxiedRequest = {
      index: ++index,
      method: request.method ?? 'GET',
      path: request.url ?? '/',
    };
    const fault = options.plan(seen);
    const entry: RunningFaultProxy['log'][number] = { ...seen };
    log.push(entry);
    if (fault?.kind === 'reset') {
      entry.fault = 'reset';
      request.socket.destroy();
      return;
    }
    if (fault?.kind === 'status') {
      entry.fault = 'status';
      entry.status = fault.status;
      if (fault.early === true) {
        // Written on the socket itself: Node's server would hold the answer back until it had read the
        // request body, which is exactly what this fault must not do.
        const body = fault.body ?? '';
        const headers = {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          connection: 'close',
          ...fault.headers,
        };
        const head = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
        const socket = request.socket;
        socket.end(
          `HTTP/1.1 ${fault.status} ${STATUS_CODES[fault.status] ?? ''}\r\n${head.join('')}\r\n${body}`,
        );
        setTimeout(() => socket.destroy(), 20).unref();
        return;
      }
      request.resume();
      request.on('end', () => {
        response.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
        response.end(fault.body ?? '');
      });
      return;
    }
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: request.method,
        path: request.url,
        headers: { ...request.headers, host: target.host },
      },
      (answer) => {
        entry.status = answer.statusCode;
        const headers = { ...answer.headers };
        // Locations point at the registry; rewrite them so the client stays on the proxy.
        if (typeof headers.location === 'string') {
          headers.location = headers.location.replace(
            `//${target.host}`,
            `//${String(request.headers.host)}`,
          );
        }
        response.writeHead(answer.statusCode ?? 502, headers);
        answer.pipe(response);
      },
    );
    upstream.on('error', () => response.destroy());
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    log,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
