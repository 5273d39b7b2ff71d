// A redis-server with an append-only file on a fixed port, so a test can stop it and start it again on the
// same address with its data, as a Redis pod restart with a persistent volume does (or, with
// `persistent: false`, empty, as a Redis pod without one does).
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, makeWorkDir, redisPing, removeWorkDir, requireBinary } from '@registry-push/testkit';

/** A durable Redis that can be restarted. */
export interface DurableRedis {
  url: string;
  /** Stops the server (SIGTERM: it writes its AOF) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory. */
  start(): Promise<void>;
  /** Stops it and removes its data. */
  destroy(): Promise<void>;
}

/** Starts a durable Redis on a free port (`persistent: false`: one that comes back empty). */
export async function startDurableRedis(options: { persistent?: boolean } = {}): Promise<DurableRedis> {
  const persistent = options.persistent ?? true;
  const dir = await makeWorkDir('durable-redis');
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    child = spawn(
      requireBinary('redis-server'),
      [
        '--bind',
        '127.0.0.1',
        '--port',
        String(port),
        '--dir',
        dir,
        '--appendonly',
        persistent ? 'yes' : 'no',
        '--appendfsync',
        'always',
        '--save',
        '',
        '--maxmemory-policy',
        'noeviction',
        '--loglevel',
        'warning',
      ],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 100; i++) {
      if (await redisPing(port, 200)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('redis-server did not start');
  };
  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (running?.pid === undefined || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    process.kill(running.pid, 'SIGTERM');
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    stop,
    start,
    destroy: async () => {
      await stop();
      await removeWorkDir(dir);
    },
  };
}
