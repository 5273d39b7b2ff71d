/* global URL */
// Shared by the prune scale benchmarks. A synthetic OpenShift cluster: Images sharing base layers, ImageStreams with
// multi-revision histories, Pods using tags and digests, shaped as the API server returns them (an Image
// without its raw manifest, a Pod with the fields kubelet-era objects carry). Used by the plan benchmark here
// (fed straight to the SnapshotBuilder) and by the pruner's scale benchmark (created in openshift-sim).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DAY = 86_400_000;
export const NOW = new Date('2026-06-01T00:00:00Z');
export const PAGE = 500;
export const HOST = 'image-registry.openshift-image-registry.svc:5000';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

const hex = (seed) => createHash('sha256').update(seed).digest('hex');
const digest = (seed) => `sha256:${hex(seed)}`;
const uid = (seed) => {
  const h = hex(`uid-${seed}`);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
};

/** A deterministic pseudo-random generator (mulberry32). */
function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An Image as openshift-apiserver returns it for a pushed OCI image (no raw manifest or config). */
function rawImage(i, created, managed, base) {
  const layers = [
    { name: base, size: 50_000_000, mediaType: OCI_LAYER },
    ...Array.from({ length: 4 }, (_, l) => ({
      name: digest(`layer-${i}-${l}`),
      size: 1_000_000 + l,
      mediaType: OCI_LAYER,
    })),
  ];
  return {
    metadata: {
      name: digest(`image-${i}`),
      uid: uid(`image-${i}`),
      resourceVersion: String(100_000 + i),
      creationTimestamp: created,
      annotations: {
        'image.openshift.io/dockerLayersOrder': 'ascending',
        'image.openshift.io/manifestBlobStored': 'true',
        ...(managed ? { 'openshift.io/image.managed': 'true' } : {}),
      },
    },
    dockerImageReference: `${HOST}/ns-${i % 97}/app@${digest(`image-${i}`)}`,
    dockerImageMetadata: {
      kind: 'DockerImage',
      apiVersion: 'image.openshift.io/1.0',
      Id: digest(`config-${i}`),
      Created: created,
      ContainerConfig: {},
      Config: {
        Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `BUILD=${i}`],
        Cmd: ['/usr/bin/run'],
        WorkingDir: '/opt/app-root/src',
        Labels: {
          'io.openshift.build.name': `app-${i}`,
          'org.opencontainers.image.revision': hex(`rev-${i}`),
        },
      },
      Architecture: 'amd64',
      Size: 54_002_006,
    },
    dockerImageMetadataVersion: '1.0',
    dockerImageLayers: layers,
    dockerImageManifestMediaType: OCI_MANIFEST,
  };
}

/**
 * A synthetic cluster of `imageCount` Images, a fifth as many ImageStreams and half as many Pods, as pages
 * of API objects: `{ kind: 'images' | 'streams' | 'pods', items }`, Images first, then streams, then pods.
 * Deterministic: the same count gives the same objects.
 */
export function* syntheticCluster(imageCount) {
  const rand = random(imageCount);
  const streamCount = Math.max(1, Math.floor(imageCount / 5));
  const podCount = Math.floor(imageCount / 2);
  const baseCount = Math.max(10, Math.floor(imageCount / 100));
  // Images, in pages. Only their creation times are remembered, for the stream histories.
  const created = new Float64Array(imageCount);
  for (let start = 0; start < imageCount; start += PAGE) {
    const items = [];
    for (let i = start; i < Math.min(imageCount, start + PAGE); i++) {
      const base = digest(`base-${Math.floor(rand() * baseCount)}`);
      created[i] = NOW.getTime() - rand() * 365 * DAY;
      items.push(rawImage(i, new Date(created[i]).toISOString(), rand() > 0.1, base));
    }
    yield { kind: 'images', items };
  }

  // Streams, in pages; the images of each stream's first tag are kept (as indices) for the pods.
  const latestStart = new Int32Array(streamCount + 1);
  const latest = new Int32Array(streamCount * 5);
  let next = 0;
  let items = [];
  for (let s = 0; s < streamCount; s++) {
    const namespace = `ns-${s % Math.max(1, Math.floor(streamCount / 10))}`;
    const tags = [];
    for (const tag of ['latest', 'stable']) {
      const history = [];
      const length = 1 + Math.floor(rand() * 5);
      for (let r = 0; r < length; r++) history.push(next++ % imageCount);
      history.sort((a, b) => (created[a] < created[b] ? 1 : -1));
      if (tag === 'latest') {
        latestStart[s + 1] = latestStart[s] + history.length;
        latest.set(history, latestStart[s]);
      }
      tags.push({
        tag,
        items: history.map((i) => ({
          created: new Date(created[i]).toISOString(),
          dockerImageReference: `${HOST}/${namespace}/s${s}@${digest(`image-${i}`)}`,
          image: digest(`image-${i}`),
          generation: 1,
        })),
        conditions: null,
      });
    }
    items.push({
      metadata: {
        name: `s${s}`,
        namespace,
        uid: uid(`stream-${s}`),
        resourceVersion: String(s + 1),
        generation: 1,
        creationTimestamp: new Date(NOW.getTime() - 400 * DAY).toISOString(),
      },
      spec: { lookupPolicy: { local: false } },
      status: { dockerImageRepository: `${HOST}/${namespace}/s${s}`, tags },
    });
    if (items.length === PAGE || s === streamCount - 1) {
      yield { kind: 'streams', items };
      items = [];
    }
  }

  // Pods, in pages.
  for (let p = 0; p < podCount; p++) {
    const s = Math.floor(rand() * streamCount);
    const namespace = `ns-${s % Math.max(1, Math.floor(streamCount / 10))}`;
    const byDigest = rand() < 0.3;
    const count = latestStart[s + 1] - latestStart[s];
    const image = latest[latestStart[s] + Math.floor(rand() * count)];
    const repository = `${HOST}/${namespace}/s${s}`;
    items.push({
      metadata: {
        name: `pod-${p}`,
        namespace,
        uid: uid(`pod-${p}`),
        resourceVersion: String(p + 1),
        creationTimestamp: new Date(NOW.getTime() - DAY).toISOString(),
        labels: { app: `s${s}`, deployment: `s${s}-1` },
      },
      spec: {
        containers: [
          {
            name: 'app',
            image: byDigest ? `${repository}@${digest(`image-${image}`)}` : `${repository}:latest`,
            ports: [{ containerPort: 8080, protocol: 'TCP' }],
            resources: {},
            terminationMessagePath: '/dev/termination-log',
            imagePullPolicy: 'IfNotPresent',
          },
        ],
        restartPolicy: 'Always',
        serviceAccountName: 'default',
        nodeName: `worker-${p % 12}`,
      },
      status: { phase: 'Running', podIP: `10.128.${(p >> 8) & 255}.${p & 255}` },
    });
    if (items.length === PAGE || p === podCount - 1) {
      yield { kind: 'pods', items };
      items = [];
    }
  }
}

/** The NODE_OPTIONS the pruner is deployed with (services/pruner/deploy/deployment.yaml), read from there. */
export function deployedNodeOptions() {
  const manifest = readFileSync(
    fileURLToPath(new URL('../../../services/pruner/deploy/deployment.yaml', import.meta.url)),
    'utf8',
  );
  const match = /name: NODE_OPTIONS\s*\n\s*value: (.+)/.exec(manifest);
  if (!match) throw new Error('services/pruner/deploy/deployment.yaml sets no NODE_OPTIONS value');
  return match[1].trim();
}
