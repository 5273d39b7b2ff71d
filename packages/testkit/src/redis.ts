import { connect } from 'node:net';
import { requireBinary } from './binaries.js';
import { freePort } from './ports.js';
import { startOnFreePort, startServiceProcess } from './process.js';
import { makeWorkDir, removeWorkDir } from './workdir.js';

/** Options for {@link startRedis}. */
export interface RedisOptions {
  /** Extra `redis-server` arguments, e.g. `['--maxmemory', '64mb']`. */
  extraArgs?: readonly string[];
}

/** A running redis-server owned by the caller. */
export interface RunningRedis {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly pid: number;
  /** Stops the server by PID and removes its working directory. */
  stop(): Promise<void>;
}

/** Sends an inline PING and resolves true on `+PONG`. */
export async function redisPing(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let answer = '';
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
      if (answer.includes('\r\n')) finish(answer.startsWith('+PONG'));
    });
  });
}

/**
 * Starts `redis-server` on a free 127.0.0.1 port with no persistence (no RDB, no AOF) and the
 * `noeviction` policy BullMQ requires. The server and its directory are gone after `stop()`.
 */
export async function startRedis(options: RedisOptions = {}): Promise<RunningRedis> {
  const binary = requireBinary('redis-server');
  const workDir = await makeWorkDir('redis');
  try {
    return await startOnFreePort(async (port) => {
      const proc = await startServiceProcess({
        name: 'redis-server',
        command: binary,
        args: [
          '--bind',
          '127.0.0.1',
          '--port',
          String(port),
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          workDir,
          '--daemonize',
          'no',
          '--protected-mode',
          'yes',
          '--maxmemory-policy',
          'noeviction',
          '--loglevel',
          'warning',
          ...(options.extraArgs ?? []),
        ],
        workDir,
        ready: () => redisPing(port),
      });
      return {
        url: `redis://127.0.0.1:${port}`,
        host: '127.0.0.1' as const,
        port,
        pid: proc.pid,
        async stop(): Promise<void> {
          await proc.stop();
          await removeWorkDir(workDir);
        },
      };
    }, freePort);
  } catch (err) {
    await removeWorkDir(workDir);
    throw err;
  }
}
