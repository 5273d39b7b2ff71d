// The deploy manifests applied for real: `kubectl apply -k deploy` against the simulator as written, then
// the worker run the way the Deployment runs it — its environment, the service CA from the ConfigMap it
// mounts, and only the token of its ServiceAccount (a TokenRequest token in a file, read like the pod's
// projected token) — through a confirmed full prune. That proves the least-privilege role instead of
// reading it; copies of the kustomization with one permission removed show what each one is for: a run that
// does not start or fails naming it, the CR polled instead of watched, a layer link restore refused.
import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpRequest, requireBinary, type BuiltImage } from '@registry-push/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killAll, runCli, WorkerSet, type LogLine } from './support/processes.js';
import { pushGenerations, root, startWorld, type World } from './support/world.js';

const DEPLOY = join(dirname(fileURLToPath(import.meta.url)), '..', 'deploy');

interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}

interface DeploymentObject {
  spec: {
    template: {
      spec: {
        serviceAccountName: string;
        containers: Array<{
          name: string;
          args?: string[];
          env?: EnvVar[];
          volumeMounts?: Array<{ name: string; mountPath: string }>;
        }>;
        volumes?: Array<{ name: string; configMap?: { name: string } }>;
      };
    };
  };
}

let world: World;
let kubectlPath: string;
const workers = new WorkerSet();

function kubectl(args: string[]): Promise<KubectlResult> {
  return new Promise((resolve) => {
    execFile(
      kubectlPath,
      ['--kubeconfig', world.cluster.kubeconfig, ...args],
      // A private cache and home: nothing of another run's discovery leaks in.
      {
        env: { PATH: process.env.PATH ?? '', HOME: world.work, KUBECACHEDIR: join(world.work, 'kube-cache') },
        timeout: 60_000,
      },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** POSTs a TokenRequest for the ServiceAccount as kubeadmin (the kubelet's part) and returns the token. */
async function requestToken(namespace: string, name: string): Promise<string> {
  const answer = await httpRequest(
    `${world.cluster.apiServer}/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
    {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${world.cluster.users.kubeadmin!.token}`,
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds: 3600 },
      }),
      caPem: world.cluster.apiCaPem,
    },
  );
  expect(answer.status, answer.body.toString()).toBe(201);
  const body = JSON.parse(answer.body.toString()) as { status: { token: string } };
  return body.status.token;
}

/**
 * What the kubelet would give the Deployment's pod, as files under `dir`: the projected token and a
 * kubeconfig that reads it from the file on every use (client-node's in-cluster user, pointed at this
 * file), the namespace, and the ConfigMap volumes; and the container's environment with the mount paths
 * moved under `dir`.
 */
async function podOf(dir: string): Promise<{ env: Record<string, string>; serviceAccount: string }> {
  const got = await kubectl(['get', 'deployment', 'registry-pruner', '-n', 'registry-pruner', '-o', 'json']);
  expect(got.code, got.stderr).toBe(0);
  const deployment = JSON.parse(got.stdout) as DeploymentObject;
  const pod = deployment.spec.template.spec;
  const container = pod.containers.find((c) => c.name === 'worker')!;
  expect(container.args).toEqual(['worker']);
  const root = join(dir, 'root');
  const mounted = new Map<string, string>();
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.volumes?.find((v) => v.name === mount.name);
    const configMap = volume?.configMap?.name;
    expect(configMap, `volume ${mount.name}`).toBeDefined();
    const cm = await kubectl(['get', 'configmap', configMap!, '-n', 'registry-pruner', '-o', 'json']);
    expect(cm.code, cm.stderr).toBe(0);
    const data = (JSON.parse(cm.stdout) as { data?: Record<string, string> }).data ?? {};
    const target = join(root, mount.mountPath);
    await mkdir(target, { recursive: true });
    for (const [file, content] of Object.entries(data)) await writeFile(join(target, file), content);
    mounted.set(mount.mountPath, target);
  }
  const tokenDir = join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
  await mkdir(tokenDir, { recursive: true });
  await writeFile(join(tokenDir, 'token'), await requestToken('registry-pruner', pod.serviceAccountName), {
    mode: 0o600,
  });
  await writeFile(join(tokenDir, 'namespace'), 'registry-pruner');
  const kubeconfig = join(dir, 'in-cluster.kubeconfig');
  await writeFile(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'in-cluster',
          cluster: {
            server: world.cluster.apiServer,
            'certificate-authority-data': Buffer.from(world.cluster.apiCaPem).toString('base64'),
          },
        },
      ],
      users: [
        {
          name: 'service-account',
          user: { 'auth-provider': { name: 'tokenFile', config: { tokenFile: join(tokenDir, 'token') } } },
        },
      ],
      contexts: [
        {
          name: 'in-cluster',
          context: { cluster: 'in-cluster', user: 'service-account', namespace: 'registry-pruner' },
        },
      ],
      'current-context': 'in-cluster',
    }),
    { mode: 0o600 },
  );
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    if (variable.value === undefined) continue;
    let value = variable.value;
    for (const [path, target] of mounted)
      if (value.startsWith(`${path}/`)) value = target + value.slice(path.length);
    env[variable.name] = value;
  }
  return { env, serviceAccount: pod.serviceAccountName };
}

