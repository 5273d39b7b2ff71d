// A loopback TLS reverse proxy in front of the simulator's API server or its registry route: it answers
// chosen requests itself (a 429 storm, with or without Retry-After) and forwards the rest unchanged, so the
// pruner's own clients meet real overload answers. Its certificate comes from a throwaway CA of its own.
import { Agent, createServer, request as httpsRequest } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCertificateAuthority } from '@registry-push/testkit';

/** One request the proxy saw. */
export interface SeenRequest {
  method: string;
  path: string;
  /** ms since the epoch. */
  at: number;
  /** The status the proxy answered itself, when it did. */
  injected?: number;
}

/** An answer the proxy gives instead of forwarding. */
export interface InjectedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/** Options of {@link startTlsFaultProxy}. */
export interface TlsFaultProxyOptions {
  /** Names the proxy's certificate is for (a host name or an IP address). */
  names: string[];
  /** `ip:port` to forward to. */
  target: string;
  /** PEM of the CA the target's certificate comes from. */
  targetCaPem: string;
  /** Name to check the target's certificate against (and the SNI); default the target's IP. */
  targetServername?: string;
  /** The Host header to send upstream; default the one received. */
  targetHost?: string;
  /** Decides per request: an answer, or undefined to forward it. */
  plan: (request: { method: string; path: string }) => InjectedAnswer | undefined;
}

/** A running proxy. */
export interface TlsFaultProxy {
  /** `127.0.0.1:<port>` */
  address: string;
  /** PEM of the CA that signed the proxy's certificate. */
  caPem: string;
  /** Every request seen, in order. */
  log: SeenRequest[];
  stop(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 and a free port. */
export async function startTlsFaultProxy(options: TlsFaultProxyOptions): Promise<TlsFaultProxy> {
  const ca = await createCertificateAuthority('pruner test proxy CA', 1);
  const leaf = await ca.issue({ commonName: options.names[0] ?? 'proxy', altNames: options.names });
  const [targetHost, targetPort] = options.target.split(':');
  const agent = new Agent({
    keepAlive: true,
    ca: options.targetCaPem,
    ...(options.targetServername !== undefined ? { servername: options.targetServername } : {}),
  });
  const log: SeenRequest[] = [];
  const server = createServer(
    { cert: leaf.certPem, key: leaf.keyPem },
    (request: IncomingMessage, response: ServerResponse) => {
      const seen: SeenRequest = { method: request.method ?? 'GET', path: request.url ?? '/', at: Date.now() };
      log.push(seen);
      const answer = options.plan(seen);
      if (answer !== undefined) {
        seen.injected = answer.status;
        request.resume();
        request.on('end', () => {
          response.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
          response.end(answer.body ?? '');
        });
        return;
      }
      const upstream = httpsRequest(
        {
          agent,
          host: targetHost,
          port: Number(targetPort),
          method: request.method,
          path: request.url,
          headers: {
            ...request.headers,
            ...(options.targetHost !== undefined ? { host: options.targetHost } : {}),
          },
          ...(options.targetServername !== undefined ? { servername: options.targetServername } : {}),
        },
        (upstreamAnswer) => {
          response.writeHead(upstreamAnswer.statusCode ?? 502, upstreamAnswer.headers);
          upstreamAnswer.pipe(response);
        },
      );
      upstream.on('error', () => response.destroy());
      response.on('close', () => {
        if (!response.writableFinished) upstream.destroy();
      });
      request.pipe(upstream);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    caPem: ca.certPem,
    log,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}
