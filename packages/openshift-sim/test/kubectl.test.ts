// kubectl against the simulator: every served kind through get, create, apply, patch (merge and json)
// and delete, and kube's error output for the statuses users meet.
import { execFile, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { httpRequest, makeWorkDir, removeWorkDir, requireBinary } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RunningCluster } from '../src/index.js';
import { sampleObjects } from './fixtures.js';
import { raw } from './helpers.js';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

let cluster: RunningCluster;
let workDir: string;
let kubectlPath: string;

beforeAll(async () => {
  kubectlPath = requireBinary('kubectl');
  cluster = await startCluster({ namespaces: ['kubectl'] });
  workDir = await makeWorkDir('kubectl-test');
});
afterAll(async () => {
  await cluster.stop();
  await removeWorkDir(workDir);
});

async function kubectl(args: string[], user = 'kubeadmin'): Promise<Result> {
  const kubeconfig = cluster.users[user]?.kubeconfig ?? '';
  return new Promise((resolve) => {
    execFile(
      kubectlPath,
      ['--kubeconfig', kubeconfig, ...args],
      // A private cache directory: discovery results of one run never leak into another.
      { env: { ...process.env, KUBECACHEDIR: join(workDir, 'cache'), HOME: workDir }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function ok(args: string[], user?: string): Promise<string> {
  const result = await kubectl(args, user);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

function resourceArg(o: { apiVersion?: string; kind?: string }): string {
  const plural: Record<string, string> = {
    'v1/Secret': 'secrets',
    'v1/ConfigMap': 'configmaps',
    'v1/Pod': 'pods',
    'v1/ReplicationController': 'replicationcontrollers',
    'v1/LimitRange': 'limitranges',
    'apps/v1/Deployment': 'deployments.apps',
    'apps/v1/ReplicaSet': 'replicasets.apps',
    'apps/v1/StatefulSet': 'statefulsets.apps',
    'apps/v1/DaemonSet': 'daemonsets.apps',
    'batch/v1/Job': 'jobs.batch',
    'batch/v1/CronJob': 'cronjobs.batch',
    'apps.openshift.io/v1/DeploymentConfig': 'deploymentconfigs.apps.openshift.io',
    'build.openshift.io/v1/Build': 'builds.build.openshift.io',
    'build.openshift.io/v1/BuildConfig': 'buildconfigs.build.openshift.io',
    'image.openshift.io/v1/Image': 'images.image.openshift.io',
    'image.openshift.io/v1/ImageStream': 'imagestreams.image.openshift.io',
    'route.openshift.io/v1/Route': 'routes.route.openshift.io',
    'imageregistry.operator.openshift.io/v1/Config': 'configs.imageregistry.operator.openshift.io',
    'imageregistry.operator.openshift.io/v1/ImagePruner': 'imagepruners.imageregistry.operator.openshift.io',
    'config.openshift.io/v1/Image': 'images.config.openshift.io',
    'config.openshift.io/v1/Ingress': 'ingresses.config.openshift.io',
    'operator.openshift.io/v1/IngressController': 'ingresscontrollers.operator.openshift.io',
    'v1/ServiceAccount': 'serviceaccounts',
    'rbac.authorization.k8s.io/v1/Role': 'roles.rbac.authorization.k8s.io',
    'rbac.authorization.k8s.io/v1/RoleBinding': 'rolebindings.rbac.authorization.k8s.io',
    'rbac.authorization.k8s.io/v1/ClusterRole': 'clusterroles.rbac.authorization.k8s.io',
    'rbac.authorization.k8s.io/v1/ClusterRoleBinding': 'clusterrolebindings.rbac.authorization.k8s.io',
  };
  const key = `${o.apiVersion ?? ''}/${o.kind ?? ''}`;
  const found = plural[key];
  if (!found) throw new Error(`no plural for ${key}`);
  return found;
}

describe('kubectl', () => {
  it('discovers every served resource', async () => {
    const out = await ok(['api-resources', '-o', 'name']);
    for (const name of [
      'imagestreams.image.openshift.io',
      'routes.route.openshift.io',
      'configs.imageregistry.operator.openshift.io',
      'deploymentconfigs.apps.openshift.io',
      'pods',
    ]) {
      expect(out.split('\n')).toContain(name);
    }
  });

  it.each(sampleObjects('kubectl').map((o) => [`${o.apiVersion}/${o.kind}`, o] as const))(
    '%s: create, get, apply, patch --type merge|json, delete',
    async (label, sample) => {
      const file = join(workDir, `${label.replaceAll('/', '_')}.json`);
      await writeFile(file, JSON.stringify(sample));
      const resource = resourceArg(sample);
      const name = sample.metadata?.name ?? '';
      const ns = sample.metadata?.namespace ? ['-n', sample.metadata.namespace] : [];
      await ok(['create', '-f', file]);
      const got = JSON.parse(await ok(['get', resource, name, ...ns, '-o', 'json'])) as {
        metadata: { uid: string };
      };
      expect(got.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
      expect(await ok(['get', resource, ...ns])).toContain(name);

      await writeFile(
        file,
        JSON.stringify({ ...sample, metadata: { ...sample.metadata, labels: { applied: 'yes' } } }),
      );
      await ok(['apply', '-f', file]);
      await ok([
        'patch',
        resource,
        name,
        ...ns,
        '--type',
        'merge',
        '-p',
        '{"metadata":{"annotations":{"merge":"yes"}}}',
      ]);
      await ok([
        'patch',
        resource,
        name,
        ...ns,
        '--type',
        'json',
        '-p',
        '[{"op":"add","path":"/metadata/labels/json","value":"yes"}]',
      ]);
      const patched = JSON.parse(await ok(['get', resource, name, ...ns, '-o', 'json'])) as {
        metadata: { labels: Record<string, string>; annotations: Record<string, string> };
      };
      expect(patched.metadata.labels).toMatchObject({ applied: 'yes', json: 'yes' });
      expect(patched.metadata.annotations['merge']).toBe('yes');
      expect(patched.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).toBeDefined();

      await ok(['delete', resource, name, ...ns]);
      const gone = await kubectl(['get', resource, name, ...ns]);
      expect(gone.code).not.toBe(0);
      expect(gone.stderr).toContain('(NotFound)');
    },
  );

  it("prints the server's refusals: Forbidden, AlreadyExists, Invalid, NotFound, Unauthorized", async () => {
    const forbidden = await kubectl(['get', 'secrets', '-n', 'kube-system'], 'developer');
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toContain(
      'Error from server (Forbidden): secrets is forbidden: User "developer" cannot list resource "secrets" in API group "" in the namespace "kube-system"',
    );
    // From a file: kubectl's generator commands (`kubectl create configmap`) send protobuf, which the
    // simulator does not decode (see the README).
    const twice = join(workDir, 'twice.json');
    await writeFile(
      twice,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'twice', namespace: 'kubectl' },
      }),
    );
    await ok(['create', '-f', twice]);
    const exists = await kubectl(['create', '-f', twice]);
    expect(exists.stderr).toMatch(/Error from server \(AlreadyExists\):.* configmaps "twice" already exists/);
    const invalid = await kubectl([
      'patch',
      'configs.imageregistry.operator.openshift.io',
      'cluster',
      '--type',
      'merge',
      '-p',
      '{"spec":{"managementState":"Sometimes"}}',
    ]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/is invalid: spec\.managementState/);
    const missing = await kubectl(['get', 'imagestreams', 'nope', '-n', 'kubectl']);
    expect(missing.stderr).toContain(
      'Error from server (NotFound): imagestreams.image.openshift.io "nope" not found',
    );

    const badKubeconfig = join(workDir, 'bad.kubeconfig');
    const original = await import('node:fs/promises').then((fs) =>
      fs.readFile(cluster.users['viewer']?.kubeconfig ?? '', 'utf8'),
    );
    await writeFile(badKubeconfig, original.replace(cluster.users['viewer']?.token ?? '', 'sha256~revoked'));
    const unauthorized = await new Promise<Result>((resolve) => {
      execFile(
        kubectlPath,
        ['--kubeconfig', badKubeconfig, 'get', 'pods', '-n', 'demo'],
        { env: { ...process.env, HOME: workDir } },
        (error, stdout, stderr) => resolve({ code: error ? 1 : 0, stdout, stderr }),
      );
    });
    expect(unauthorized.code).toBe(1);
    expect(unauthorized.stderr).toMatch(/Unauthorized|must be logged in/);
  });

  it('prints Conflict for a stale replace and UnsupportedMediaType for a strategic patch of a custom resource', async () => {
    const file = join(workDir, 'stale.json');
    await writeFile(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'stale', namespace: 'kubectl' },
      }),
    );
    await ok(['create', '-f', file]);
    const current = JSON.parse(
      await ok(['get', 'configmap', 'stale', '-n', 'kubectl', '-o', 'json']),
    ) as Record<string, unknown>;
    await ok(['label', 'configmap', 'stale', '-n', 'kubectl', 'bump=1']);
    await writeFile(file, JSON.stringify(current));
    const conflict = await kubectl(['replace', '-f', file]);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(/Error from server \(Conflict\):.*the object has been modified/);
    const strategic = await kubectl([
      'patch',
      'imagepruners.imageregistry.operator.openshift.io',
      'cluster',
      '--type',
      'strategic',
      '-p',
      '{"spec":{"suspend":true}}',
    ]);
    expect(strategic.code).toBe(1);
    expect(strategic.stderr).toMatch(/UnsupportedMediaType|unknown format/);
  });

  it('refuses unknown fields of built-in kinds as a real server does (kubectl validates strictly by default)', async () => {
    const file = join(workDir, 'typo.json');
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'typo', namespace: 'kubectl' },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'typo' } },
        template: {
          metadata: { labels: { app: 'typo' } },
          spec: {
            containers: [{ name: 'app', image: 'registry.example/app:1', imagePullPolicyy: 'Always' }],
          },
        },
      },
    };
    await writeFile(file, JSON.stringify(deployment));
    for (const verb of ['create', 'apply']) {
      const refused = await kubectl([verb, '-f', file]);
      expect(refused.code, verb).toBe(1);
      expect(refused.stderr, verb).toContain(
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.template.spec.containers[0].imagePullPolicyy"',
      );
    }
    expect((await kubectl(['get', 'deployment', 'typo', '-n', 'kubectl'])).stderr).toContain('(NotFound)');
    // --validate=false sends no fieldValidation: a real server drops the field (and warns).
    const lax = await kubectl(['create', '--validate=false', '-f', file]);
    expect(lax.code).toBe(0);
    const stored = JSON.parse(await ok(['get', 'deployment', 'typo', '-n', 'kubectl', '-o', 'json'])) as {
      spec: { template: { spec: { containers: Record<string, unknown>[] } } };
    };
    expect(stored.spec.template.spec.containers[0]).not.toHaveProperty('imagePullPolicyy');
    const patched = await kubectl([
      'patch',
      'deployment',
      'typo',
      '-n',
      'kubectl',
      '--type',
      'merge',
      '-p',
      '{"spec":{"pausedd":true}}',
    ]);
    // kubectl patch sends no fieldValidation: the server's default, Warn, names the field and drops it.
    expect(patched.code).toBe(0);
    expect(patched.stderr).toContain('Warning: unknown field "spec.pausedd"');
    const after = JSON.parse(await ok(['get', 'deployment', 'typo', '-n', 'kubectl', '-o', 'json'])) as {
      spec: Record<string, unknown>;
    };
    expect(after.spec).not.toHaveProperty('pausedd');
  });

  it('refuses, under --validate=strict, an unknown field deep in a pod template with the full path', async () => {
    const file = join(workDir, 'deep.json');
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'deep', namespace: 'kubectl' },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'deep' } },
        template: {
          metadata: { labels: { app: 'deep' } },
          spec: {
            containers: [
              {
                name: 'app',
                image: 'registry.example/app:1',
                livenessProbe: { httpGet: { path: '/', port: 8080, pathX: '/' } },
              },
            ],
          },
        },
      },
    };
    await writeFile(file, JSON.stringify(deployment));
    for (const verb of ['create', 'apply']) {
      const refused = await kubectl([verb, '--validate=strict', '-f', file]);
      expect(refused.code, verb).toBe(1);
      expect(refused.stderr, verb).toContain('Error from server (BadRequest): error when creating');
      expect(refused.stderr, verb).toContain(
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.template.spec.containers[0].livenessProbe.httpGet.pathX"',
      );
    }
    expect((await kubectl(['get', 'deployment', 'deep', '-n', 'kubectl'])).stderr).toContain('(NotFound)');
  });

  it('get --watch with a label selector shows a ConfigMap that starts matching as ADDED and one that stops as DELETED', async () => {
    const kubeconfig = cluster.users['kubeadmin']?.kubeconfig ?? '';
    await ok(['create', 'configmap', 'early', '-n', 'kubectl', '--from-literal=v=1']);
    await ok(['label', 'configmap', 'early', '-n', 'kubectl', 'app=watched']);
    await ok(['create', 'configmap', 'late', '-n', 'kubectl', '--from-literal=v=1']);
    const watch = spawn(
      kubectlPath,
      [
        '--kubeconfig',
        kubeconfig,
        'get',
        'cm',
        '-n',
        'kubectl',
        '-l',
        'app=watched',
        '--watch',
        '--output-watch-events',
      ],
      { env: { ...process.env, KUBECACHEDIR: join(workDir, 'cache'), HOME: workDir } },
    );
    let out = '';
    watch.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
    });
    const rows = (): string[][] =>
      out
        .split('\n')
        .map((line) => line.trim().split(/\s+/))
        .filter((words) => ['ADDED', 'MODIFIED', 'DELETED'].includes(words[0] ?? ''))
        .map((words) => [words[0] ?? '', words[1] ?? '']);
    const until = async (count: number): Promise<void> => {
      const deadline = Date.now() + 20_000;
      while (rows().length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    };
    try {
      await until(1);
      await ok(['label', 'configmap', 'late', '-n', 'kubectl', 'app=watched']);
      await until(2);
      await ok(['label', 'configmap', 'late', '-n', 'kubectl', 'app-']);
      await until(3);
    } finally {
      watch.kill('SIGTERM');
    }
    expect(rows()).toEqual([
      ['ADDED', 'early'],
      ['ADDED', 'late'],
      ['DELETED', 'late'],
    ]);
  }, 60_000);

  it('patches the registry config the way the docs tell admins to', async () => {
    await ok([
      'patch',
      'configs.imageregistry.operator.openshift.io/cluster',
      '--patch',
      '{"spec":{"defaultRoute":true}}',
      '--type=merge',
    ]);
    const host = await (async () => {
      for (let i = 0; i < 100; i++) {
        const r = await kubectl([
          'get',
          'route',
          'default-route',
          '-n',
          'openshift-image-registry',
          '-o',
          'jsonpath={.spec.host}',
        ]);
        if (r.code === 0 && r.stdout !== '') return r.stdout;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return '';
    })();
    expect(host).toBe(`default-route-openshift-image-registry.${cluster.appsDomain}`);
  });

  it('validates a kind it does not serve as kube does: no matches for kind, not a failed OpenAPI download', async () => {
    const file = join(workDir, 'unserved.json');
    await writeFile(
      file,
      JSON.stringify({
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'ServiceMonitor',
        metadata: { name: 'm', namespace: 'kubectl' },
        spec: { endpoints: [{ port: 'metrics' }] },
      }),
    );
    // Strict validation (the default) finds the kind in neither /openapi/v3 nor /openapi/v2 and lets the
    // request go on to the REST mapping, which refuses it.
    const result = await kubectl(['apply', '-f', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'no matches for kind "ServiceMonitor" in version "monitoring.coreos.com/v1"',
    );
    expect(result.stderr).toContain('ensure CRDs are installed first');
    expect(result.stderr).not.toContain('openapi');
  });

  it('serves /openapi/v2 as the protobuf document kubectl asks for, and as JSON', async () => {
    expect((await raw(cluster, 'GET', '/openapi/v2', { user: null })).status).toBe(403);
    const json = await raw(cluster, 'GET', '/openapi/v2');
    expect(json.status).toBe(200);
    expect(json.json).toMatchObject({ swagger: '2.0', paths: {}, definitions: {} });
    const pb = await httpRequest(`${cluster.apiServer}/openapi/v2`, {
      headers: {
        Authorization: `Bearer ${cluster.users['kubeadmin']?.token ?? ''}`,
        Accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf',
      },
      caPem: cluster.apiCaPem,
    });
    expect(pb.headers['content-type']).toBe('application/com.github.proto-openapi.spec.v2.v1.0+protobuf');
    // swagger = 1 ("2.0"), then info = 2.
    expect([...pb.body.subarray(0, 5)]).toEqual([0x0a, 3, ...Buffer.from('2.0')]);
    expect(pb.body[5]).toBe(0x12);
  });
});