/** The worker's environment: the Deployment's, on loopback, with this world's Redis and the SA's kubeconfig. */
function workerEnv(pod: Record<string, string>, kubeconfig: string): Record<string, string> {
  const base = world.env();
  delete base['PRUNER_REGISTRY_HOST'];
  delete base['PRUNER_REGISTRY_CA_FILE'];
  return {
    ...base,
    ...pod,
    KUBECONFIG: kubeconfig,
    REDIS_URL: world.redis.url,
    // The pod listens on its own IP; here loopback and a free port.
    PRUNER_HTTP_HOST: '127.0.0.1',
    PRUNER_HTTP_PORT: '0',
    // The Service name the registry host (from images.config) resolves to in a cluster, dialled here.
    PRUNER_REGISTRY_CONNECT_TO: world.cluster.registryServiceAddress,
  };
}

describe.runIf(root)('the deploy manifests, applied and run as their ServiceAccount', () => {
  beforeAll(async () => {
    kubectlPath = requireBinary('kubectl');
    world = await startWorld(['deployed', 'heal', 'heal-denied']);
    await world.setPruner({ keepTagRevisions: 1, keepYoungerThanDuration: '0s' });
  });

  afterEach(() => workers.stopAll('SIGTERM'));

  afterAll(async () => {
    killAll();
    await world?.stop();
  });

  it('applies as written, and a confirmed full prune succeeds with exactly its permissions', async () => {
    const applied = await kubectl(['apply', '-k', DEPLOY]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stderr).toBe('');
    for (const object of [
      'namespace/registry-pruner',
      'serviceaccount/registry-pruner',
      'role.rbac.authorization.k8s.io/registry-pruner-events',
      'clusterrole.rbac.authorization.k8s.io/registry-pruner',
      'rolebinding.rbac.authorization.k8s.io/registry-pruner-events',
      'clusterrolebinding.rbac.authorization.k8s.io/registry-pruner',
      'clusterrolebinding.rbac.authorization.k8s.io/registry-pruner-image-pruner',
      'configmap/registry-pruner-redis',
      'configmap/registry-pruner-service-ca',
      'service/registry-pruner-metrics',
      'service/registry-pruner-redis',
      'deployment.apps/registry-pruner',
      'statefulset.apps/registry-pruner-redis',
    ]) {
      expect(applied.stdout).toContain(`${object} created`);
    }
    // Applying again changes nothing.
    const again = await kubectl(['apply', '-k', DEPLOY]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).not.toMatch(/created|configured/);
    // The optional monitoring/ needs the Prometheus Operator's CRDs, which the simulator does not serve:
    // it gets the answer of a cluster without them.
    const monitoring = await kubectl(['apply', '-k', join(DEPLOY, 'monitoring')]);
    expect(monitoring.code).toBe(1);
    for (const kind of ['PrometheusRule', 'ServiceMonitor'])
      expect(monitoring.stderr).toContain(
        `no matches for kind "${kind}" in version "monitoring.coreos.com/v1"\nensure CRDs are installed first`,
      );

    const dir = join(world.work, 'pod');
    const pod = await podOf(dir);
    expect(pod.serviceAccount).toBe('registry-pruner');
    // The service-ca operator's injection filled the ConfigMap the worker trusts the registry with.
    expect(await readFile(pod.env['PRUNER_REGISTRY_CA_FILE']!, 'utf8')).toBe(world.cluster.serviceCaPem);
    const env = workerEnv(pod.env, join(dir, 'in-cluster.kubeconfig'));
    expect(env['PRUNER_MODE']).toBe('auto');

    // The worker's credentials are the ServiceAccount's and nothing more.
    const token = await readFile(
      join(dir, 'root/var/run/secrets/kubernetes.io/serviceaccount/token'),
      'utf8',
    );
    const asAccount = (path: string): Promise<{ status: number; body: Buffer }> =>
      httpRequest(`${world.cluster.apiServer}${path}`, {
        headers: { Authorization: `Bearer ${token}` },
        caPem: world.cluster.apiCaPem,
      });
    const me = await asAccount('/apis/user.openshift.io/v1/users/~');
    expect(JSON.parse(me.body.toString())).toMatchObject({
      metadata: { name: 'system:serviceaccount:registry-pruner:registry-pruner' },
    });
    const secrets = await asAccount('/api/v1/namespaces/registry-pruner/secrets');
    expect(secrets.status).toBe(403);
    expect(JSON.parse(secrets.body.toString())).toMatchObject({
      kind: 'Status',
      reason: 'Forbidden',
      message:
        'secrets is forbidden: User "system:serviceaccount:registry-pruner:registry-pruner" cannot list resource "secrets" in API group "" in the namespace "registry-pruner"',
    });

    const [g1, g2, g3] = await pushGenerations(world, 'deployed', 'deployed');
    // The Deployment's two replicas.
    const worker = workers.start('sa-worker', env);
    const replica = workers.start('sa-worker-2', env);
    await Promise.all([worker.port(), replica.port()]);
    const run = await runCli(['enqueue', '--confirm', '--wait'], env);
    expect(run.code, run.stderr + run.stdout).toBe(0);
    expect(run.stdout).toMatch(/^manual-\S+ succeeded full: \d+ changed/);
    expect(await world.history('deployed', 'app')).toEqual({ latest: [g3!.digest] });
    for (const gone of [g1!, g2!]) {
      expect(await world.imageExists(gone.digest)).toBe(false);
      expect(await world.blobExists(gone.digest)).toBe(false);
    }
    expect(await world.pullDiff('deployed/app:latest', g3!)).toEqual([]);
    for (const started of [worker, replica]) {
      const logged = JSON.stringify(started.logs);
      expect(logged).not.toContain('FORBIDDEN');
      // The role's list and watch on imagepruners/cluster and configs/cluster (by field selector) let the
      // CR and the registry operator's config be watched.
      expect(logged).not.toContain('cannot watch the ImagePruner CR');
      expect(logged).not.toContain('cannot watch the registry operator config');
    }
  });

  it('falls back to reading the CR and the operator config without list and watch on them, and still prunes', async () => {
    const copy = join(world.work, 'deploy-no-watch');
    await cp(DEPLOY, copy, { recursive: true });
    const rbac = await readFile(join(copy, 'rbac.yaml'), 'utf8');
    const watchRule =
      '  - apiGroups: [imageregistry.operator.openshift.io]\n    resources: [imagepruners, configs]\n    resourceNames: [cluster]\n    verbs: [list, watch]\n';
    expect(rbac).toContain(watchRule);
    await writeFile(join(copy, 'rbac.yaml'), rbac.replace(watchRule, ''));
    expect((await kubectl(['apply', '-k', copy])).code).toBe(0);
    try {
      const dir = join(copy, 'pod');
      const pod = await podOf(dir);
      const env = workerEnv(pod.env, join(dir, 'in-cluster.kubeconfig'));
      const [, , newest] = await pushGenerations(world, 'deployed', 'no-watch');
      const worker = workers.start('sa-worker', env);
      await worker.waitForLog((line) => line.msg?.startsWith('cannot watch the ImagePruner CR') === true);
      const run = await runCli(['enqueue', '--confirm', '--wait'], env);
      expect(run.code, run.stdout).toBe(0);
      expect(run.stdout).toMatch(/^manual-\S+ succeeded full: /);
      expect(await world.history('deployed', 'app')).toEqual({ latest: [newest!.digest] });
      // The mode came from reading the config before each unit.
      await worker.waitForLog(
        (line) => line.msg?.startsWith('cannot watch the registry operator config') === true,
      );
    } finally {
      expect((await kubectl(['apply', '-k', DEPLOY])).code).toBe(0);
    }
  });

  // The registry's push and pull rights on image streams: a push that lands between a layer link delete's
  // decision and its call (held there by a failpoint) needs that link again, and the worker puts it back.
  const layerRule =
    '  - apiGroups: [image.openshift.io]\n    resources: [imagestreams/layers]\n    verbs: [get, update]\n';
  async function raceARebuild(namespace: string): Promise<{ code: number; restore: LogLine }> {
    let old: BuiltImage | undefined;
    let oldSeed = '';
    // An old build whose first link deleted (in digest order) is a layer, which the rebuild shares.
    for (let n = 0; old === undefined; n++) {
      oldSeed = `${namespace}-old-${n}`;
      const candidate = await world.build(oldSeed, oldSeed, 2);
      const manifest = candidate.manifests[0]!;
      const first = [manifest.config.digest, ...manifest.layers.map((l) => l.digest)].sort()[0];
      if (first !== manifest.config.digest) old = candidate;
    }
    await world.push(old, `${namespace}/app:latest`);
    const current = await world.build(`${namespace}-new`, `${namespace}-new`, 1);
    await world.push(current, `${namespace}/app:latest`);
    const dir = join(world.work, `pod-${namespace}`);
    const pod = await podOf(dir);
    const env = {
      ...workerEnv(pod.env, join(dir, 'in-cluster.kubeconfig')),
      PRUNER_FAILPOINT: 'layer-link-delete:6000',
    };
    const worker = workers.start('sa-worker', env);
    await worker.port();
    const run = runCli(['enqueue', '--confirm', '--wait'], env, 120_000);
    await worker.waitForLog((line) => line.msg === 'failpoint reached', 60_000);
    const rebuilt = await world.build(`${namespace}-rebuilt`, oldSeed, 2, 'hotfix');
    await world.push(rebuilt, `${namespace}/app:hotfix`);
    const result = await run;
    expect(result.stdout).toMatch(/^manual-\S+ succeeded full: /);
    const restore = await worker.waitForLog(
      (line) => line.msg === 'a push needed a removed layer link again',
    );
    expect(restore['repository']).toBe(`${namespace}/app`);
    // The rebuild pulls either way (on OpenShift too: the registry falls back to blobs its stream's images use).
    expect(await world.pullDiff(`${namespace}/app:hotfix`, rebuilt)).toEqual([]);
    return { code: result.code, restore };
  }

  it('puts back a layer link a racing push needs, with the imagestreams/layers rule', async () => {
    // As deployed (a no-op after the first test).
    expect((await kubectl(['apply', '-k', DEPLOY])).code).toBe(0);
    const { code, restore } = await raceARebuild('heal');
    expect(code).toBe(0);
    expect(restore['outcome']).toBe('restored');
  }, 180_000);

  it('reports the layer link restore failing without the imagestreams/layers rule', async () => {
    const copy = join(world.work, 'deploy-no-layers');
    await cp(DEPLOY, copy, { recursive: true });
    const rbac = await readFile(join(copy, 'rbac.yaml'), 'utf8');
    expect(rbac).toContain(layerRule);
    await writeFile(join(copy, 'rbac.yaml'), rbac.replace(layerRule, ''));
    expect((await kubectl(['apply', '-k', copy])).code).toBe(0);
    try {
      const { code, restore } = await raceARebuild('heal-denied');
      // A restore is no part of the run's outcome: it is logged (and counted) as failed, naming the refusal.
      expect(code).toBe(0);
      expect(restore).toMatchObject({
        outcome: 'failed',
        error: {
          code: 'REGISTRY_DENIED',
          message:
            'The registry image-registry.openshift-image-registry.svc:5000 did not allow you to mount a blob into heal-denied/app.',
        },
      });
    } finally {
      expect((await kubectl(['apply', '-k', DEPLOY])).code).toBe(0);
    }
  }, 180_000);

  // Each case removes one permission from a copy of the kustomization, applies the copy over the running
  // install, and expects the confirmed run (or the worker, for what it reads before taking jobs) to fail
  // naming what is missing; the original is applied again afterwards.
  const removals: Array<{ what: string; from: string; to: string; forbidden: RegExp }> = [
    {
      what: 'get of the registry operator config (the mode)',
      from: 'resources: [imagepruners, configs]',
      to: 'resources: [imagepruners]',
      forbidden: /configs\.imageregistry\.operator\.openshift\.io/,
    },
    {
      what: 'get of images.config.openshift.io (the registry host)',
      from: '  - apiGroups: [config.openshift.io]\n    resources: [images]\n    resourceNames: [cluster]\n    verbs: [get]\n',
      to: '',
      forbidden: /images\.config\.openshift\.io/,
    },
  ];
  it.each(removals)('fails clearly without $what', async ({ from, to, forbidden }) => {
    const copy = join(world.work, `deploy-${Math.random().toString(16).slice(2, 8)}`);
    await cp(DEPLOY, copy, { recursive: true });
    const rbac = await readFile(join(copy, 'rbac.yaml'), 'utf8');
    expect(rbac).toContain(from);
    await writeFile(join(copy, 'rbac.yaml'), rbac.replace(from, to));
    const applied = await kubectl(['apply', '-k', copy]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('clusterrole.rbac.authorization.k8s.io/registry-pruner configured');
    try {
      const dir = join(copy, 'pod');
      const pod = await podOf(dir);
      const env = workerEnv(pod.env, join(dir, 'in-cluster.kubeconfig'));
      await pushGenerations(world, 'deployed', `${copy.slice(-6)}`);
      const worker = workers.start('sa-worker', env);
      await worker.port();
      const before = await world.history('deployed', 'app');
      const run = await runCli(['enqueue', '--confirm', '--wait'], env);
      expect(run.code).toBe(1);
      expect(run.stderr).toBe('');
      // One line: the run, that it failed, who may not do what, and the fix.
      expect(run.stdout.trim().split('\n')).toHaveLength(1);
      expect(run.stdout).toMatch(
        new RegExp(
          `^manual-\\S+ failed — User "system:serviceaccount:registry-pruner:registry-pruner" may not get ${forbidden.source} "cluster" at the cluster scope\\. Ask a cluster administrator for a role that grants it\\. \\[FORBIDDEN\\]$`,
          'm',
        ),
      );
      // The worker logs the failed job after it marked the run failed, which is what ends `--wait`.
      await worker.waitForLog((line) => JSON.stringify(line).includes('did not start, nothing was changed'));
      expect(await world.history('deployed', 'app')).toEqual(before);
    } finally {
      const restored = await kubectl(['apply', '-k', DEPLOY]);
      expect(restored.code, restored.stderr).toBe(0);
    }
  });

  // The operator's system:image-pruner, which the deploy binds, with one permission less (changed in
  // place as a cluster admin could, and put back after).
  const operatorRemovals: Array<{
    what: string;
    resource: string;
    verb: string;
    errors: RegExp;
    refusal: string;
    env?: Record<string, string>;
  }> = [
    // The API's image deletes, and the registry's, which checks `delete images` too.
    {
      what: 'delete of images',
      resource: 'images',
      verb: 'delete',
      errors: /\d+× REGISTRY_DENIED, \d+× FORBIDDEN$/,
      refusal: 'may not delete images.image.openshift.io',
    },
    {
      what: 'update of imagestreams/status',
      resource: 'imagestreams/status',
      verb: 'update',
      errors: /\d+× FORBIDDEN$/,
      refusal: 'may not update imagestreams.image.openshift.io',
      // A run with an undo window records each stream as read, so it reads and replaces (PUT); a one-phase
      // run would patch, which the deploy's own role grants.
      env: { PRUNER_UNDO_WINDOW: '1h' },
    },
  ];
  it.each(operatorRemovals)(
    'fails clearly without $what',
    async ({ resource, verb, errors, refusal, env: extra }) => {
      const got = await kubectl(['get', 'clusterrole', 'system:image-pruner', '-o', 'json']);
      expect(got.code, got.stderr).toBe(0);
      const original = JSON.parse(got.stdout) as {
        metadata: Record<string, unknown>;
        rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>;
      };
      // A rule left without verbs goes (the API rejects an empty verb list, as kube does).
      const rules = original.rules
        .map((rule) =>
          rule.apiGroups.includes('image.openshift.io') && rule.resources.includes(resource)
            ? { ...rule, verbs: rule.verbs.filter((v) => v !== verb) }
            : rule,
        )
        .filter((rule) => rule.verbs.length > 0);
      expect(rules).not.toEqual(original.rules);
      const changed = join(world.work, `image-pruner-${verb}.json`);
      await writeFile(changed, JSON.stringify({ ...original, rules }));
      expect((await kubectl(['replace', '-f', changed])).code).toBe(0);
      try {
        const dir = join(world.work, `pod-${verb}`);
        const pod = await podOf(dir);
        const env = { ...workerEnv(pod.env, join(dir, 'in-cluster.kubeconfig')), ...extra };
        await pushGenerations(world, 'deployed', `op-${verb}`);
        const worker = workers.start('sa-worker', env);
        await worker.port();
        const run = await runCli(['enqueue', '--confirm', '--wait'], env);
        expect(run.code, run.stdout).toBe(1);
        expect(run.stderr).toBe('');
        const first = run.stdout.split('\n')[0] ?? '';
        expect(first).toMatch(/^manual-\S+ failed full: /);
        expect(first).toMatch(errors);
        // The worker's log names the permission.
        expect(JSON.stringify(worker.logs)).toContain(refusal);
      } finally {
        const now = JSON.parse(
          (await kubectl(['get', 'clusterrole', 'system:image-pruner', '-o', 'json'])).stdout,
        ) as {
          metadata: { resourceVersion: string };
        };
        const restore = join(world.work, `image-pruner-restore.json`);
        await writeFile(
          restore,
          JSON.stringify({
            ...original,
            metadata: { ...original.metadata, resourceVersion: now.metadata.resourceVersion },
          }),
        );
        const restored = await kubectl(['replace', '-f', restore]);
        expect(restored.code, restored.stderr).toBe(0);
      }
    },
  );
});
