// Kubernetes protobuf against the simulator: kubectl 1.32's generator commands (which send protobuf bodies and
// ask for protobuf answers), the other kubectl verbs users run, and hand-built protobuf requests encoded with
// protobufjs from the vendored upstream definitions, compared with what kube-apiserver answers.
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  httpRequest,
  makeWorkDir,
  removeWorkDir,
  requireBinary,
  type HttpResponse,
} from '@registry-push/testkit';
import protobufjs from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeProtobuf, encodeProtobuf, supportsProtobuf } from '../src/api/protobuf.js';
import { startCluster, type RunningCluster } from '../src/index.js';
import { sampleObjects } from './fixtures.js';
import { raw } from './helpers.js';

const PROTOBUF = 'application/vnd.kubernetes.protobuf';
const MAGIC = Buffer.from('k8s\0', 'latin1');
const PROTO_DIR = fileURLToPath(new URL('../proto/', import.meta.url));

let cluster: RunningCluster;
let workDir: string;
let kubectlPath: string;
let root: protobufjs.Root;

beforeAll(async () => {
  kubectlPath = requireBinary('kubectl');
  cluster = await startCluster({ namespaces: ['proto', 'proto-json', 'proto-pb'] });
  workDir = await makeWorkDir('protobuf-test');
  root = new protobufjs.Root();
  root.resolvePath = (_origin, target) => PROTO_DIR + target;
  root.loadSync(['k8s.io/api/core/v1/generated.proto'], { keepCase: true });
});
afterAll(async () => {
  await cluster.stop();
  await removeWorkDir(workDir);
});

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function kubectlEnv(): NodeJS.ProcessEnv {
  return { ...process.env, KUBECACHEDIR: `${workDir}/cache`, HOME: workDir };
}

