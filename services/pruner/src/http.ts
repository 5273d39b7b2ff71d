/**
 * The worker's HTTP endpoints: `/healthz` (the process serves), `/readyz` (Redis answers, the worker runs
 * and the ImagePruner CR could be read) and `/metrics` (Prometheus text).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** What the endpoints ask. */
export interface HealthSources {
  /** Undefined when ready, otherwise why not. */
  notReady(): Promise<string | undefined>;
  metrics: Registry;
}

/** A listening server and its port. */
export interface HealthServer {
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

/**
 * Serves the endpoints on `port` (0: a free one) on all interfaces.
 *
 * @returns The server once it listens.
 */
export async function startHealthServer(port: number, sources: HealthSources): Promise<HealthServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    answer(path, sources).then(
      (reply) => response.writeHead(reply.status, { 'content-type': reply.type }).end(reply.body),
      (error: unknown) =>
        response.writeHead(500, { 'content-type': 'text/plain' }).end(`error: ${(error as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
