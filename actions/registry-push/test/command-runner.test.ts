// The action's command runner on @actions/exec, with real processes: the environment is exactly the one
// given (exec would inherit ours without it), the program is found on that environment's PATH, stdin reaches
// the tool, a timeout and stopAll end it, and each run is one group of the job log.
import { afterEach, describe, expect, it } from 'vitest';
import { actionsCommandRunner } from '../src/command-runner.js';

const PATH = '/usr/local/bin:/usr/bin:/bin';

let written: string[] = [];
const write = process.stdout.write.bind(process.stdout);

/** What the runner writes to the job log (stdout), kept out of the test output. */
function captureLog(): void {
  written = [];
  process.stdout.write = (chunk: string | Uint8Array): boolean => {
    written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  };
}

afterEach(() => {
  process.stdout.write = write;
});

function logLines(): string[] {
  return written.join('').split('\n');
}

describe('actionsCommandRunner', () => {
  it('gives the program exactly the environment of the call, nothing of ours', async () => {
    process.env.CALLER_SECRET_FOR_TEST = 'callerSecretValue0123';
    captureLog();
    try {
      const result = await actionsCommandRunner().run({
        program: 'env',
        args: [],
        env: { PATH, ONLY_THIS: 'yes' },
      });
      expect(result.exitCode).toBe(0);
      expect(result.signal).toBeNull();
      expect(result.output.trim().split('\n').sort()).toEqual([`PATH=${PATH}`, 'ONLY_THIS=yes'].sort());
    } finally {
      delete process.env.CALLER_SECRET_FOR_TEST;
    }
  });

  it('streams the output into its own group, with workflow commands off while the tool writes', async () => {
    captureLog();
    const result = await actionsCommandRunner().run({
      program: 'sh',
      args: ['-c', 'echo "::error::from the tool"; echo to-stderr >&2; exit 3'],
      env: { PATH },
    });
    expect(result.exitCode).toBe(3);
    expect(result.output).toContain('to-stderr');
    const lines = logLines();
    const start = lines.indexOf('::group::sh -c');
    const end = lines.indexOf('::endgroup::', start);
    expect(start).toBeGreaterThanOrEqual(0);
    const inside = lines.slice(start + 1, end);
    const stop = /^::stop-commands::(.+)$/.exec(inside[0] ?? '')?.[1];
    expect(stop).toBeDefined();
    expect(inside.indexOf('::error::from the tool')).toBeGreaterThan(0);
    expect(inside).toContain('to-stderr');
    expect(inside.at(-1)).toBe(`::${stop ?? ''}::`);
  });

  it('writes stdin to the program and closes it', async () => {
    captureLog();
    const result = await actionsCommandRunner().run({
      program: 'cat',
      args: [],
      env: { PATH },
      stdin: 'on stdin',
    });
    expect(result).toEqual({ exitCode: 0, signal: null, output: 'on stdin' });
  });

  it('looks the program up on the PATH of the call: not there is ENOENT, as the core expects', async () => {
    captureLog();
    await expect(
      actionsCommandRunner().run({ program: 'sh', args: ['-c', 'true'], env: { PATH: '/nonexistent' } }),
    ).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('ends a program that outlives its timeout, and says by which signal', async () => {
    captureLog();
    const started = Date.now();
    const result = await actionsCommandRunner().run({
      program: 'sleep',
      args: ['30'],
      env: { PATH },
      timeoutMs: 300,
    });
    expect(result).toMatchObject({ exitCode: null, signal: 'SIGTERM' });
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('stopAll signals what still runs, started or about to be', async () => {
    captureLog();
    const runner = actionsCommandRunner();
    const early = runner.run({ program: 'sleep', args: ['30'], env: { PATH } });
    // Told to stop before exec has even spawned it: the process gets the signal once it exists.
    expect(runner.stopAll('SIGINT')).toBe(1);
    expect(await early).toMatchObject({ exitCode: null, signal: 'SIGINT' });

    const running = runner.run({ program: 'sh', args: ['-c', 'echo started; exec sleep 30'], env: { PATH } });
    while (!written.join('').includes('started\n')) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(runner.stopAll()).toBe(1);
    expect(await running).toMatchObject({ exitCode: null, signal: 'SIGTERM' });
    expect(runner.stopAll()).toBe(0);
  });
});