async function kubectl(args: string[]): Promise<Result> {
  const kubeconfig = cluster.users['kubeadmin']?.kubeconfig ?? '';
  return new Promise((resolve) => {
    execFile(
      kubectlPath,
      ['--kubeconfig', kubeconfig, ...args],
      { env: kubectlEnv(), timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function ok(args: string[]): Promise<string> {
  const result = await kubectl(args);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

async function getJson(args: string[]): Promise<Record<string, unknown>> {
  return JSON.parse(await ok(['get', ...args, '-o', 'json'])) as Record<string, unknown>;
}

/** `k8s\0` + runtime.Unknown{typeMeta, raw} around `message` encoded as `typeName`. */
function envelope(
  apiVersion: string,
  kind: string,
  typeName: string,
  message: Record<string, unknown>,
): Buffer {
  const type = root.lookupType(typeName);
  const unknown = root.lookupType('k8s.io.apimachinery.pkg.runtime.Unknown');
  const rawBytes = type.encode(type.fromObject(message)).finish();
  const body = unknown.encode(unknown.fromObject({ typeMeta: { apiVersion, kind }, raw: rawBytes })).finish();
  return Buffer.concat([MAGIC, body]);
}

/** Splits a protobuf answer into its envelope's kind and the decoded message (as a plain object). */
function unwrap(body: Buffer, typeName: string): { kind: string; message: Record<string, unknown> } {
  expect(body.subarray(0, 4).equals(MAGIC)).toBe(true);
  const unknown = root.lookupType('k8s.io.apimachinery.pkg.runtime.Unknown');
  const outer = unknown.toObject(unknown.decode(body.subarray(4))) as {
    typeMeta: { kind: string };
    raw: Uint8Array;
  };
  const type = root.lookupType(typeName);
  const message = type.toObject(type.decode(outer.raw), { longs: Number, bytes: String });
  return { kind: outer.typeMeta.kind, message };
}

async function protobufRequest(
  method: string,
  path: string,
  body?: Buffer,
  accept = `${PROTOBUF}, application/json`,
): Promise<HttpResponse> {
  return httpRequest(`${cluster.apiServer}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${cluster.users['kubeadmin']?.token ?? ''}`,
      Accept: accept,
      ...(body !== undefined ? { 'Content-Type': PROTOBUF } : {}),
    },
    caPem: cluster.apiCaPem,
    ...(body !== undefined ? { body } : {}),
  });
}

describe('kubectl 1.32 generator commands (protobuf bodies)', () => {
  it('creates a configmap from literals, and get shows exactly it', async () => {
    await ok(['-n', 'proto', 'create', 'configmap', 'x', '--from-literal=a=b', '--from-literal=c=d']);
    const cm = await getJson(['-n', 'proto', 'configmap', 'x']);
    expect(cm['data']).toEqual({ a: 'b', c: 'd' });
    expect(cm['binaryData']).toBeUndefined();
    const meta = cm['metadata'] as Record<string, unknown>;
    expect(meta['name']).toBe('x');
    expect(meta['namespace']).toBe('proto');
    expect(meta['creationTimestamp']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // Go's protobuf writes empty non-pointer fields; none of them must reach the stored object.
    expect(meta['generateName']).toBeUndefined();
    expect(meta['labels']).toBeUndefined();
    expect(cm['immutable']).toBeUndefined();
  });

  it('creates a configmap with binary data from a file', async () => {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(`${workDir}/blob.bin`, Buffer.from([0, 1, 2, 0xff]));
    await ok(['-n', 'proto', 'create', 'configmap', 'bin', `--from-file=blob=${workDir}/blob.bin`]);
    const cm = await getJson(['-n', 'proto', 'configmap', 'bin']);
    expect(cm['binaryData']).toEqual({ blob: Buffer.from([0, 1, 2, 0xff]).toString('base64') });
  });

  it('creates a generic secret from literals', async () => {
    await ok(['-n', 'proto', 'create', 'secret', 'generic', 's', '--from-literal=k=v']);
    const secret = await getJson(['-n', 'proto', 'secret', 's']);
    expect(secret['data']).toEqual({ k: Buffer.from('v').toString('base64') });
    expect(secret['type']).toBe('Opaque');
  });

  it('creates a namespace', async () => {
    await ok(['create', 'namespace', 'made-by-kubectl']);
    const ns = await getJson(['namespace', 'made-by-kubectl']);
    expect((ns['metadata'] as Record<string, unknown>)['name']).toBe('made-by-kubectl');
    expect((ns['status'] as Record<string, unknown>)['phase']).toBe('Active');
  });

  it('creates a service-account token (a protobuf TokenRequest)', async () => {
    const token = (await ok(['-n', 'proto', 'create', 'token', 'default', '--duration=10m'])).trim();
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      sub: string;
      exp: number;
      iat: number;
    };
    expect(payload.sub).toBe('system:serviceaccount:proto:default');
    expect(payload.exp - payload.iat).toBe(600);
  });

  it('reports a conflict as kube does (the Status answered in protobuf)', async () => {
    const again = await kubectl(['-n', 'proto', 'create', 'configmap', 'x', '--from-literal=a=b']);
    expect(again.code).not.toBe(0);
    // kubectl's wording for a generator command; the reason comes from the Status it decoded.
    expect(again.stderr.trim()).toBe('error: failed to create configmap: configmaps "x" already exists');
  });

  it('creates a deployment (apps/v1 through protobuf)', async () => {
    await ok(['-n', 'proto', 'create', 'deployment', 'web', '--image=nginx', '--replicas=0']);
    const deployment = await getJson(['-n', 'proto', 'deployment', 'web']);
    const spec = deployment['spec'] as Record<string, unknown>;
    // replicas is a pointer in Go: a 0 on the wire was set and is kept.
    expect(spec['replicas']).toBe(0);
  });
});

// These worked before protobuf was accepted (they send JSON); kept here so the whole kubectl tour is one file.
describe('other kubectl verbs', () => {
  async function applyConfigMap(name: string, data: Record<string, string>): Promise<void> {
    const { writeFile } = await import('node:fs/promises');
    const file = `${workDir}/${name}.json`;
    await writeFile(file, JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data }));
    await ok(['-n', 'proto', 'apply', '-f', file]);
  }

  it('applies, labels, patches and deletes', async () => {
    await applyConfigMap('verbs', { k: 'one' });
    await applyConfigMap('verbs', { k: 'two' });
    await ok(['-n', 'proto', 'label', 'configmap', 'verbs', 'team=a']);
    await ok(['-n', 'proto', 'patch', 'configmap', 'verbs', '--type=merge', '-p', '{"data":{"e":"f"}}']);
    const cm = await getJson(['-n', 'proto', 'configmap', 'verbs']);
    expect((cm['metadata'] as Record<string, Record<string, string>>)['labels']).toEqual({ team: 'a' });
    expect(cm['data']).toEqual({ k: 'two', e: 'f' });
    await ok(['-n', 'proto', 'delete', 'configmap', 'verbs']);
    const gone = await kubectl(['-n', 'proto', 'get', 'configmap', 'verbs']);
    expect(gone.stderr.trim()).toBe('Error from server (NotFound): configmaps "verbs" not found');
  });

  it('watches with get --watch until its timeout', async () => {
    await applyConfigMap('before-watch', { a: 'b' });
    const kubeconfig = cluster.users['kubeadmin']?.kubeconfig ?? '';
    const child = spawn(
      kubectlPath,
      ['--kubeconfig', kubeconfig, '-n', 'proto', 'get', 'configmaps', '--watch', '--request-timeout=4s'],
      { env: kubectlEnv() },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await applyConfigMap('during-watch', { a: 'b' });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    // The listing first, then the event of the object created while watching.
    expect(out).toMatch(/^before-watch\s+\d+s\n(.*\n)*during-watch\s+\d+s$/m);
    // kubectl ends a watch at its request timeout with success.
    expect(code).toBe(0);
  }, 20_000);
});

describe('hand-built protobuf requests', () => {
  const cmType = 'k8s.io.api.core.v1.ConfigMap';

  it('creates and gets a configmap in protobuf both ways', async () => {
    const body = envelope('v1', 'ConfigMap', cmType, {
      metadata: { name: 'hand', labels: { app: 'p' }, generateName: '', namespace: '' },
      data: { greeting: 'hello' },
      binaryData: { bin: Buffer.from([9, 8]) },
    });
    const created = await protobufRequest('POST', '/api/v1/namespaces/proto/configmaps', body);
    expect(created.status).toBe(201);
    expect(created.headers['content-type']).toBe(PROTOBUF);
    const { kind, message } = unwrap(created.body, cmType);
    expect(kind).toBe('ConfigMap');
    expect(message['data']).toEqual({ greeting: 'hello' });
    const got = await protobufRequest('GET', '/api/v1/namespaces/proto/configmaps/hand');
    expect(got.status).toBe(200);
    const read = unwrap(got.body, cmType).message as {
      metadata: { name: string; labels: Record<string, string>; creationTimestamp: { seconds: number } };
      binaryData: Record<string, string>;
    };
    expect(read.metadata.name).toBe('hand');
    expect(read.metadata.labels).toEqual({ app: 'p' });
    expect(read.metadata.creationTimestamp.seconds).toBeGreaterThan(1_700_000_000);
    expect(read.binaryData).toEqual({ bin: Buffer.from([9, 8]).toString('base64') });
    // The same object in JSON, as a JSON client sees it.
    const json = await raw(cluster, 'GET', '/api/v1/namespaces/proto/configmaps/hand');
    expect(json.json['binaryData']).toEqual({ bin: 'CQg=' });
    expect(json.json['data']).toEqual({ greeting: 'hello' });
  });

  it('reads delete options sent in protobuf (a uid precondition)', async () => {
    root.loadSync(['k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto'], { keepCase: true });
    const optionsType = 'k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions';
    const create = envelope('v1', 'ConfigMap', cmType, { metadata: { name: 'to-delete' } });
    expect((await protobufRequest('POST', '/api/v1/namespaces/proto/configmaps', create)).status).toBe(201);
    const path = '/api/v1/namespaces/proto/configmaps/to-delete';
    const wrong = envelope('v1', 'DeleteOptions', optionsType, { preconditions: { uid: 'not-its-uid' } });
    const refused = await protobufRequest('DELETE', path, wrong, 'application/json');
    expect(refused.status).toBe(409);
    expect((JSON.parse(refused.body.toString('utf8')) as { message: string }).message).toContain(
      'not-its-uid',
    );
    const uid = ((await raw(cluster, 'GET', path)).json['metadata'] as { uid: string }).uid;
    const right = envelope('v1', 'DeleteOptions', optionsType, { preconditions: { uid } });
    expect((await protobufRequest('DELETE', path, right)).status).toBe(200);
    expect((await raw(cluster, 'GET', path)).status).toBe(404);
  });

  it('lists in protobuf', async () => {
    const list = await protobufRequest('GET', '/api/v1/namespaces/proto/configmaps');
    expect(list.status).toBe(200);
    const { kind, message } = unwrap(list.body, 'k8s.io.api.core.v1.ConfigMapList');
    expect(kind).toBe('ConfigMapList');
    const names = (message['items'] as { metadata: { name: string } }[]).map((i) => i.metadata.name);
    expect(names).toContain('hand');
  });

  it('answers a missing object with a protobuf Status', async () => {
    const missing = await protobufRequest('GET', '/api/v1/namespaces/proto/configmaps/nope');
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toBe(PROTOBUF);
    root.loadSync(['k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto'], { keepCase: true });
    const { kind, message } = unwrap(missing.body, 'k8s.io.apimachinery.pkg.apis.meta.v1.Status');
    expect(kind).toBe('Status');
    expect(message).toMatchObject({ status: 'Failure', reason: 'NotFound', code: 404 });
    expect(message['message']).toBe('configmaps "nope" not found');
  });

  it('refuses a protobuf body for a custom resource with 415, as kube-apiserver', async () => {
    const body = envelope('v1', 'ConfigMap', cmType, { metadata: { name: 'cluster' } });
    const response = await protobufRequest(
      'PUT',
      '/apis/imageregistry.operator.openshift.io/v1/imagepruners/cluster',
      body,
      'application/json',
    );
    expect(response.status).toBe(415);
    const status = JSON.parse(response.body.toString('utf8')) as Record<string, unknown>;
    expect(status['reason']).toBe('UnsupportedMediaType');
    expect(status['message']).toBe(
      'the body of the request was in an unknown format - accepted media types include: application/json',
    );
  });

  it('lists protobuf among the accepted types of a built-in kind it refuses a body for', async () => {
    const response = await raw(cluster, 'POST', '/api/v1/namespaces/proto/configmaps', {
      body: 'data: {}',
      contentType: 'text/plain',
    });
    expect(response.status).toBe(415);
    expect(response.json['message']).toBe(
      `the body of the request was in an unknown format - accepted media types include: application/json, ${PROTOBUF}`,
    );
  });

  it('answers a custom resource in JSON when protobuf is preferred', async () => {
    const response = await protobufRequest(
      'GET',
      '/apis/imageregistry.operator.openshift.io/v1/imagepruners/cluster',
    );
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('application/json');
  });

  it('answers a body that is not protobuf with 400 in kube wording', async () => {
    const response = await protobufRequest(
      'POST',
      '/api/v1/namespaces/proto/configmaps',
      Buffer.from('{"kind":"ConfigMap"}'),
      'application/json',
    );
    expect(response.status).toBe(400);
    const status = JSON.parse(response.body.toString('utf8')) as Record<string, unknown>;
    expect(status['reason']).toBe('BadRequest');
    expect(status['message']).toBe(
      'the object provided is unrecognized (must be of type ConfigMap): provided data does not appear to be a ' +
        'protobuf message, expected prefix [107 56 115 0] ({"kind":"ConfigMap"})',
    );
  });

  it('summarizes a body that is not JSON-like in hex, as kube', async () => {
    const response = await protobufRequest(
      'POST',
      '/api/v1/namespaces/proto/configmaps',
      Buffer.from('k8s'),
      'application/json',
    );
    expect(response.status).toBe(400);
    expect((JSON.parse(response.body.toString('utf8')) as { message: string }).message).toBe(
      'the object provided is unrecognized (must be of type ConfigMap): provided data does not appear to be a ' +
        'protobuf message, expected prefix [107 56 115 0] (6b3873)',
    );
  });

  it('answers a truncated protobuf message with 400', async () => {
    const good = envelope('v1', 'ConfigMap', cmType, { metadata: { name: 'cut' }, data: { a: 'b' } });
    const response = await protobufRequest(
      'POST',
      '/api/v1/namespaces/proto/configmaps',
      good.subarray(0, good.length - 3),
      'application/json',
    );
    expect(response.status).toBe(400);
    const status = JSON.parse(response.body.toString('utf8')) as Record<string, unknown>;
    expect(status['message']).toMatch(/^the object provided is unrecognized \(must be of type ConfigMap\): /);
  });

  it('validates a protobuf configmap as its JSON form: the same 422', async () => {
    const object = { metadata: { name: 'badkey' }, data: { 'bad key': 'x' } };
    const viaProto = await protobufRequest(
      'POST',
      '/api/v1/namespaces/proto/configmaps',
      envelope('v1', 'ConfigMap', cmType, object),
      'application/json',
    );
    const viaJson = await raw(cluster, 'POST', '/api/v1/namespaces/proto/configmaps', {
      body: { apiVersion: 'v1', kind: 'ConfigMap', ...object },
    });
    expect(viaJson.status).toBe(422);
    expect(viaProto.status).toBe(422);
    expect(JSON.parse(viaProto.body.toString('utf8'))).toEqual(viaJson.json);
  });
});

describe('every built-in kind the simulator serves, through protobuf', () => {
  /** What differs between two creations of the same object: identity, time and revision. */
  function comparable(object: Record<string, unknown>): Record<string, unknown> {
    const { uid, resourceVersion, creationTimestamp, namespace, ...meta } = object['metadata'] as Record<
      string,
      unknown
    >;
    void [uid, resourceVersion, creationTimestamp, namespace];
    return { ...object, metadata: meta };
  }

  /** Beyond the fixtures: the apimachinery types with their own JSON (IntOrString, Quantity) and Go pointer zeros. */
  const detailed = (ns: string): ReturnType<typeof sampleObjects> => [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'detailed', namespace: ns, annotations: { note: '' } },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'd' } },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 1 } },
        template: {
          metadata: { labels: { app: 'd' } },
          spec: {
            enableServiceLinks: false,
            terminationGracePeriodSeconds: 0,
            containers: [
              {
                name: 'app',
                image: 'quay.io/example/app:1',
                ports: [{ name: 'http', containerPort: 8080 }],
                resources: { limits: { cpu: '500m', memory: '128Mi' } },
                readinessProbe: { httpGet: { path: '/', port: 'http' } },
                securityContext: { allowPrivilegeEscalation: false },
                env: [{ name: 'A', valueFrom: { configMapKeyRef: { name: 'cm1', key: 'a' } } }],
                volumeMounts: [{ name: 'conf', mountPath: '/conf' }],
              },
            ],
            volumes: [
              { name: 'conf', configMap: { name: 'cm1', defaultMode: 420 } },
              { name: 'scratch', emptyDir: {} },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'detailed', namespace: ns },
      spec: { selector: { app: 'd' }, ports: [{ port: 80, targetPort: 8080 }] },
    },
  ];

  const samples = (ns: string): ReturnType<typeof sampleObjects> =>
    [...sampleObjects(ns), ...detailed(ns)].filter((o) => {
      const [group, version] = (o.apiVersion ?? '').includes('/')
        ? (o.apiVersion ?? '').split('/')
        : ['', o.apiVersion ?? ''];
      return o.metadata?.namespace === ns && supportsProtobuf(group ?? '', version ?? '', o.kind ?? '');
    });

  it('covers the core, apps, batch and rbac samples', () => {
    expect(samples('proto-pb').map((o) => o.kind)).toEqual(
      expect.arrayContaining(['Secret', 'ConfigMap', 'Pod', 'Service', 'StatefulSet', 'CronJob', 'Role']),
    );
  });

  it('stores the same object from a protobuf body as from its JSON form, and reads it back alike', async () => {
    for (const [jsonSample, protoSample] of samples('proto-json').map(
      (o, i) => [o, samples('proto-pb')[i]] as const,
    )) {
      if (protoSample === undefined) throw new Error('samples differ');
      const plural = `${(jsonSample.kind ?? '').toLowerCase()}s`.replace(/ys$/, 'ies');
      const base = (ns: string): string =>
        `${jsonSample.apiVersion === 'v1' ? '/api/v1' : `/apis/${jsonSample.apiVersion ?? ''}`}/namespaces/${ns}/${plural}`;
      const viaJson = await raw(cluster, 'POST', base('proto-json'), { body: jsonSample });
      expect(viaJson.status, `${jsonSample.kind ?? ''} JSON ${JSON.stringify(viaJson.json)}`).toBe(201);
      const body = encodeProtobuf(protoSample as unknown as Parameters<typeof encodeProtobuf>[0]);
      if (body === undefined) throw new Error(`no protobuf for ${protoSample.kind ?? ''}`);
      const viaProto = await protobufRequest('POST', base('proto-pb'), body, 'application/json');
      expect(viaProto.status, `${protoSample.kind ?? ''} ${viaProto.body.toString('utf8')}`).toBe(201);
      const name = protoSample.metadata?.name ?? '';
      const storedJson = await raw(cluster, 'GET', `${base('proto-json')}/${name}`);
      const storedProto = await raw(cluster, 'GET', `${base('proto-pb')}/${name}`);
      expect(comparable(storedProto.json), protoSample.kind).toEqual(comparable(storedJson.json));
      if (name === 'detailed' && protoSample.kind === 'Deployment') {
        // The zeros of Go pointer fields survive the wire; the empty annotation (a map value) too.
        expect(storedProto.json).toMatchObject({
          metadata: { annotations: { note: '' } },
          spec: {
            replicas: 0,
            strategy: { rollingUpdate: { maxSurge: '25%', maxUnavailable: 1 } },
            template: {
              spec: {
                enableServiceLinks: false,
                terminationGracePeriodSeconds: 0,
                containers: [{ readinessProbe: { httpGet: { port: 'http' } } }],
                volumes: [{ configMap: { name: 'cm1' } }, { name: 'scratch', emptyDir: {} }],
              },
            },
          },
        });
      }
      // Read back in protobuf: the same object as its JSON read.
      const asProto = await protobufRequest('GET', `${base('proto-pb')}/${name}`);
      expect(asProto.headers['content-type']).toBe(PROTOBUF);
      expect(decodeProtobuf(asProto.body, protoSample.kind ?? ''), protoSample.kind).toEqual(
        storedProto.json,
      );
    }
  });
});
