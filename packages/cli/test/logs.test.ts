// `registry-push logs` against the simulator's registry pods: all pods, --pod, --tail, --timestamps,
// --since, --follow (ending when the pod goes away), JSON lines, and each refusal with its exit code.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterClient, RegistryNames, Resources, type KubeObject } from '@registry-push/core';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/main.js';
import type { Run } from './run.js';

const NS = 'openshift-image-registry';
let cluster: RunningCluster;
let scratch: string;
let admin: ClusterClient;
const as = (user: string): string[] => ['--kubeconfig', cluster.users[user]!.kubeconfig];

/** Runs the CLI; `out` receives stdout lines as they are printed (for --follow). */
async function run(argv: string[], out: string[] = []): Promise<Run> {
  const err: string[] = [];
  const code = await main(argv, {
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    env: { HOME: scratch },
  });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

async function registryPod(): Promise<string> {
  for (let i = 0; i < 400; i++) {
    const pods = await admin.list<KubeObject>(Resources.pod, {
      namespace: NS,
      labelSelector: 'docker-registry=default',
    });
    if (pods[0] !== undefined) return pods[0].metadata.name;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('no registry pod');
}

async function until(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'cli-logs-'));
  cluster = await startCluster({ routerMode: 'port' });
  admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
});

afterAll(async () => {
  await admin.close();
  await cluster.stop();
  await rm(scratch, { recursive: true, force: true });
});

describe('registry-push logs', () => {
  it('is listed in --help with its options', async () => {
    expect((await run(['--help'])).stdout).toMatch(/\n {2}logs +print the registry pods' logs/);
    const help = await run(['logs', '--help']);
    for (const option of ['--pod', '--follow', '--since', '--since-time', '--tail', '--timestamps']) {
      expect(help.stdout).toContain(option);
    }
  });

  it('prints the registry pod log, and one pod with --tail and --timestamps', async () => {
    const pod = await registryPod();
    const all = await run(['logs', ...as('kubeadmin')]);
    expect(all.code).toBe(0);
    expect(all.stdout.split('\n')[0]).toMatch(/^time="[^"]+" level=info msg="start registry"/);
    expect(all.stdout.endsWith('\n')).toBe(false);
    cluster.podLogs.append(NS, pod, 'a line for the cli');
    const tail = await run(['logs', '--pod', pod, '--tail', '1', '--timestamps', ...as('kubeadmin')]);
    expect(tail).toMatchObject({ code: 0 });
    expect(tail.stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z a line for the cli$/);
    const json = await run(['logs', '--pod', pod, '--tail', '1', '-o', 'json', ...as('kubeadmin')]);
    expect(JSON.parse(json.stdout)).toEqual({ pod, text: 'a line for the cli' });
    cluster.podLogs.append(NS, pod, 'yesterday', new Date(Date.now() - 86_400_000));
    const since = await run(['logs', '--since', '1h', ...as('kubeadmin')]);
    expect(since.stdout).toContain('a line for the cli');
    expect(since.stdout).not.toContain('yesterday');
  });

  it('--follow prints new lines as they come and exits 0 when the pod is gone', async () => {
    const pod = await registryPod();
    const out: string[] = [];
    const following = run(['logs', '-f', '--pod', pod, '--tail', '0', ...as('kubeadmin')], out);
    await until(() => {
      cluster.podLogs.append(NS, pod, 'followed by the cli');
      return out.includes('followed by the cli');
    });
    cluster.podLogs.append(NS, pod, 'last before delete');
    await until(() => out.includes('last before delete'));
    await admin.delete(Resources.pod, pod, RegistryNames.namespace);
    const done = await following;
    expect(done.code).toBe(0);
    expect(done.stderr).toBe('');
  });

  it('refusals: one coded line, exit 1; option mistakes exit 2', async () => {
    const unknown = await run(['logs', '--pod', 'image-registry-nope', ...as('kubeadmin')]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(
      /^registry-push logs: Pod image-registry-nope is not a registry pod in openshift-image-registry; the registry pods are .+\[NOT_FOUND\]$/,
    );
    const viewer = await run(['logs', ...as('viewer')]);
    expect(viewer.code).toBe(1);
    expect(viewer.stderr).toMatch(/needs get on pods\/log.*\[FORBIDDEN\]$/);
    const since = await run(['logs', '--since', '5x', ...as('kubeadmin')]);
    expect(since.code).toBe(2);
    expect(since.stderr).toMatch(/--since must be a duration such as 30s, 5m, 2h or 1h30m, not "5x"/);
    const both = await run([
      'logs',
      '--since',
      '5m',
      '--since-time',
      '2026-12-03T10:00:00Z',
      ...as('kubeadmin'),
    ]);
    expect(both.code).toBe(2);
    const tail = await run(['logs', '--tail', 'ten', ...as('kubeadmin')]);
    expect(tail.code).toBe(2);
    expect(tail.stderr).toMatch(/--tail must be a whole number/);
  });
});
