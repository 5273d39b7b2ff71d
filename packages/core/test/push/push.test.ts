// pushImage against the real distribution registry, checked from the outside with skopeo: every source
// format, indexes, skip-existing, mount, tags, corrupt input, tools, and transient faults.
import { createHash } from 'node:crypto';
import { appendFile, copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  buildOciImage,
  makeWorkDir,
  runSkopeo,
  startFaultProxy,
  startRegistry,
  type BuiltImage,
  type RunningRegistry,
} from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryPushError } from '../../src/errors.js';
import { pushImage, type PushEvent } from '../../src/push/push.js';
import { parseSource } from '../../src/push/sources.js';
import { toolPushCommands } from '../../src/push/tool-push.js';
import { RegistryClient } from '../../src/registry/client.js';
import { parseOpenShiftTarget, parseReference } from '../../src/registry/reference.js';
import { failure } from '../failure.js';

let work: string;
let registry: RunningRegistry;
let single: BuiltImage;
let multi: BuiltImage;

const plain = { plainHttp: true } as const;

/** Pull with skopeo into a fresh OCI layout and return {digest of the top manifest, blob hashes}. */
async function pullBack(
  reference: string,
  all = false,
): Promise<{ digest: string; blobs: Map<string, string> }> {
  const dir = join(work, `pulled-${Math.random().toString(36).slice(2)}`);
  await runSkopeo([
    'copy',
    ...(all ? ['--all'] : []),
    '--preserve-digests',
    '--src-tls-verify=false',
    `docker://${reference}`,
    `oci:${dir}:x`,
  ]);
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as {
    manifests: { digest: string }[];
  };
  const blobs = new Map<string, string>();
  for (const name of await readdir(join(dir, 'blobs', 'sha256'))) {
    const bytes = await readFile(join(dir, 'blobs', 'sha256', name));
    blobs.set(`sha256:${name}`, createHash('sha256').update(bytes).digest('hex'));
  }
  await rm(dir, { recursive: true, force: true });
  return { digest: index.manifests[0]!.digest, blobs };
}

async function layoutBlobHashes(image: BuiltImage): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  for (const name of await readdir(join(image.layoutDir, 'blobs', 'sha256'))) {
    const bytes = await readFile(join(image.layoutDir, 'blobs', 'sha256', name));
    hashes.set(`sha256:${name}`, createHash('sha256').update(bytes).digest('hex'));
  }
  return hashes;
}

beforeAll(async () => {
  work = await makeWorkDir('core-push');
  registry = await startRegistry();
  single = await buildOciImage({
    outDir: join(work, 'single'),
    layers: 3,
    layerSize: 300_000,
    seed: 'push-single',
    tag: 'v1',
    formats: ['oci', 'oci-archive', 'docker-archive'],
  });
  multi = await buildOciImage({
    outDir: join(work, 'multi'),
    layers: 2,
    layerSize: 100_000,
    seed: 'push-multi',
    platforms: [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    ],
  });
});

afterAll(async () => {
  await registry.stop();
  await rm(work, { recursive: true, force: true });
});

