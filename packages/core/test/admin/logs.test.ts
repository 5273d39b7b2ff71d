// `registryLogs` against the simulator's pods/log: one pod or all, --tail, --since, timestamps, follow
// (ended by abort and by the pod going away), and each refusal.
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryLogs } from '../../src/admin/logs.js';
import { ClusterClient } from '../../src/cluster/client.js';
import { RegistryNames, Resources } from '../../src/cluster/resources.js';
import type { KubeObject } from '../../src/cluster/client.js';
import { failure } from '../failure.js';

const NS = 'openshift-image-registry';
let cluster: RunningCluster;
let admin: ClusterClient;

beforeAll(async () => {
  cluster = await startCluster({ routerMode: 'port' });
  admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
});

afterAll(async () => {
  await cluster.stop();
});

async function pods(): Promise<string[]> {
  for (let i = 0; i < 200; i++) {
    const list = await admin.list<KubeObject>(Resources.pod, {
      namespace: NS,
      labelSelector: 'docker-registry=default',
    });
    if (list.length > 0) return list.map((pod) => pod.metadata.name);
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

describe('registryLogs against the simulator', () => {
  it('reads every registry pod, with tail and timestamps', async () => {
    const [pod = ''] = await pods();
    const lines: { pod: string; text: string }[] = [];
    const all = await registryLogs({
      client: admin,
      access: { kubeconfig: cluster.kubeconfig },
      onLine: (line) => lines.push(line),
    });
    expect(all.pods).toEqual([pod]);
    expect(lines[0]).toMatchObject({ pod, text: expect.stringMatching(/msg="start registry"/) as unknown });
    expect(all.lines).toBe(lines.length);
    cluster.podLogs.append(NS, pod, 'the newest line');
    const tail: string[] = [];
    await registryLogs({
      client: admin,
      access: { kubeconfig: cluster.kubeconfig },
      pod,
      tailLines: 1,
      timestamps: true,
      onLine: (line) => tail.push(line.text),
    });
    expect(tail).toHaveLength(1);
    expect(tail[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z the newest line$/);
    cluster.podLogs.append(NS, pod, 'an hour old', new Date(Date.now() - 3_600_000));
    const recent: string[] = [];
    await registryLogs({
      client: admin,
      access: { kubeconfig: cluster.kubeconfig },
      sinceSeconds: 600,
      onLine: (line) => recent.push(line.text),
    });
    expect(recent).toContain('the newest line');
    expect(recent).not.toContain('an hour old');
  });

  it('follows new lines until aborted', async () => {
    const [pod = ''] = await pods();
    const seen: string[] = [];
    const controller = new AbortController();
    const following = registryLogs({
      client: admin,
      access: { kubeconfig: cluster.kubeconfig },
      pod,
      follow: true,
      tailLines: 0,
      signal: controller.signal,
      onLine: (line) => seen.push(line.text),
    });
    // The stream opens asynchronously: write until the first line shows, then one more.
    await until(() => {
      cluster.podLogs.append(NS, pod, 'followed');
      return seen.includes('followed');
    });
    cluster.podLogs.append(NS, pod, 'after the first');
    await until(() => seen.includes('after the first'));
    controller.abort();
    const result = await following;
    expect(result.pods).toEqual([pod]);
    expect(seen).not.toContain('msg="start registry"');
  });

  it('following ends by itself when the pod is deleted', async () => {
    const [pod = ''] = await pods();
    const seen: string[] = [];
    const following = registryLogs({
      client: admin,
      access: { kubeconfig: cluster.kubeconfig },
      pod,
      follow: true,
      tailLines: 0,
      onLine: (line) => seen.push(line.text),
    });
    await until(() => {
      cluster.podLogs.append(NS, pod, 'before delete');
      return seen.includes('before delete');
    });
    await admin.delete(Resources.pod, pod, RegistryNames.namespace);
    await expect(following).resolves.toMatchObject({ pods: [pod] });
  });

  it('refuses an unknown pod naming the registry pods, bad options with the server words, and viewers', async () => {
    const names = await pods();
    const unknown = await failure(
      registryLogs({
        client: admin,
        access: { kubeconfig: cluster.kubeconfig },
        pod: 'image-registry-nope',
        onLine: () => undefined,
      }),
    );
    expect(unknown.code).toBe('NOT_FOUND');
    expect(unknown.message).toBe(
      `Pod image-registry-nope is not a registry pod in openshift-image-registry; the registry pods are ${names.join(', ')}.`,
    );
    const tail = await failure(
      registryLogs({
        client: admin,
        access: { kubeconfig: cluster.kubeconfig },
        tailLines: -1,
        onLine: () => undefined,
      }),
    );
    expect(tail.code).toBe('OPTION_INVALID');
    expect(tail.message).toMatch(
      /refused the log request for pod .*: PodLogOptions ".*" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0\.$/,
    );
    const viewer = ClusterClient.fromOptions({ kubeconfig: cluster.users['viewer']!.kubeconfig });
    const forbidden = await failure(
      registryLogs({
        client: viewer,
        access: { kubeconfig: cluster.users['viewer']!.kubeconfig },
        onLine: () => undefined,
      }),
    );
    expect(forbidden.code).toBe('FORBIDDEN');
    expect(forbidden.hint).toMatch(/needs get on pods\/log/);
  });
});
