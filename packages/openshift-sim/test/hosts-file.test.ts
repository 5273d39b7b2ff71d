import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { makeWorkDir, removeWorkDir } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostsFile, processIdentity } from '../src/router/hosts-file.js';
import { eventually } from './helpers.js';

const built = pathToFileURL(
  join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'router', 'hosts-file.js'),
).href;

describe('HostsFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await makeWorkDir('hosts-file-test');
  });
  afterAll(async () => {
    await removeWorkDir(dir);
  });

  it("adds and removes only its own tagged lines, leaving the system's and other simulators' alone", async () => {
    const path = join(dir, 'hosts');
    const system = '127.0.0.1 localhost\n::1 localhost ip6-localhost\n';
    await writeFile(path, system);
    const a = new HostsFile('sim-a', '127.10.0.1', path);
    const b = new HostsFile('sim-b', '127.20.0.1', path);
    await Promise.all([a.set(['x.apps.a.test', 'y.apps.a.test']), b.set(['x.apps.b.test'])]);
    let text = await readFile(path, 'utf8');
    expect(text.startsWith(system)).toBe(true);
    expect(text).toContain('127.10.0.1 x.apps.a.test # openshift-sim sim-a');
    expect(text).toContain('127.20.0.1 x.apps.b.test # openshift-sim sim-b');
    expect([...HostsFile.addressesInUse(path)].sort()).toEqual(['127.10.0.1', '127.20.0.1']);

    await a.set(['y.apps.a.test']);
    text = await readFile(path, 'utf8');
    expect(text).not.toContain('x.apps.a.test');
    expect(text).toContain('y.apps.a.test');

    await a.clear();
    text = await readFile(path, 'utf8');
    expect(text).not.toContain('sim-a');
    expect(text).toContain('x.apps.b.test');
    b.clearNow();
    expect(await readFile(path, 'utf8')).toBe(system);
  });

  it('waits for a lock another writer holds and gives up on a stale one', async () => {
    const path = join(dir, 'hosts-locked');
    await writeFile(path, '127.0.0.1 localhost\n');
    await writeFile(`${path}.openshift-sim.lock`, '');
    const { utimes } = await import('node:fs/promises');
    const old = new Date(Date.now() - 60_000);
    await utimes(`${path}.openshift-sim.lock`, old, old);
    await new HostsFile('sim-c', '127.30.0.1', path).set(['z.apps.c.test']);
    expect(await readFile(path, 'utf8')).toContain('z.apps.c.test');
  });

  it('removes lines of simulators that died without cleaning up, and only those', async () => {
    const path = join(dir, 'hosts-stale');
    // A process that ran and exited: its PID names no running process now.
    const gone = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    const gonePid = gone.pid ?? 0;
    const goneIdentity = processIdentity(gonePid);
    await once(gone, 'exit');
    // A simulator still running elsewhere (this test's parent stands in for it).
    const alive = processIdentity(process.ppid) ?? '';
    const lines = [
      '127.0.0.1 localhost',
      `127.40.0.1 a.apps.dead.test # openshift-sim dead pid=${goneIdentity ?? gonePid}`,
      `127.41.0.1 b.apps.live.test # openshift-sim live pid=${alive}`,
      // Its PID runs, but it is another process than the one that wrote the line (a recycled PID).
      `127.42.0.1 c.apps.recycled.test # openshift-sim recycled pid=${process.ppid}@1`,
      // Written by an older simulator that named no process: whose it is cannot be told, so it stays.
      '127.43.0.1 d.apps.old.test # openshift-sim old',
    ];
    await writeFile(path, `${lines.join('\n')}\n`);
    // The first write of a simulator sweeps, even with no hosts of its own yet.
    await new HostsFile('sim-d', '127.50.0.1', path).set([]);
    const text = await readFile(path, 'utf8');
    expect(text).toContain('127.0.0.1 localhost');
    expect(text).not.toContain('a.apps.dead.test');
    expect(text).toContain('b.apps.live.test');
    expect(text).not.toContain('c.apps.recycled.test');
    expect(text).toContain('d.apps.old.test');
  });

  it("has a watchdog remove a killed simulator's lines at once", async () => {
    const path = join(dir, 'hosts-watchdog');
    await writeFile(path, '127.0.0.1 localhost\n');
    // A simulator process as far as its hosts lines go; SIGKILL runs none of its code.
    const script = `
      import { HostsFile } from ${JSON.stringify(built)};
      const hosts = new HostsFile('sim-w', '127.60.0.1', ${JSON.stringify(path)});
      await hosts.set(['w.apps.w.test']);
      hosts.startWatchdog();
      console.log('ready');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await once(createInterface({ input: child.stdout }), 'line');
      expect(await readFile(path, 'utf8')).toContain('w.apps.w.test');
      child.kill('SIGKILL');
      await once(child, 'exit');
      await eventually(
        async () => ((await readFile(path, 'utf8')).includes('w.apps.w.test') ? undefined : true),
        30_000,
      );
      expect(await readFile(path, 'utf8')).toBe('127.0.0.1 localhost\n');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 60_000);
});
