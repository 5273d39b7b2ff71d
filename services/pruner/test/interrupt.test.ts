// Ctrl-C (SIGINT) or SIGTERM on a command that waits ends it at once with one coded line, the exit code a
// shell expects (130 / 143), and its Redis connections closed. Before, the CLI caught both signals for every
// command but only `worker` read them: `enqueue --wait` went on waiting until its --timeout.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RunningRedis } from '@registry-push/testkit';
import { main } from '../src/main.js';
import { killAll } from './support/processes.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');

let redis: RunningRedis;
let probe: Redis;

beforeAll(async () => {
  redis = await startRedis();
  probe = new Redis(redis.url, { lazyConnect: true });
  await probe.connect();
});

afterAll(async () => {
  killAll();
  probe?.disconnect();
  await redis?.stop();
});

/** Waits until the manual trigger `enqueue` added is in Redis (no worker takes it here). */
async function triggerAdded(queue: string): Promise<string> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const keys = await probe.keys(`{registry-pruner}:${queue}:manual-*`);
    if (keys.length > 0) return keys[0]!;
    if (Date.now() > deadline) throw new Error('enqueue added no trigger within 20 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The clients Redis has besides the probe. */
async function otherClients(): Promise<number> {
  const list = (await probe.client('LIST')) as string;
  return list.split('\n').filter((line) => line.trim() !== '').length - 1;
}

describe('a stop signal on enqueue --wait', () => {
  for (const [signal, exit] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`ends the real process on ${signal} with one coded line and exit ${exit}`, async () => {
      const queue = `interrupt-${signal.toLowerCase()}`;
      const child = spawn(process.execPath, [CLI, 'enqueue', '--wait', '--timeout', '10m'], {
        env: { PATH: process.env.PATH ?? '', REDIS_URL: redis.url, PRUNER_QUEUE: queue },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      let stdout = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      const exited = new Promise<number | string>((resolve) =>
        child.once('exit', (code, name) => resolve(code ?? name ?? -1)),
      );
      try {
        await triggerAdded(queue);
        // Let the wait reach its polling loop.
        await new Promise((resolve) => setTimeout(resolve, 500));
        const asked = Date.now();
        child.kill(signal);
        const code = await Promise.race([
          exited,
          new Promise<string>((resolve) => setTimeout(() => resolve('still waiting'), 15_000)),
        ]);
        expect(code, stderr).toBe(exit);
        expect(Date.now() - asked).toBeLessThan(10_000);
        const lines = stderr.split('\n').filter((line) => line !== '');
        expect(lines, stderr).toHaveLength(1);
        expect(lines[0]).toMatch(
          new RegExp(
            `^registry-pruner enqueue: Interrupted by ${signal}\\. Run manual-\\S+ goes on in the workers: follow it with \`registry-pruner status\`\\. \\[PRUNER_INTERRUPTED\\]$`,
          ),
        );
        expect(stdout).toBe('');
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    }, 60_000);
  }

  it('closes its Redis connections before it returns, and prints the error as JSON with --output json', async () => {
    // The processes above are gone, but Redis may not have dropped their connections yet: wait for that.
    const settled = Date.now() + 5_000;
    while ((await otherClients()) > 0 && Date.now() < settled)
      await new Promise((resolve) => setTimeout(resolve, 50));
    const before = await otherClients();
    expect(before).toBe(0);
    let stop!: (signal: string) => void;
    const stopSignal = new Promise<string>((resolve) => (stop = resolve));
    const out: string[] = [];
    const err: string[] = [];
    const ended = main(['enqueue', '--wait', '--output', 'json'], {
      stdout: (text) => void out.push(text),
      stderr: (text) => void err.push(text),
      env: { REDIS_URL: redis.url, PRUNER_QUEUE: 'interrupt-inproc' },
      stopSignal,
    });
    await triggerAdded('interrupt-inproc');
    expect(await otherClients()).toBeGreaterThan(before);
    stop('SIGINT');
    expect(await ended).toBe(130);
    expect(err).toHaveLength(1);
    expect(JSON.parse(out.join('\n'))).toMatchObject({ error: { code: 'PRUNER_INTERRUPTED' } });
    // QUIT is answered before the server drops the client from its list: give it a moment.
    const deadline = Date.now() + 3_000;
    while ((await otherClients()) > before && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await otherClients()).toBe(before);
  }, 60_000);
});
