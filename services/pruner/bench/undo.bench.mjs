/* global process, console, Buffer */
// The undo record at size: BENCH_UNDO_IMAGES (10 000) removed Images, recorded whole, and their tag-history
// items (four per stream), written to a real Redis the way a confirmed run records them (one compressed
// entry per unit), then restored into openshift-sim through its API with the core's restoreRemoved. Prints
// the record's size (compressed, and what Redis holds for it), the time to write it, and the restore time.
import { createHash } from 'node:crypto';
import { ClusterClient, Resources, restoreClusterOf, restoreRemoved } from '@registry-push/core';
import { startCluster } from '@registry-push/openshift-sim';
import { startRedis } from '@registry-push/testkit';
import { connectRedis } from '../dist/redis.js';
import { RedisUndoStore } from '../dist/store/redis-undo-store.js';

const IMAGES = Number(process.env.BENCH_UNDO_IMAGES ?? 10_000);
const PER_STREAM = 4;
const STREAMS = Math.ceil(IMAGES / PER_STREAM);
const INTERNAL = 'image-registry.openshift-image-registry.svc:5000';
const digest = (seed) => `sha256:${createHash('sha256').update(seed).digest('hex')}`;
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** An Image as the registry creates it on a push: five layers, the config's metadata. */
function imageObject(namespace, name, index) {
  const id = digest(`image-${index}`);
  const layers = Array.from({ length: 5 }, (_, l) => ({
    name: digest(`layer-${index % 500}-${l}`),
    size: 1_000_000 + ((index * 7919 + l) % 50_000_000),
    mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
  }));
  return {
    metadata: {
      name: id,
      annotations: {
        'image.openshift.io/dockerLayersOrder': 'ascending',
        'openshift.io/image.managed': 'true',
      },
    },
    dockerImageReference: `${INTERNAL}/${namespace}/${name}@${id}`,
    dockerImageMetadata: {
      kind: 'DockerImage',
      apiVersion: '1.0',
      Id: digest(`config-${index}`),
      Created: '2026-11-30T10:00:00Z',
      ContainerConfig: {},
      Config: {
        User: '1001',
        Env: [
          'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
          `APP_VERSION=1.${index}`,
          'HOME=/opt/app-root/src',
        ],
        Entrypoint: ['/usr/bin/app'],
        Cmd: ['--serve'],
        WorkingDir: '/opt/app-root/src',
        Labels: {
          'io.openshift.build.commit.id': createHash('sha1').update(String(index)).digest('hex'),
          'io.openshift.build.name': `${name}-${index}`,
          'org.opencontainers.image.source': `https://git.example.com/${namespace}/${name}`,
        },
      },
      Architecture: 'amd64',
      Size: layers.reduce((sum, layer) => sum + layer.size, 0),
    },
    dockerImageMetadataVersion: '1.0',
    dockerImageLayers: layers,
    dockerImageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
  };
}

function itemOf(namespace, name, image, minutes) {
  return {
    created: new Date(Date.UTC(2026, 10, 1) - minutes * 60_000).toISOString().replace(/\.\d+Z$/, 'Z'),
    dockerImageReference: `${INTERNAL}/${namespace}/${name}@${image}`,
    image,
    generation: 1,
  };
}

async function main() {
  const cluster = await startCluster({ namespaces: ['bench'] });
  const redis = await startRedis();
  const connection = connectRedis({ url: redis.url }, 'client');
  try {
    const client = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
    const undo = new RedisUndoStore(connection, '{registry-pruner}', 'bench');
    const runId = 'bench-undo';
    await undo.begin(
      {
        runId,
        mode: 'full',
        windowMs: 3_600_000,
        protectAnnotation: 'x/y',
        createdAt: new Date().toISOString(),
      },
      3_600_000,
    );
    // The streams as the run left them: one kept item each; their removed items go into the record.
    let started = Date.now();
    const streamRecords = [];
    const imageRecords = [];
    for (let s = 0; s < STREAMS; s++) {
      const name = `app${s}`;
      const head = itemOf('bench', name, digest(`kept-${s}`), 0);
      const removed = [];
      for (let k = 0; k < PER_STREAM && s * PER_STREAM + k < IMAGES; k++) {
        const index = s * PER_STREAM + k;
        const image = imageObject('bench', name, index);
        removed.push({
          tag: 'latest',
          position: k + 1,
          item: itemOf('bench', name, image.metadata.name, k + 1),
        });
        imageRecords.push({
          type: 'image',
          unit: {
            type: 'image',
            id: `image/${image.metadata.name}`,
            digest: image.metadata.name,
            dependsOn: [`stream/bench/${name}`],
            parents: [],
            blobs: image.dockerImageLayers.map((l) => ({ digest: l.name, size: l.size, sharedWith: [] })),
          },
          image,
        });
      }
      const stream = await client.create(Resources.imageStream, {
        metadata: { name, namespace: 'bench' },
        spec: {},
      });
      await client.replaceStatus(Resources.imageStream, {
        ...stream,
        status: { tags: [{ tag: 'latest', items: [head] }] },
      });
      streamRecords.push({
        type: 'stream',
        unit: {
          type: 'stream',
          id: `stream/bench/${name}`,
          namespace: 'bench',
          name,
          uid: stream.metadata.uid,
          removals: removed.map((r) => ({ tag: r.tag, image: r.item.image, created: r.item.created })),
          manifestLinks: removed.map((r) => r.item.image),
          layerLinks: [],
        },
        items: removed,
        before: { latest: [head, ...removed.map((r) => r.item)].map((i) => `${i.image}@${i.created}`) },
      });
    }
    console.error(`cluster filled: ${STREAMS} streams in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    started = Date.now();
    for (const record of [...streamRecords, ...imageRecords]) await undo.append(runId, record);
    const writeSeconds = (Date.now() - started) / 1000;
    const head = await undo.head(runId);
    const raw = [...streamRecords, ...imageRecords].reduce(
      (sum, r) => sum + Buffer.byteLength(JSON.stringify(r)),
      0,
    );
    const held = Number(
      await connection.call(
        'MEMORY',
        'USAGE',
        `{registry-pruner}:bench:pruner:undo:${runId}:records`,
        'SAMPLES',
        '0',
      ),
    );
    started = Date.now();
    const report = await restoreRemoved(() => undo.records(runId), { cluster: restoreClusterOf(client) });
    const restoreSeconds = (Date.now() - started) / 1000;
    if ((report.counts.restored ?? 0) !== IMAGES * 2 || Object.keys(report.counts).length !== 1)
      throw new Error(`restore did not restore everything: ${JSON.stringify(report.counts)}`);
    const entries = streamRecords.length + imageRecords.length;
    console.log(
      `\nUndo record of ${IMAGES} Images and ${IMAGES} history items in ${STREAMS} streams (${entries} entries):\n`,
    );
    console.log(
      '| images | entries | JSON | compressed | Redis memory | per image | write s | restore s | restored/s |',
    );
    console.log(
      '| -----: | ------: | ---: | ---------: | -----------: | --------: | ------: | --------: | ---------: |',
    );
    console.log(
      `| ${IMAGES} | ${entries} | ${mib(raw)} | ${mib(head.storedBytes)} | ${mib(held)} | ${(held / IMAGES / 1024).toFixed(2)} KiB | ${writeSeconds.toFixed(1)} | ${restoreSeconds.toFixed(1)} | ${Math.round((IMAGES * 2) / restoreSeconds)} |`,
    );
  } finally {
    connection.disconnect();
    await Promise.allSettled([redis.stop(), cluster.stop()]);
  }
}

await main();
