import { describe, expect, it } from 'vitest';
import { startServiceProcess } from '../src/process.js';
import { makeWorkDir, removeWorkDir } from '../src/index.js';
import { isAlive } from './helpers.js';

describe('startServiceProcess', () => {
  it('fails with the log tail when the process exits before it is ready', async () => {
    const workDir = await makeWorkDir('process-test');
    try {
      const failure = startServiceProcess({
        name: 'early-exit',
        command: process.execPath,
        args: ['-e', 'console.error("bind: address already in use"); process.exit(3)'],
        workDir,
        ready: () => Promise.resolve(false),
      });
      await expect(failure).rejects.toMatchObject({ code: 'service-start-failed' });
      await expect(failure).rejects.toThrow(/exited with code 3[\s\S]*address already in use/);
    } finally {
      await removeWorkDir(workDir);
    }
  });

  it('kills a process that never becomes ready', async () => {
    const workDir = await makeWorkDir('process-test');
    try {
      const failure = startServiceProcess({
        name: 'never-ready',
        command: process.execPath,
        args: ['-e', 'console.log(process.pid); setInterval(() => {}, 1000)'],
        workDir,
        ready: () => Promise.resolve(false),
        startTimeoutMs: 3000, // long enough for a loaded machine to start node and log its pid
      });
      await expect(failure).rejects.toMatchObject({ code: 'service-timeout' });
      const { readFile } = await import('node:fs/promises');
      const pid = Number((await readFile(`${workDir}/never-ready.log`, 'utf8')).trim());
      expect(pid).toBeGreaterThan(0);
      expect(isAlive(pid)).toBe(false);
    } finally {
      await removeWorkDir(workDir);
    }
  });

  it('escalates to SIGKILL when SIGTERM is ignored', async () => {
    const workDir = await makeWorkDir('process-test');
    try {
      const proc = await startServiceProcess({
        name: 'stubborn',
        command: process.execPath,
        args: ['-e', 'process.on("SIGTERM", () => {}); setInterval(() => {}, 1000)'],
        workDir,
        ready: () => Promise.resolve(true),
      });
      await new Promise((resolve) => setTimeout(resolve, 200)); // let it install the handler
      await proc.stop(300);
      expect(proc.exited).toBe(true);
      expect(isAlive(proc.pid)).toBe(false);
    } finally {
      await removeWorkDir(workDir);
    }
  });
});
