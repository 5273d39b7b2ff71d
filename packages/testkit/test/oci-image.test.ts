import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOciImage, makeWorkDir, removeWorkDir, runSkopeo } from '../src/index.js';

const sha256 = (data: Buffer | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const blob = (layoutDir: string, digest: string): Promise<Buffer> =>
  readFile(join(layoutDir, 'blobs', 'sha256', digest.slice(7)));

describe('buildOciImage', () => {
  let workDir: string;
  beforeAll(async () => {
    workDir = await makeWorkDir('oci-image-test');
  });
  afterAll(async () => {
    await removeWorkDir(workDir);
  });

  it('a variant is another image over the very same layer blobs', async () => {
    const base = { seed: 'variant', layers: 2, layerSize: 1000 };
    const first = await buildOciImage({ outDir: join(workDir, 'variant-a'), ...base });
    const second = await buildOciImage({ outDir: join(workDir, 'variant-b'), ...base, variant: 'hotfix' });
    expect(second.digest).not.toBe(first.digest);
    expect(second.manifests[0]?.config.digest).not.toBe(first.manifests[0]?.config.digest);
    expect(second.manifests[0]?.layers.map((l) => l.digest)).toEqual(
      first.manifests[0]?.layers.map((l) => l.digest),
    );
  });

  it('writes a valid layout: every blob matches its digest, diff_ids match the uncompressed layers', async () => {
    const image = await buildOciImage({ outDir: join(workDir, 'valid'), layerSizes: [1000, 300_000, 0] });
    const names = await readdir(join(image.layoutDir, 'blobs', 'sha256'));
    expect(names).toHaveLength(5); // 3 layers, config, manifest
    for (const name of names) {
      expect(sha256(await blob(image.layoutDir, `sha256:${name}`))).toBe(`sha256:${name}`);
    }
    const manifest = image.manifests[0];
    if (!manifest) throw new Error('no manifest');
    const config = JSON.parse((await blob(image.layoutDir, manifest.config.digest)).toString()) as {
      rootfs: { diff_ids: string[] };
      architecture: string;
    };
    expect(config.architecture).toBe('amd64');
    const layers = await Promise.all(manifest.layers.map((l) => blob(image.layoutDir, l.digest)));
    expect(config.rootfs.diff_ids).toEqual(layers.map((gz) => sha256(gunzipSync(gz))));
    // incompressible: a gzip of a 300 kB random payload is not smaller than it
    expect(manifest.layers[1]?.size).toBeGreaterThan(300_000);
    const index = JSON.parse(await readFile(join(image.layoutDir, 'index.json'), 'utf8')) as {
      manifests: Array<{ digest: string; annotations: Record<string, string> }>;
    };
    expect(index.manifests[0]?.digest).toBe(image.digest);
    expect(index.manifests[0]?.annotations['org.opencontainers.image.ref.name']).toBe('latest');
  });

  it('is deterministic for a seed and differs across seeds', async () => {
    const a = await buildOciImage({ outDir: join(workDir, 'a'), seed: 's1' });
    const b = await buildOciImage({ outDir: join(workDir, 'b'), seed: 's1' });
    const c = await buildOciImage({ outDir: join(workDir, 'c'), seed: 's2' });
    expect(b.digest).toBe(a.digest);
    expect(c.digest).not.toBe(a.digest);
    expect(new Set(a.manifests[0]?.layers.map((l) => l.digest)).size).toBe(2);
  });

  it('builds multi-arch indexes that skopeo copies whole', async () => {
    const image = await buildOciImage({
      outDir: join(workDir, 'multi'),
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
      ],
      layerSize: 4096,
    });
    expect(image.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(image.manifests).toHaveLength(2);
    const index = JSON.parse((await blob(image.layoutDir, image.digest)).toString()) as {
      manifests: Array<{ platform: { architecture: string } }>;
    };
    expect(index.manifests.map((m) => m.platform.architecture)).toEqual(['amd64', 'arm64']);
    const dest = join(workDir, 'multi-copy');
    await runSkopeo(['copy', '--all', `oci:${image.layoutDir}:latest`, `oci:${dest}:copied`]);
    const { stdout } = await runSkopeo(['inspect', '--raw', `oci:${dest}:copied`]);
    expect(sha256(stdout)).toBe(image.digest);
  });

  it('writes oci-archive and docker-archive tarballs that skopeo reads', async () => {
    const image = await buildOciImage({
      outDir: join(workDir, 'archives'),
      formats: ['oci', 'oci-archive', 'docker-archive'],
      repoTag: 'example/app:v2',
      tag: 'v2',
    });
    expect(image.ociArchive).toBeDefined();
    expect(image.dockerArchive).toBeDefined();
    const fromOciArchive = await runSkopeo(['inspect', '--raw', `oci-archive:${image.ociArchive ?? ''}:v2`]);
    expect(sha256(fromOciArchive.stdout)).toBe(image.digest);

    const inspected = await runSkopeo(['inspect', `docker-archive:${image.dockerArchive ?? ''}`]);
    const info = JSON.parse(inspected.stdout) as { Architecture: string; Layers: string[] };
    expect(info.Architecture).toBe('amd64');
    // docker save stores uncompressed layers: their digests are the config's diff_ids
    expect(info.Layers).toEqual(image.manifests[0]?.layers.map((l) => l.diffId));
    const config = await runSkopeo([
      'inspect',
      '--config',
      '--raw',
      `docker-archive:${image.dockerArchive ?? ''}`,
    ]);
    expect(sha256(config.stdout)).toBe(image.manifests[0]?.config.digest);
  });

  it('supports Docker media types and uncompressed layers', async () => {
    const image = await buildOciImage({
      outDir: join(workDir, 'docker-types'),
      mediaTypes: 'docker',
      compression: 'none',
      formats: ['oci', 'docker-archive'],
    });
    const manifest = image.manifests[0];
    expect(manifest?.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(manifest?.layers[0]?.mediaType).toBe('application/vnd.docker.image.rootfs.diff.tar');
    expect(manifest?.layers[0]?.digest).toBe(manifest?.layers[0]?.diffId);
    // skopeo 1.9's oci: transport only reads OCI media types from index.json, so check the blobs directly
    const raw = await blob(image.layoutDir, image.digest);
    expect(sha256(raw)).toBe(image.digest);
    expect(JSON.parse(raw.toString())).toMatchObject({
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json' },
    });
    const inspected = await runSkopeo(['inspect', `docker-archive:${image.dockerArchive ?? ''}`]);
    expect((JSON.parse(inspected.stdout) as { Layers: string[] }).Layers).toEqual(
      manifest?.layers.map((l) => l.diffId),
    );
  });

  it('refuses a multi-platform docker archive', async () => {
    await expect(
      buildOciImage({
        outDir: join(workDir, 'refused'),
        index: true,
        formats: ['docker-archive'],
      }),
    ).rejects.toThrow(/single-platform/);
  });
});
