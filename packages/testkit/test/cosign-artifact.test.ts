// Cosign-shaped artifacts: the manifest, tag and payload cosign pushes, copied by skopeo into the real
// distribution registry unchanged, next to the image they sign.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildCosignArtifact,
  buildOciImage,
  makeWorkDir,
  removeWorkDir,
  runSkopeo,
  startRegistry,
  type RunningRegistry,
} from '../src/index.js';

const sha256 = (data: Buffer | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const blob = (layoutDir: string, digest: string): Promise<Buffer> =>
  readFile(join(layoutDir, 'blobs', 'sha256', digest.slice(7)));

interface Manifest {
  artifactType?: string;
  config: { digest: string };
  layers: { mediaType: string; digest: string; annotations: Record<string, string> }[];
  subject?: { digest: string; size: number };
}

describe('buildCosignArtifact', () => {
  let workDir: string;
  let registry: RunningRegistry;
  beforeAll(async () => {
    workDir = await makeWorkDir('cosign-artifact-test');
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
    await removeWorkDir(workDir);
  });

  it('writes the manifest cosign pushes: simple-signing payload naming the subject, tag sha256-<hex>.sig', async () => {
    const image = await buildOciImage({ outDir: join(workDir, 'image'), layerSize: 1024 });
    const subject = { mediaType: image.mediaType, digest: image.digest, size: image.manifests[0]!.size };
    const sig = await buildCosignArtifact({ outDir: join(workDir, 'sig'), subject, reference: 'demo/app' });
    expect(sig.tag).toBe(`sha256-${image.digest.slice(7)}.sig`);
    const manifest = JSON.parse((await blob(sig.layoutDir, sig.digest)).toString()) as Manifest;
    expect(sha256(await blob(sig.layoutDir, sig.digest))).toBe(sig.digest);
    expect(manifest.subject).toBeUndefined();
    expect(manifest.layers[0]!.mediaType).toBe('application/vnd.dev.cosign.simplesigning.v1+json');
    expect(manifest.layers[0]!.annotations['dev.cosignproject.cosign/signature']).toMatch(
      /^[A-Za-z0-9+/=]{44}$/,
    );
    const payload = JSON.parse((await blob(sig.layoutDir, sig.layer.digest)).toString()) as {
      critical: { image: { 'docker-manifest-digest': string }; identity: { 'docker-reference': string } };
    };
    expect(payload.critical.image['docker-manifest-digest']).toBe(image.digest);
    expect(payload.critical.identity['docker-reference']).toBe('demo/app');
    const again = await buildCosignArtifact({
      outDir: join(workDir, 'sig-again'),
      subject,
      reference: 'demo/app',
    });
    expect(again.digest).toBe(sig.digest);
    const other = await buildCosignArtifact({ outDir: join(workDir, 'sig-other'), subject, seed: 'other' });
    expect(other.digest).not.toBe(sig.digest);

    const att = await buildCosignArtifact({
      outDir: join(workDir, 'att'),
      subject,
      kind: 'att',
      referrer: true,
    });
    expect(att.tag.endsWith('.att')).toBe(true);
    const attManifest = JSON.parse((await blob(att.layoutDir, att.digest)).toString()) as Manifest;
    expect(attManifest.subject).toEqual({
      mediaType: image.mediaType,
      digest: image.digest,
      size: subject.size,
    });
    expect(attManifest.artifactType).toBe('application/vnd.dev.cosign.artifact.att.v1+json');
    expect(attManifest.layers[0]!.mediaType).toBe('application/vnd.dsse.envelope.v1+json');
  });

  it('is copied by skopeo into the real registry unchanged, under its tag next to its subject', async () => {
    const image = await buildOciImage({ outDir: join(workDir, 'pushed'), layerSize: 1024, seed: 'pushed' });
    const subject = { mediaType: image.mediaType, digest: image.digest, size: image.manifests[0]!.size };
    const sig = await buildCosignArtifact({ outDir: join(workDir, 'pushed-sig'), subject, kind: 'sbom' });
    const to = (ref: string): string[] => [
      '--dest-tls-verify=false',
      `docker://${registry.host}/demo/app:${ref}`,
    ];
    await runSkopeo(['copy', `oci:${image.layoutDir}:latest`, ...to('latest')]);
    await runSkopeo(['copy', '--preserve-digests', `oci:${sig.layoutDir}:${sig.tag}`, ...to(sig.tag)]);
    const { stdout } = await runSkopeo([
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${registry.host}/demo/app:${sig.tag}`,
    ]);
    expect(sha256(stdout)).toBe(sig.digest);
  });
});
