/**
 * The worker's HTTP endpoints: `/healthz` (the process serves), `/readyz` (Redis answers, the worker runs
 * and the ImagePruner CR could be read) and `/metrics` (Prometheus text).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { PrunerError } from './errors.js';

/** What the endpoints ask. */
export interface HealthSources {
  /** Undefined when ready, otherwise why not. */
  notReady(): Promise<string | undefined>;
  metrics: Registry;
  /**
   * The dashboard (web/server.ts), asked for every other path; it answers false for paths that are not its
   * own, which get 404.
   */
  web?: (request: IncomingMessage, response: ServerResponse) => Promise<boolean>;
}

const HEALTH_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** A listening server, its address and port. */
export interface HealthServer {
  host: string;
  port: number;
  close(): Promise<void>;
}

async function answer(
  path: string,
  sources: HealthSources,
): Promise<{ status: number; type: string; body: string }> {
  if (path === '/healthz') return { status: 200, type: 'text/plain', body: 'ok\n' };
  if (path === '/readyz') {
    const reason = await sources.notReady();
    return reason === undefined
      ? { status: 200, type: 'text/plain', body: 'ready\n' }
      : { status: 503, type: 'text/plain', body: `not ready: ${reason}\n` };
  }
  if (path === '/metrics')
    return { status: 200, type: sources.metrics.contentType, body: await sources.metrics.metrics() };
  return { status: 404, type: 'text/plain', body: 'not found\n' };
}

/** Why listening failed, in words and with the setting to change. */
function listenError(error: NodeJS.ErrnoException, host: string, port: number): PrunerError {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const [what, hint] =
    error.code === 'EADDRINUSE'
      ? [
          `port ${port} is already in use on ${host}`,
          'Stop what listens there, or set PRUNER_HTTP_PORT (--http-port) to a free port (0: any).',
        ]
      : error.code === 'EADDRNOTAVAIL'
        ? [
            `${host} is not an address of this machine`,
            'Set PRUNER_HTTP_HOST (--http-host) to one of its addresses, 127.0.0.1 or 0.0.0.0.',
          ]
        : error.code === 'EACCES'
          ? [
              `port ${port} needs privileges this process does not have`,
              'Set PRUNER_HTTP_PORT (--http-port) to 1024 or above.',
            ]
          : [error.message, 'Check PRUNER_HTTP_HOST and PRUNER_HTTP_PORT.'];
  return new PrunerError(
    'PRUNER_HTTP_BIND_FAILED',
    `The health and metrics server cannot listen on ${where}: ${what}.`,
    {
      hint,
      cause: error,
    },
  );
}

/**
 * Serves the endpoints on `host:port` (port 0: a free one).
 *
 * @returns The server once it listens.
 * @throws PrunerError `PRUNER_HTTP_BIND_FAILED` when the address cannot be had (in use, not local, privileged).
 */
export async function startHealthServer(
  host: string,
  port: number,
  sources: HealthSources,
): Promise<HealthServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const web = HEALTH_PATHS.has(path) ? undefined : sources.web;
    const answered = web === undefined ? Promise.resolve(false) : web(request, response);
    answered
      .then(async (done) => {
        if (done) return;
        const reply = await answer(path, sources);
        response.writeHead(reply.status, { 'content-type': reply.type }).end(reply.body);
      })
      .catch((error: unknown) => {
        if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
        response.end(`error: ${(error as Error).message}\n`);
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(listenError(error, host, port)));
    server.listen(port, host, () => resolve());
  });
  return {
    host,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
