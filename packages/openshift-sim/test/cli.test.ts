// The CLI: one JSON line when ready, the files it names, a clean stop on SIGTERM.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { makeWorkDir, probeStatus, removeWorkDir } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster } from '../src/index.js';
import { eventually } from './helpers.js';

/** PIDs whose parent is `parent` (Linux /proc). */
function childPids(parent: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent;
      } catch {
        return false;
      }
    })
    .map(Number);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');

describe('openshift-sim start', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await makeWorkDir('sim-cli-test');
  });
  afterAll(async () => {
    await removeWorkDir(dir);
  });

  it('prints one ready line, writes the files, serves the API and stops on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [cli, 'start', '--dir', dir, '--user', 'ci=edit@demo,registry-viewer@demo'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      const lines = createInterface({ input: child.stdout });
      const [first] = (await once(lines, 'line')) as [string];
      const ready = JSON.parse(first) as {
        apiServer: string;
        kubeconfig: string;
        users: Record<string, { token: string; kubeconfig: string }>;
        appsDomain: string;
        internalRegistry: string;
        ingressCA: string;
        routerAddress: string;
      };
      expect(Object.keys(ready).sort()).toEqual(
        [
          'apiServer',
          'appsDomain',
          'ingressCA',
          'internalRegistry',
          'kubeconfig',
          'routerAddress',
          'routerMode',
          'users',
        ].sort(),
      );
      expect(Object.keys(ready.users).sort()).toEqual(['ci', 'developer', 'kubeadmin', 'viewer']);
      expect(ready.users['developer']?.token).toMatch(/^sha256~[A-Za-z0-9_-]{43}$/);
      for (const file of [
        ready.kubeconfig,
        ready.ingressCA,
        ...Object.values(ready.users).map((u) => u.kubeconfig),
      ]) {
        expect(existsSync(file)).toBe(true);
      }
      expect(statSync(ready.kubeconfig).mode & 0o077).toBe(0);
      const kc = new KubeConfig();
      kc.loadFromFile(ready.users['ci']?.kubeconfig ?? '');
      const list = await kc.makeApiClient(CoreV1Api).listNamespacedConfigMap({ namespace: 'demo' });
      expect(list.items.map((c) => c.metadata?.name)).toContain('openshift-service-ca.crt');

      expect(ready.routerAddress).toMatch(/^127\.\d+\.\d+\.\d+:\d+$/);
      const registryPids = childPids(child.pid ?? 0);
      expect(registryPids.length).toBeGreaterThan(0);

      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).toBe(0);
      expect(await probeStatus(`${ready.apiServer}/healthz`)).toBeUndefined();
      for (const pid of registryPids) expect(isAlive(pid)).toBe(false);
      expect(readFileSync('/etc/hosts', 'utf8')).not.toContain(ready.appsDomain);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('refuses bad arguments with usage and exit code 2', async () => {
    const child = spawn(process.execPath, [cli, 'start', '--dir', dir, '--management-state', 'Sometimes'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(2);
    expect(stderr).toContain('--management-state must be one of Managed, Removed, Unmanaged');
  });

  // A simulator that dies without running any exit code (out of heap aborts like this; SIGKILL too) cannot
  // remove its /etc/hosts lines; its watchdog does. Only root has hosts lines.
  it.skipIf(process.getuid?.() !== 0)(
    'removes the hosts lines of a simulator that aborted',
    async () => {
      const abortedDir = join(dir, 'aborted');
      const child = spawn(process.execPath, [cli, 'start', '--dir', abortedDir, '--default-route'], {
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      let registryPids: number[] = [];
      try {
        const [first] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
        const { appsDomain } = JSON.parse(first) as { appsDomain: string };
        await eventually(
          () => Promise.resolve(readFileSync('/etc/hosts', 'utf8').includes(appsDomain) ? true : undefined),
          30_000,
        );
        registryPids = childPids(child.pid ?? 0);
        child.kill('SIGABRT');
        await once(child, 'exit');
        // Its watchdog removes the lines; were that too killed, the next start does (below).
        await eventually(
          () => Promise.resolve(readFileSync('/etc/hosts', 'utf8').includes(appsDomain) ? undefined : true),
          30_000,
        );

        const next = await startCluster({ routerMode: 'hosts' });
        try {
          expect(readFileSync('/etc/hosts', 'utf8')).not.toContain(appsDomain);
        } finally {
          await next.stop();
        }
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        // The aborted simulator could not stop its registry nor remove the registry's directory.
        for (const pid of registryPids) {
          // Its watchdog is among them and may end between the two looks: a process gone is done.
          let cwd: string;
          try {
            cwd = readlinkSync(`/proc/${pid}/cwd`);
            process.kill(pid, 'SIGTERM');
          } catch {
            continue;
          }
          if (basename(cwd).startsWith('registry-push-registry-')) await removeWorkDir(cwd);
        }
      }
    },
    120_000,
  );
});