describe('references and sources', () => {
  it('parses references by the distribution grammar and OpenShift targets as HOST/PROJECT/NAME', () => {
    expect(parseReference('r.example.com:5000/a/b:v1')).toEqual({
      host: 'r.example.com:5000',
      repository: 'a/b',
      tag: 'v1',
    });
    expect(parseReference(`localhost/a@sha256:${'a'.repeat(64)}`).digest).toBe(`sha256:${'a'.repeat(64)}`);
    expect(parseOpenShiftTarget('r.example.com/demo/app:v1')).toMatchObject({
      project: 'demo',
      name: 'app',
      tag: 'v1',
    });
    for (const bad of [
      'demo/app',
      'r.example.com/app',
      'r.example.com/a/b/c',
      'r.example.com/Demo/app',
      'r.example.com/demo/app:-x',
      'r.example.com/demo/a..b',
      '',
    ]) {
      expect(() => parseOpenShiftTarget(bad), bad).toThrow(RegistryPushError);
    }
    expect(() => parseOpenShiftTarget('r.example.com/app')).toThrow(/PROJECT\/NAME/);
  });

  it('parses sources in skopeo notation and refuses unknown transports', () => {
    expect(parseSource('oci:/nonexistent/dir:v2')).toEqual({
      transport: 'oci',
      path: '/nonexistent/dir',
      ref: 'v2',
    });
    expect(parseSource(`oci:${single.layoutDir}`)).toEqual({ transport: 'oci', path: single.layoutDir });
    expect(parseSource('containers-storage:localhost/app:v1')).toEqual({
      transport: 'containers-storage',
      path: 'localhost/app:v1',
    });
    expect(() => parseSource('docker://x/y')).toThrow(/source transport/);
  });

  it('says what is wrong with a missing or ambiguous source', async () => {
    const target = `${registry.host}/demo/missing`;
    expect((await failure(pushImage({ source: 'oci:/nonexistent', target, connection: plain }))).code).toBe(
      'SOURCE_NOT_FOUND',
    );
    const wrongRef = await failure(
      pushImage({ source: `oci:${single.layoutDir}:nope`, target, connection: plain }),
    );
    expect(wrongRef.code).toBe('SOURCE_NOT_FOUND');
    expect(wrongRef.hint).toContain('v1');
    expect(
      (await failure(pushImage({ source: `oci:${join(work, 'single')}`, target, connection: plain }))).code,
    ).toBe('SOURCE_INVALID');
    const native = await failure(
      pushImage({ source: 'containers-storage:localhost/app', target, connection: plain }),
    );
    expect(native.code).toBe('OPTION_INVALID');
    expect(native.hint).toMatch(/push-tool skopeo/);
  });

  it('names the path and the notation that fits when a source is the wrong kind of file', async () => {
    const target = `${registry.host}/demo/wrong-kind`;
    const dir = single.layoutDir;
    for (const transport of ['oci-archive', 'docker-archive']) {
      const error = await failure(pushImage({ source: `${transport}:${dir}`, target, connection: plain }));
      expect(error.code).toBe('SOURCE_INVALID');
      expect(error.message).toContain(dir);
      expect(error.message).not.toMatch(/EISDIR/);
      expect(error.hint).toContain(`oci:${dir}`);
    }
    const file = await failure(pushImage({ source: `oci:${single.ociArchive!}`, target, connection: plain }));
    expect(file.code).toBe('SOURCE_INVALID');
    expect(file.hint).toContain('oci-archive:');
    for (const transport of ['oci', 'oci-archive', 'docker-archive']) {
      const missing = await failure(
        pushImage({ source: `${transport}:${join(work, 'no-such-output')}`, target, connection: plain }),
      );
      expect(missing.code).toBe('SOURCE_NOT_FOUND');
    }
    // A layout whose index.json cannot be read as a file: a typed one-line error, not a raw EISDIR.
    const broken = join(work, 'unreadable-layout');
    await runSkopeo(['copy', `oci:${single.layoutDir}:v1`, `oci:${broken}:v1`]);
    await rm(join(broken, 'index.json'));
    await mkdir(join(broken, 'index.json'));
    const unreadable = await failure(pushImage({ source: `oci:${broken}`, target, connection: plain }));
    expect(unreadable.code).toBe('SOURCE_INVALID');
    expect(unreadable.message).toContain(broken);
    expect(unreadable.message).not.toContain('\n');
  });
});

