// `pods/<name>/log` for the registry pods: what the registry prints at start, an access line per request,
// the PodLogOptions as kube validates them, and `follow` streaming — checked with raw requests and kubectl.
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { httpRequest, makeWorkDir, removeWorkDir, requireBinary } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RunningCluster } from '../src/index.js';
import { eventually, raw } from './helpers.js';

const NS = 'openshift-image-registry';
let cluster: RunningCluster;
let workDir: string;
let kubectlPath: string;

beforeAll(async () => {
  kubectlPath = requireBinary('kubectl');
  cluster = await startCluster({ routerMode: 'port' });
  workDir = await makeWorkDir('pod-logs-test');
});
afterAll(async () => {
  await cluster.stop();
  await removeWorkDir(workDir);
});

const kubectlEnv = (): NodeJS.ProcessEnv => ({
  ...process.env,
  KUBECACHEDIR: join(workDir, 'cache'),
  HOME: workDir,
});

function kubectl(
  args: string[],
  user = 'kubeadmin',
): Promise<{ code: number; stdout: string; stderr: string }> {
  const kubeconfig = cluster.users[user]?.kubeconfig ?? '';
  return new Promise((resolve) => {
    execFile(
      kubectlPath,
      ['--kubeconfig', kubeconfig, ...args],
      { env: kubectlEnv(), timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function registryPod(): Promise<string> {
  return eventually(async () => {
    const list = await raw(
      cluster,
      'GET',
      `/api/v1/namespaces/${NS}/pods?labelSelector=docker-registry%3Ddefault`,
    );
    const items = list.json['items'] as { metadata: { name: string } }[];
    return items[0]?.metadata.name;
  });
}

describe('pods/log of the registry pods', () => {
  it('serves the start lines and an access line per registry request, as text/plain', async () => {
    const pod = await registryPod();
    const answer = await raw(cluster, 'GET', `/api/v1/namespaces/${NS}/pods/${pod}/log`);
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('text/plain');
    const text = answer.body.toString();
    expect(text).toMatch(/^time="[^"]+" level=info msg="start registry" distribution_version=/);
    expect(text).toContain('msg="listening on :5000, tls"');
    await httpRequest(`https://${cluster.registryServiceAddress}/v2/`, { caPem: cluster.serviceCaPem });
    const after = (
      await raw(cluster, 'GET', `/api/v1/namespaces/${NS}/pods/${pod}/log?tailLines=1`)
    ).body.toString();
    expect(after).toMatch(
      /msg="response completed" .*http\.request\.method=GET .*http\.request\.uri="\/v2\/" .*http\.response\.status=401\n$/,
    );
  });

  it('kubectl logs reads them, with --tail, --timestamps and --since', async () => {
    const pod = await registryPod();
    cluster.podLogs.append(NS, pod, 'line for kubectl one');
    cluster.podLogs.append(NS, pod, 'line for kubectl two');
    const tail = await kubectl(['logs', '-n', NS, pod, '--tail', '2']);
    expect(tail).toMatchObject({ code: 0, stdout: 'line for kubectl one\nline for kubectl two\n' });
    const stamped = await kubectl(['logs', '-n', NS, pod, '--tail', '1', '--timestamps']);
    expect(stamped.stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line for kubectl two\n$/);
    cluster.podLogs.append(NS, pod, 'an old line', new Date(Date.now() - 3_600_000));
    const since = await kubectl(['logs', '-n', NS, pod, '--since', '10m']);
    expect(since.stdout).not.toContain('an old line');
    expect(since.stdout).toContain('line for kubectl two');
  });

  it('answers 404, 400 and 422 with the wording of kube-apiserver', async () => {
    const pod = await registryPod();
    const missing = await raw(cluster, 'GET', `/api/v1/namespaces/${NS}/pods/no-such-pod/log`);
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ reason: 'NotFound', message: 'pods "no-such-pod" not found' });
    const container = await raw(cluster, 'GET', `/api/v1/namespaces/${NS}/pods/${pod}/log?container=sidecar`);
    expect(container.status).toBe(400);
    expect(container.json).toMatchObject({
      reason: 'BadRequest',
      message: `container sidecar is not valid for pod ${pod}`,
    });
    const tail = await raw(cluster, 'GET', `/api/v1/namespaces/${NS}/pods/${pod}/log?tailLines=-1`);
    expect(tail.status).toBe(422);
    expect(tail.json['message']).toBe(
      `PodLogOptions "${pod}" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0`,
    );
    const both = await raw(
      cluster,
      'GET',
      `/api/v1/namespaces/${NS}/pods/${pod}/log?sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z`,
    );
    expect(both.status).toBe(422);
    expect(both.json['message']).toMatch(/at most one of `sinceTime` or `sinceSeconds` may be specified/);
    const word = await raw(cluster, 'GET', `/api/v1/namespaces/${NS}/pods/${pod}/log?tailLines=ten`);
    expect(word.status).toBe(400);
    const kubectlMissing = await kubectl(['logs', '-n', NS, 'no-such-pod']);
    expect(kubectlMissing.code).not.toBe(0);
    expect(kubectlMissing.stderr).toMatch(/pods "no-such-pod" not found/);
    const viewer = await raw(cluster, 'GET', `/api/v1/namespaces/${NS}/pods/${pod}/log`, { user: 'viewer' });
    expect(viewer.status).toBe(403);
    expect(viewer.json['message']).toMatch(/cannot get resource "pods\/log"/);
  });

  it('keeps the last 10000 lines of a pod, as the kubelet rotates a log', async () => {
    const pod = await registryPod();
    for (let i = 0; i < 10_050; i++) cluster.podLogs.append(NS, pod, `bulk ${i}`);
    const answer = await raw(cluster, 'GET', `/api/v1/namespaces/${NS}/pods/${pod}/log`);
    const lines = answer.body
      .toString()
      .split('\n')
      .filter((line) => line !== '');
    expect(lines).toHaveLength(10_000);
    expect(lines[0]).toBe('bulk 50');
    expect(lines.at(-1)).toBe('bulk 10049');
  });

  it('kubectl logs -f streams new lines and ends when the pod is deleted', async () => {
    const pod = await registryPod();
    const kubeconfig = cluster.users['kubeadmin']?.kubeconfig ?? '';
    const child = spawn(
      kubectlPath,
      ['--kubeconfig', kubeconfig, 'logs', '-f', '-n', NS, pod, '--tail', '0'],
      {
        env: kubectlEnv(),
      },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // Lines written after the stream opened arrive; kubectl has no way to say when it is open, so write
    // until the first one shows.
    await eventually(async () => {
      cluster.podLogs.append(NS, pod, 'followed line');
      await new Promise((resolve) => setTimeout(resolve, 100));
      return out.includes('followed line') ? true : undefined;
    }, 20_000);
    cluster.podLogs.append(NS, pod, 'the last line');
    await eventually(() => Promise.resolve(out.includes('the last line') ? true : undefined), 20_000);
    await raw(cluster, 'DELETE', `/api/v1/namespaces/${NS}/pods/${pod}`);
    expect(await exited).toBe(0);
    expect(out).not.toContain('listening on :5000');
  });
});
