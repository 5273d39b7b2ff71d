// A push of many tags to one image: each tag rewrites the ImageStream, which used to be copied whole several
// times per tag and kept in the watch history once per version, so 5000 tags ran the simulator out of heap.
// Here the simulator runs as its own process with a small heap, so a quadratic growth ends it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpRequest, makeWorkDir, removeWorkDir, type HttpResponse } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectStore } from '../src/api/store.js';
import { eventually } from './helpers.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');
const TAGS = 1200;
/** Far above what the simulator needs, far below what the old quadratic growth reached at this count. */
const HEAP_MB = 128;

interface Ready {
  apiServer: string;
  appsDomain: string;
  routerAddress: string;
  ingressCA: string;
  users: Record<string, { token: string }>;
}

const sha256 = (data: Buffer | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

describe('a push of many tags', () => {
  let dir: string;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    dir = await makeWorkDir('sim-many-tags');
  });
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    await removeWorkDir(dir);
  });

  it(`records ${TAGS} tags of one image in bounded memory (${HEAP_MB} MB of heap)`, async () => {
    const sim = spawn(
      process.execPath,
      [
        `--max-old-space-size=${HEAP_MB}`,
        cli,
        'start',
        '--dir',
        dir,
        '--router-mode',
        'port',
        '--default-route',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = sim;
    let stderr = '';
    sim.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [line] = (await once(createInterface({ input: sim.stdout as NodeJS.ReadableStream }), 'line')) as [
      string,
    ];
    const ready = JSON.parse(line) as Ready;
    const host = `default-route-openshift-image-registry.${ready.appsDomain}`;
    const ca = await readFile(ready.ingressCA, 'utf8');
    const token = ready.users['developer']?.token ?? '';
    const auth = `Basic ${Buffer.from(`developer:${token}`).toString('base64')}`;
    const registry = (
      method: string,
      path: string,
      body?: Buffer | string,
      type?: string,
    ): Promise<HttpResponse> =>
      httpRequest(`https://${ready.routerAddress}${path}`, {
        method,
        caPem: ca,
        servername: host,
        timeoutMs: 60_000,
        headers: { Host: host, Authorization: auth, ...(type !== undefined ? { 'Content-Type': type } : {}) },
        ...(body !== undefined ? { body } : {}),
      });
    // The router admits the default route shortly after start.
    await eventually(async () => ((await registry('GET', '/v2/')).status === 200 ? true : undefined), 30_000);

    const config = Buffer.from(
      JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: {} }),
    );
    const layer = Buffer.from('many tags, one layer');
    for (const blob of [config, layer]) {
      const started = await registry('POST', '/v2/demo/many/blobs/uploads/');
      expect(started.status).toBe(202);
      const location = new URL(String(started.headers.location), `https://${host}`);
      location.searchParams.set('digest', sha256(blob));
      const put = await registry(
        'PUT',
        `${location.pathname}${location.search}`,
        blob,
        'application/octet-stream',
      );
      expect(put.status).toBe(201);
    }
    const mediaType = 'application/vnd.oci.image.manifest.v1+json';
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: sha256(config),
        size: config.length,
      },
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length },
      ],
    });

    // A few pushes at a time, as several pipelines (or a tool with parallel tag pushes) would send them.
    let next = 0;
    const failures: string[] = [];
    const worker = async (): Promise<void> => {
      while (next < TAGS && failures.length === 0) {
        const tag = `t${next++}`;
        try {
          const put = await registry('PUT', `/v2/demo/many/manifests/${tag}`, manifest, mediaType);
          if (put.status !== 201) failures.push(`${tag}: ${put.status} ${put.body.toString()}`);
        } catch (err) {
          failures.push(`${tag}: ${(err as Error).message}; simulator stderr: ${stderr.slice(-500)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    expect(failures).toEqual([]);
    expect(sim.exitCode).toBeNull();

    const stream = await httpRequest(
      `${ready.apiServer}/apis/image.openshift.io/v1/namespaces/demo/imagestreams/many`,
      {
        caPem: await readFile(join(dir, 'api-ca.crt'), 'utf8'),
        headers: { Authorization: `Bearer ${token}` },
        timeoutMs: 60_000,
      },
    );
    const tags = (
      JSON.parse(stream.body.toString()) as { status: { tags: Array<{ tag: string; items: unknown[] }> } }
    ).status.tags;
    expect(tags).toHaveLength(TAGS);
    expect(tags.every((t) => t.items.length === 1)).toBe(true);
  }, 300_000);
});

describe('the watch history', () => {
  it('stays bounded when one large object is rewritten many times', () => {
    const store = new ObjectStore();
    const tags: Array<{ tag: string; items: Array<{ image: string }> }> = [];
    store.create('imagestreams.image.openshift.io', 'demo', 'big', { metadata: { name: 'big' }, status: {} });
    for (let i = 0; i < 600; i++) {
      tags.push({ tag: `t${i}`, items: [{ image: `sha256:${i}` }] });
      store.replace('imagestreams.image.openshift.io', 'demo', 'big', {
        metadata: { name: 'big' },
        status: { tags },
      });
    }
    const { events, weight } = store.historySize();
    // Keeping every version would be 601 events of up to 600 tags each (over 700,000 in weight).
    expect(weight).toBeLessThanOrEqual(400_000);
    expect(events).toBeLessThan(601);
    // The newest version is still there to resume from.
    expect(
      store.eventsSince('imagestreams.image.openshift.io', 'demo', store.currentRevision - 1),
    ).toHaveLength(1);
  });
});