describe('native push', () => {
  for (const format of ['oci', 'oci-archive'] as const) {
    it(`pushes an ${format} source, byte for byte, to several tags`, async () => {
      const source = format === 'oci' ? `oci:${single.layoutDir}:v1` : `oci-archive:${single.ociArchive!}`;
      const events: PushEvent[] = [];
      const result = await pushImage({
        source,
        target: `${registry.host}/${format}/app`,
        tags: ['v1', 'latest', 'v1'],
        connection: plain,
        onEvent: (event) => events.push(event),
      });
      expect(result.digest).toBe(single.digest);
      expect(result.refs.map((ref) => ref.tag)).toEqual(['v1', 'latest']);
      expect(result.refs.every((ref) => ref.digest === single.digest)).toBe(true);
      expect(result.internalRef).toBe(
        `image-registry.openshift-image-registry.svc:5000/${format}/app@${single.digest}`,
      );
      expect(result.blobs).toMatchObject({ uploaded: 4, existing: 0 });
      expect(events.filter((event) => event.kind === 'blob-done')).toHaveLength(4);
      const pulled = await pullBack(`${registry.host}/${format}/app:latest`);
      expect(pulled.digest).toBe(single.digest);
      const expected = await layoutBlobHashes(single);
      for (const [digest, hash] of pulled.blobs) expect(expected.get(digest), digest).toBe(hash);
    });
  }

  it('uploads tiny blobs first, then the largest first', async () => {
    const mixed = await buildOciImage({
      outDir: join(work, 'mixed'),
      layerSizes: [300_000, 1_000, 900_000, 100_000],
      seed: 'order',
      tag: 'v1',
    });
    const started: number[] = [];
    await pushImage({
      source: `oci:${mixed.layoutDir}:v1`,
      target: `${registry.host}/order/app:v1`,
      connection: plain,
      concurrency: 1,
      onEvent: (event) => {
        if (event.kind === 'blob-start') started.push(event.size);
      },
    });
    const manifest = mixed.manifests[0]!;
    const sizes = [manifest.config, ...manifest.layers].map((blob) => blob.size);
    const tiny = sizes.filter((size) => size <= 64 * 1024).sort((a, b) => b - a);
    const rest = sizes.filter((size) => size > 64 * 1024).sort((a, b) => b - a);
    // The config and the 1 kB layer (in either order), then 900 kB, 300 kB, 100 kB.
    expect(started).toHaveLength(5);
    expect([...started.slice(0, 2)].sort((a, b) => b - a)).toEqual(tiny);
    expect(started.slice(2)).toEqual(rest);
  });

  it('pushes a docker-archive as an OCI image whose layers are the saved tars', async () => {
    const result = await pushImage({
      source: `docker-archive:${single.dockerArchive!}`,
      target: `${registry.host}/docker/app:v1`,
      connection: plain,
    });
    const pulled = await pullBack(result.refs[0]!.reference);
    expect(pulled.digest).toBe(result.digest);
    for (const layer of single.manifests[0]!.layers) {
      // Each pushed layer is the uncompressed tar, so its digest is the config's diff_id.
      expect(pulled.blobs.has(layer.diffId)).toBe(true);
    }
  });

  it('pushes a multi-arch index with every child first', async () => {
    const result = await pushImage({
      source: `oci:${multi.layoutDir}`,
      target: `${registry.host}/multi/app:v1`,
      connection: plain,
    });
    expect(result.digest).toBe(multi.digest);
    const pulled = await pullBack(`${registry.host}/multi/app:v1`, true);
    expect(pulled.digest).toBe(multi.digest);
    for (const manifest of multi.manifests) expect(pulled.blobs.has(manifest.digest)).toBe(true);
  });

  it('skips what the registry has and mounts from another repository', async () => {
    await pushImage({
      source: `oci:${single.layoutDir}`,
      target: `${registry.host}/warm/app:v1`,
      connection: plain,
    });
    const again = await pushImage({
      source: `oci:${single.layoutDir}`,
      target: `${registry.host}/warm/app:v2`,
      connection: plain,
    });
    expect(again.blobs).toEqual({ uploaded: 0, mounted: 0, existing: 4, bytesUploaded: 0 });
    const mounted = await pushImage({
      source: `oci:${single.layoutDir}`,
      target: `${registry.host}/warm/copy:v1`,
      mountFrom: ['warm/app'],
      connection: plain,
    });
    expect(mounted.blobs).toMatchObject({ uploaded: 0, mounted: 4 });
  });

  it('refuses a corrupt layer and writes no tag', async () => {
    const copy = join(work, 'corrupt');
    await runSkopeo(['copy', `oci:${single.layoutDir}:v1`, `oci:${copy}:v1`]);
    const layer = single.manifests[0]!.layers[1]!;
    await appendFile(join(copy, 'blobs', 'sha256', layer.digest.slice(7)), 'x');
    const error = await failure(
      pushImage({ source: `oci:${copy}:v1`, target: `${registry.host}/corrupt/app:v1`, connection: plain }),
    );
    expect(error.code).toBe('BLOB_CORRUPT');
    const client = new RegistryClient({ host: registry.host, plainHttp: true });
    expect(await client.headManifest('corrupt/app', 'v1')).toBeUndefined();
    expect(await client.blobSize('corrupt/app', layer.digest)).toBeUndefined();
    await client.close();
  });

  it('refuses a layer whose bytes changed but not its size, naming the file, and writes no tag', async () => {
    // The same size, so only the digest can tell: the registry's check of the upload's digest catches it.
    const copy = join(work, 'flipped');
    await runSkopeo(['copy', `oci:${single.layoutDir}:v1`, `oci:${copy}:v1`]);
    const layer = single.manifests[0]!.layers[2]!;
    const file = join(copy, 'blobs', 'sha256', layer.digest.slice(7));
    const bytes = await readFile(file);
    bytes[1000] = (bytes[1000]! + 1) % 256;
    await writeFile(file, bytes);
    const error = await failure(
      pushImage({ source: `oci:${copy}:v1`, target: `${registry.host}/flipped/app:v1`, connection: plain }),
    );
    expect(error.code).toBe('BLOB_CORRUPT');
    expect(error.message).toContain(file);
    expect(error.message).toContain(layer.digest);
    const client = new RegistryClient({ host: registry.host, plainHttp: true });
    try {
      expect(await client.headManifest('flipped/app', 'v1')).toBeUndefined();
      expect(await client.blobSize('flipped/app', layer.digest)).toBeUndefined();
    } finally {
      await client.close();
    }
  });

  it('refuses a manifest that misstates the size of a blob the registry already has, and writes no tag', async () => {
    await pushImage({
      source: `oci:${single.layoutDir}:v1`,
      target: `${registry.host}/sized/app:v1`,
      connection: plain,
    });
    // A copy of the layout whose manifest declares one byte more for a layer than its content has.
    const copy = join(work, 'misstated');
    await runSkopeo(['copy', `oci:${single.layoutDir}:v1`, `oci:${copy}:v1`]);
    const blobPath = (digest: string): string => join(copy, 'blobs', 'sha256', digest.slice(7));
    const manifestDigest = single.manifests[0]!.digest;
    const manifest = JSON.parse(await readFile(blobPath(manifestDigest), 'utf8')) as {
      layers: { digest: string; size: number }[];
    };
    const layer = manifest.layers[1]!;
    layer.size += 1;
    const bytes = Buffer.from(JSON.stringify(manifest));
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    await writeFile(blobPath(digest), bytes);
    const index = JSON.parse(await readFile(join(copy, 'index.json'), 'utf8')) as {
      manifests: { digest: string; size: number }[];
    };
    index.manifests[0]!.digest = digest;
    index.manifests[0]!.size = bytes.length;
    await writeFile(join(copy, 'index.json'), JSON.stringify(index));
    const client = new RegistryClient({ host: registry.host, plainHttp: true });
    try {
      // In the repository that has the blob, and in one that mounts it from there.
      for (const [repository, mountFrom] of [
        ['sized/app', []],
        ['sized/mounted', ['sized/app']],
      ] as const) {
        const error = await failure(
          pushImage({
            source: `oci:${copy}:v1`,
            target: `${registry.host}/${repository}:v2`,
            mountFrom,
            connection: plain,
          }),
        );
        expect(error.code).toBe('BLOB_CORRUPT');
        expect(error.message).toContain(layer.digest);
        expect(error.message).toContain(String(layer.size));
        expect(await client.headManifest(repository, 'v2')).toBeUndefined();
      }
      expect((await client.headManifest('sized/app', 'v1'))?.digest).toBe(single.digest);
    } finally {
      await client.close();
    }
  });

  it('stops when aborted and leaves no tag', async () => {
    const controller = new AbortController();
    const promise = pushImage({
      source: `oci:${single.layoutDir}`,
      target: `${registry.host}/aborted/app:v1`,
      connection: plain,
      signal: controller.signal,
      onEvent: (event) => {
        if (event.kind === 'blob-progress') controller.abort();
      },
    });
    await expect(promise).rejects.toThrow();
    const client = new RegistryClient({ host: registry.host, plainHttp: true });
    expect(await client.headManifest('aborted/app', 'v1')).toBeUndefined();
    await client.close();
  });

  it('survives resets, 500, 503 and 429 on the way and pushes the same digest', async () => {
    let n = 0;
    // Every manifest PUT is rate-limited twice before it goes through (counted per manifest, so the plan
    // does not depend on how many requests the parallel uploads happened to make first).
    const limited = new Map<string, number>();
    const proxy = await startFaultProxy({
      target: registry.url,
      plan: ({ method, path }) => {
        n++;
        if (n % 5 === 2) return { kind: 'reset' };
        if (n % 7 === 3) return { kind: 'status', status: 503 };
        if (n % 11 === 4) return { kind: 'status', status: 500 };
        if (method === 'PUT' && path.includes('/manifests/')) {
          const seen = limited.get(path) ?? 0;
          limited.set(path, seen + 1);
          if (seen < 2) return { kind: 'status', status: 429, headers: { 'retry-after': '0' } };
        }
        return undefined;
      },
    });
    try {
      const retries: PushEvent[] = [];
      const result = await pushImage({
        source: `oci:${multi.layoutDir}`,
        target: `${proxy.host}/faulty/app:v1`,
        connection: { plainHttp: true, retry: { retries: 8, baseDelayMs: 5, maxDelayMs: 50 } },
        onEvent: (event) => event.kind === 'retry' && retries.push(event),
      });
      expect(result.digest).toBe(multi.digest);
      expect(retries.length).toBeGreaterThanOrEqual(3);
      // Every manifest (the children, then the index) was refused twice and then written.
      expect([...limited.values()].every((count) => count >= 3)).toBe(true);
      expect(limited.size).toBeGreaterThanOrEqual(2);
    } finally {
      await proxy.stop();
    }
    expect((await pullBack(`${registry.host}/faulty/app:v1`, true)).digest).toBe(multi.digest);
  });
});

