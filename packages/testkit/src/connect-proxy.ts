import { createServer, connect, type AddressInfo, type Socket } from 'node:net';

/** Options of {@link startConnectProxy}. */
export interface ConnectProxyOptions {
  /** Require `Proxy-Authorization: Basic` with these credentials; others get 407. */
  credentials?: { username: string; password: string };
  /** Refuse every tunnel with this status (e.g. 403, as a proxy's deny list does). */
  refuseWith?: number;
}

/** A running proxy. */
export interface RunningConnectProxy {
  /** `http://127.0.0.1:<port>`, for HTTPS_PROXY. */
  url: string;
  /** Every tunnel asked for, as `host:port`, with the status the proxy answered. */
  log: Array<{ target: string; status: number }>;
  stop(): Promise<void>;
}

const REASONS: Readonly<Record<number, string>> = {
  200: 'Connection Established',
  400: 'Bad Request',
  403: 'Forbidden',
  407: 'Proxy Authentication Required',
  502: 'Bad Gateway',
};

/**
 * A loopback HTTP proxy that only tunnels (`CONNECT host:port`), as corporate proxies in front of CI runners
 * do for HTTPS. Tunnels are allowed to 127.0.0.1 only, so a test can never reach anything else through it.
 */
export async function startConnectProxy(options: ConnectProxyOptions = {}): Promise<RunningConnectProxy> {
  const log: RunningConnectProxy['log'] = [];
  const sockets = new Set<Socket>();
  const expected =
    options.credentials === undefined
      ? undefined
      : `Basic ${Buffer.from(`${options.credentials.username}:${options.credentials.password}`).toString('base64')}`;
  const server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      client.off('data', onData);
      const [requestLine = '', ...headerLines] = head.slice(0, end).split('\r\n');
      const [method, target = ''] = requestLine.split(' ');
      const authorization = headerLines
        .find((line) => line.toLowerCase().startsWith('proxy-authorization:'))
        ?.slice('proxy-authorization:'.length)
        .trim();
      let answered = false;
      const answer = (status: number): void => {
        answered = true;
        log.push({ target, status });
        client.write(`HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\n\r\n`);
      };
      const match = /^(127\.0\.0\.1|localhost):(\d+)$/.exec(target);
      if (method !== 'CONNECT' || match === null) {
        answer(400);
        client.end();
        return;
      }
      if (options.refuseWith !== undefined) {
        answer(options.refuseWith);
        client.end();
        return;
      }
      if (expected !== undefined && authorization !== expected) {
        answer(407);
        client.end();
        return;
      }
      const upstream = connect(Number(match[2]), '127.0.0.1', () => {
        answer(200);
        const rest = Buffer.from(head.slice(end + 4), 'latin1');
        if (rest.length > 0) upstream.write(rest);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      sockets.add(upstream);
      upstream.on('close', () => {
        sockets.delete(upstream);
        client.destroy();
      });
      upstream.on('error', () => {
        if (!answered && !client.destroyed) answer(502);
        client.destroy();
      });
      client.on('close', () => upstream.destroy());
    };
    client.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