describe('native push with Basic auth', () => {
  let secured: RunningRegistry;
  let layered: BuiltImage;
  beforeAll(async () => {
    secured = await startRegistry({ auth: { username: 'ci', password: 'right-password' } });
    layered = await buildOciImage({
      outDir: join(work, 'layered'),
      layers: 6,
      layerSize: 150_000,
      seed: 'push-basic',
      tag: 'v1',
    });
  });
  afterAll(async () => {
    await secured.stop();
  });

  it('uploads several layers in parallel, every time, with the right credentials', async () => {
    // Every parallel upload starts unauthenticated and meets the Basic challenge at the same moment.
    for (let round = 0; round < 4; round++) {
      const result = await pushImage({
        source: `oci:${layered.layoutDir}:v1`,
        target: `${secured.host}/basic/app${round}:v1`,
        connection: {
          plainHttp: true,
          credentials: { kind: 'basic', username: 'ci', password: 'right-password' },
        },
        concurrency: 4,
      });
      expect(result.digest).toBe(layered.digest);
      expect(result.blobs).toMatchObject({ uploaded: 7, existing: 0 });
    }
  });

  it('refuses wrong credentials with TOKEN_REJECTED', async () => {
    const error = await failure(
      pushImage({
        source: `oci:${layered.layoutDir}:v1`,
        target: `${secured.host}/basic/wrong:v1`,
        connection: { plainHttp: true, credentials: { kind: 'basic', username: 'ci', password: 'nope' } },
        concurrency: 4,
      }),
    );
    expect(error.code).toBe('TOKEN_REJECTED');
    expect(error.message).not.toContain('nope');
  });
});

describe('tool push', () => {
  it("never puts a secret on any tool's command line: credentials travel in the auth file", () => {
    const source = { transport: 'oci-archive' as const, path: '/build/image.tar' };
    for (const tool of ['skopeo', 'podman', 'buildah'] as const) {
      const [command] = toolPushCommands(
        tool,
        {
          source,
          destination: 'r.example.com/demo/app:v1',
          authFile: '/tmp/a/config.json',
          certDir: '/tmp/c/r.example.com',
          tlsVerify: true,
        },
        '/tmp/d',
      );
      expect(command!.args).toEqual(expect.arrayContaining(['--authfile', '/tmp/a/config.json']));
      expect(command!.args.join(' ')).not.toMatch(/--creds|--password|-p /);
      expect(command!.stdin).toBe('');
    }
    const docker = toolPushCommands(
      'docker',
      {
        source: { transport: 'docker-daemon', path: 'app:v1' },
        destination: 'r.example.com/demo/app:v1',
        authFile: '/tmp/a/config.json',
        tlsVerify: true,
      },
      '/tmp/d',
    );
    expect(docker.map((c) => c.args[0])).toEqual(['tag', 'push']);
    expect(docker[1]!.env).toEqual({ DOCKER_CONFIG: '/tmp/a' });
  });

  it('pushes with skopeo and reports the digest the registry holds, then adds the other tags', async () => {
    const auth = join(work, 'auth.json');
    await writeFile(auth, '{"auths":{}}', { mode: 0o600 });
    const result = await pushImage({
      source: `oci-archive:${single.ociArchive!}`,
      target: `${registry.host}/tool/app`,
      tags: ['a', 'b'],
      tool: 'skopeo',
      connection: { ...plain, tlsVerify: false },
      toolOptions: { authFile: auth },
    });
    expect(result.via).toBe('skopeo');
    expect(result.refs.map((ref) => ref.tag)).toEqual(['a', 'b']);
    expect(new Set(result.refs.map((ref) => ref.digest)).size).toBe(1);
    expect((await pullBack(`${registry.host}/tool/app:b`)).digest).toBe(result.digest);
  });

  it('turns a tool failure into PUSH_TOOL_FAILED with its last line', async () => {
    const copy = join(work, 'broken-archive.tar');
    await copyFile(single.ociArchive!, copy);
    await writeFile(copy, 'not a tar');
    const error = await failure(
      pushImage({
        source: `oci-archive:${copy}`,
        target: `${registry.host}/tool/broken`,
        tool: 'skopeo',
        connection: { ...plain, tlsVerify: false },
      }),
    );
    expect(error.code).toBe('PUSH_TOOL_FAILED');
  });
});
