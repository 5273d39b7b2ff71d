import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';

/** An image platform, as in an OCI index descriptor. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** Output forms of {@link buildOciImage}. */
export type ImageFormat = 'oci' | 'oci-archive' | 'docker-archive';

/** What image to build. Everything has a default; the same options always give the same digests. */
export interface BuildOciImageOptions {
  /** Directory to write into (created). The layout goes to `<outDir>/layout`. */
  outDir: string;
  /** Number of layers per platform. Default 2. */
  layers?: number;
  /** Payload bytes per layer (random, incompressible). Default 64 KiB. */
  layerSize?: number;
  /** Payload bytes of each layer; overrides `layers` and `layerSize`. */
  layerSizes?: readonly number[];
  /** Seed of the content; change it to get different digests. Default `registry-push`. */
  seed?: string;
  /**
   * A config label, for another image with the same layers: a different `variant` gives a different config
   * and manifest over the very same layer blobs (a rebuild that changed only metadata).
   */
  variant?: string;
  /** Tag recorded as the layout's ref name (and in the docker archive's RepoTags). Default `latest`. */
  tag?: string;
  /** Platforms; more than one builds a multi-arch index. Default linux/amd64. */
  platforms?: readonly Platform[];
  /** Wrap even a single platform in an index. */
  index?: boolean;
  /** Layer compression. Default gzip. */
  compression?: 'gzip' | 'none';
  /**
   * OCI media types, or Docker v2 schema 2 ones. Default oci. (skopeo 1.9 reads only OCI media types from
   * a layout's index.json; Docker ones are for pushing the blobs yourself and for docker archives.)
   */
  mediaTypes?: 'oci' | 'docker';
  /** What to write besides the layout directory. Default `['oci']`. */
  formats?: readonly ImageFormat[];
  /** Repository:tag recorded in a docker archive. Default `testkit/image:<tag>`. */
  repoTag?: string;
}

/** A content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

/** One layer: its blob descriptor plus the digest of its uncompressed tar (the config's diff_id). */
export interface BuiltLayer extends Descriptor {
  diffId: string;
}

/** One single-platform image manifest. */
export interface BuiltManifest extends Descriptor {
  platform: Platform;
  config: Descriptor;
  layers: BuiltLayer[];
}

/** What {@link buildOciImage} wrote. */
export interface BuiltImage {
  tag: string;
  /** Digest of what the tag points at: the index for multi-arch, else the manifest. */
  digest: string;
  mediaType: string;
  layoutDir: string;
  ociArchive?: string;
  dockerArchive?: string;
  manifests: BuiltManifest[];
  /** The index, when one was built. */
  index?: Descriptor;
  /** Sum of the sizes of every distinct blob in the layout (layers, configs, manifests, index). */
  blobBytes: number;
}

const MEDIA = {
  oci: {
    manifest: 'application/vnd.oci.image.manifest.v1+json',
    index: 'application/vnd.oci.image.index.v1+json',
    config: 'application/vnd.oci.image.config.v1+json',
    layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
    layerTar: 'application/vnd.oci.image.layer.v1.tar',
  },
  docker: {
    manifest: 'application/vnd.docker.distribution.manifest.v2+json',
    index: 'application/vnd.docker.distribution.manifest.list.v2+json',
    config: 'application/vnd.docker.container.image.v1+json',
    layerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
    layerTar: 'application/vnd.docker.image.rootfs.diff.tar',
  },
} as const;

type MediaSet = (typeof MEDIA)[keyof typeof MEDIA];

const OCI_INDEX = MEDIA.oci.index;
const REF_NAME = 'org.opencontainers.image.ref.name';
const EPOCH = new Date(0);

/** Counts and hashes what passes through. */
class Digester extends Transform {
  private readonly hash = createHash('sha256');
  size = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    callback(null, chunk);
  }

  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}

/** AES-CTR keystream: fast, incompressible and fully determined by the seed. */
function seededBytes(seed: string, size: number): Readable {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(1 << 20);
  let remaining = size;
  return new Readable({
    read(): void {
      if (remaining === 0) {
        this.push(null);
        return;
      }
      const n = Math.min(remaining, zeros.length);
      remaining -= n;
      this.push(cipher.update(zeros.subarray(0, n)));
    },
  });
}

function blobPath(layoutDir: string, digest: string): string {
  return join(layoutDir, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

async function writeJsonBlob(layoutDir: string, mediaType: string, value: unknown): Promise<Descriptor> {
  const bytes = Buffer.from(JSON.stringify(value));
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  await writeFile(blobPath(layoutDir, digest), bytes);
  return { mediaType, digest, size: bytes.length };
}

const entryDefaults = { mtime: EPOCH, uid: 0, gid: 0, uname: '', gname: '' } as const;

/** Writes one layer tar (a directory and one payload file) and returns its digest and path. */
async function writeLayerTar(file: string, payloadName: string, seed: string, size: number): Promise<string> {
  const pack = tar.pack();
  const digester = new Digester();
  const written = pipeline(pack, digester, createWriteStream(file));
  pack.entry({ ...entryDefaults, name: 'payload/', type: 'directory', mode: 0o755 });
  const entry = pack.entry({ ...entryDefaults, name: `payload/${payloadName}`, size, mode: 0o644 });
  await pipeline(seededBytes(seed, size), entry);
  pack.finalize();
  await written;
  return digester.digest();
}

async function gzipFile(source: string, target: string): Promise<{ digest: string; size: number }> {
  const digester = new Digester();
  await pipeline(createReadStream(source), createGzip({ level: 1 }), digester, createWriteStream(target));
  return { digest: digester.digest(), size: digester.size };
}

interface LayerFiles {
  layer: BuiltLayer;
  /** Uncompressed tar kept for a docker archive. */
  tarFile?: string;
}

async function buildLayer(
  layoutDir: string,
  scratchDir: string,
  seed: string,
  size: number,
  options: { gzip: boolean; keepTar: boolean; media: MediaSet },
): Promise<LayerFiles> {
  const seedHash = createHash('sha256').update(seed).digest('hex').slice(0, 16);
  const tarFile = join(scratchDir, `${seedHash}.tar`);
  const diffId = await writeLayerTar(tarFile, `${seedHash}.bin`, seed, size);
  if (!options.gzip) {
    // An uncompressed layer is its own blob, and a docker archive can read it from the layout.
    const { size: tarSize } = await stat(tarFile);
    await rename(tarFile, blobPath(layoutDir, diffId));
    return { layer: { mediaType: options.media.layerTar, digest: diffId, size: tarSize, diffId } };
  }
  const gzTemp = join(scratchDir, `${seedHash}.tar.gz`);
  const { digest, size: gzSize } = await gzipFile(tarFile, gzTemp);
  await rename(gzTemp, blobPath(layoutDir, digest));
  const layer = { mediaType: options.media.layerGzip, digest, size: gzSize, diffId };
  if (options.keepTar) return { layer, tarFile };
  await rm(tarFile);
  return { layer };
}

function platformName(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((part) => part !== undefined).join('/');
}

interface TarSource {
  name: string;
  file?: string;
  content?: Buffer;
  directory?: boolean;
}

/** Writes a tar archive from files and in-memory entries, streaming file contents. */
async function writeTarArchive(outFile: string, sources: readonly TarSource[]): Promise<void> {
  const pack = tar.pack();
  const written = pipeline(pack, createWriteStream(outFile));
  for (const source of sources) {
    if (source.directory === true) {
      pack.entry({ ...entryDefaults, name: source.name, type: 'directory', mode: 0o755 });
    } else if (source.content !== undefined) {
      pack.entry({ ...entryDefaults, name: source.name, mode: 0o644 }, source.content);
    } else if (source.file !== undefined) {
      const { size } = await stat(source.file);
      const entry = pack.entry({ ...entryDefaults, name: source.name, size, mode: 0o644 });
      await pipeline(createReadStream(source.file), entry);
    }
  }
  pack.finalize();
  await written;
}

interface Plan {
  tag: string;
  seed: string;
  variant: string | undefined;
  platforms: readonly Platform[];
  sizes: readonly number[];
  gzip: boolean;
  media: MediaSet;
  useIndex: boolean;
  formats: readonly ImageFormat[];
  layoutDir: string;
  scratchDir: string;
}

function planBuild(options: BuildOciImageOptions): Plan {
  const platforms = options.platforms ?? [{ os: 'linux', architecture: 'amd64' }];
  const formats = options.formats ?? ['oci'];
  const useIndex = platforms.length > 1 || options.index === true;
  if (platforms.length === 0) throw new RangeError('buildOciImage needs at least one platform');
  if (formats.includes('docker-archive') && useIndex) {
    throw new RangeError(
      'a docker archive holds a single-platform image: build it with one platform and no index',
    );
  }
  const layerCount = options.layers ?? 2;
  const layerSize = options.layerSize ?? 64 * 1024;
  return {
    tag: options.tag ?? 'latest',
    seed: options.seed ?? 'registry-push',
    variant: options.variant,
    platforms,
    sizes: options.layerSizes ?? Array.from({ length: layerCount }, () => layerSize),
    gzip: options.compression !== 'none',
    media: MEDIA[options.mediaTypes ?? 'oci'],
    useIndex,
    formats,
    layoutDir: join(options.outDir, 'layout'),
    scratchDir: join(options.outDir, '.scratch'),
  };
}

async function buildPlatform(
  plan: Plan,
  platform: Platform,
): Promise<{ manifest: BuiltManifest; files: LayerFiles[] }> {
  const files: LayerFiles[] = [];
  for (const [i, size] of plan.sizes.entries()) {
    const layerSeed = `${plan.seed}/${platformName(platform)}/${i}`;
    files.push(
      await buildLayer(plan.layoutDir, plan.scratchDir, layerSeed, size, {
        gzip: plan.gzip,
        keepTar: plan.formats.includes('docker-archive'),
        media: plan.media,
      }),
    );
  }
  const layers = files.map((f) => f.layer);
  const created = EPOCH.toISOString();
  const config = await writeJsonBlob(plan.layoutDir, plan.media.config, {
    created,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant !== undefined ? { variant: platform.variant } : {}),
    config: {
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Labels: {
        'io.registry-push.testkit.seed': plan.seed,
        ...(plan.variant === undefined ? {} : { 'io.registry-push.testkit.variant': plan.variant }),
      },
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created, created_by: `testkit layer ${i}` })),
  });
  const manifest = await writeJsonBlob(plan.layoutDir, plan.media.manifest, {
    schemaVersion: 2,
    mediaType: plan.media.manifest,
    config,
    layers: layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
  });
  return { manifest: { ...manifest, platform, config, layers }, files };
}

/** Writes the index blob (multi-arch) and the layout's index.json; returns what the tag points at. */
async function writeTopLevel(
  plan: Plan,
  manifests: readonly BuiltManifest[],
): Promise<{ top: Descriptor; index?: Descriptor }> {
  let top: Descriptor;
  let index: Descriptor | undefined;
  if (plan.useIndex) {
    index = await writeJsonBlob(plan.layoutDir, plan.media.index, {
      schemaVersion: 2,
      mediaType: plan.media.index,
      manifests: manifests.map(({ mediaType, digest, size, platform }) => ({
        mediaType,
        digest,
        size,
        platform,
      })),
    });
    top = index;
  } else {
    const first = manifests[0];
    if (first === undefined) throw new RangeError('no manifest was built');
    top = { mediaType: first.mediaType, digest: first.digest, size: first.size };
  }
  const ref = { ...top, annotations: { [REF_NAME]: plan.tag } };
  await writeFile(
    join(plan.layoutDir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [ref] }),
  );
  return index ? { top, index } : { top };
}

/** Every distinct blob in the layout. */
function distinctBlobs(manifests: readonly BuiltManifest[], index?: Descriptor): Map<string, number> {
  const blobs = new Map<string, number>();
  for (const m of manifests) {
    for (const d of [m, m.config, ...m.layers]) blobs.set(d.digest, d.size);
  }
  if (index) blobs.set(index.digest, index.size);
  return blobs;
}

async function writeOciArchive(file: string, layoutDir: string, digests: Iterable<string>): Promise<void> {
  await writeTarArchive(file, [
    { name: 'oci-layout', file: join(layoutDir, 'oci-layout') },
    { name: 'index.json', file: join(layoutDir, 'index.json') },
    { name: 'blobs/', directory: true },
    { name: 'blobs/sha256/', directory: true },
    ...[...digests].map((d) => ({ name: `blobs/sha256/${d.slice(7)}`, file: blobPath(layoutDir, d) })),
  ]);
}

/** The docker save format: manifest.json, the config as `<hex>.json`, uncompressed `<diffid>/layer.tar`. */
async function writeDockerArchive(
  file: string,
  layoutDir: string,
  manifest: BuiltManifest,
  layers: readonly LayerFiles[],
  repoTag: string,
): Promise<void> {
  const configName = `${manifest.config.digest.slice(7)}.json`;
  const layerNames = layers.map((l) => `${l.layer.diffId.slice(7)}/layer.tar`);
  const manifestJson = [{ Config: configName, RepoTags: [repoTag], Layers: layerNames }];
  await writeTarArchive(file, [
    { name: 'manifest.json', content: Buffer.from(JSON.stringify(manifestJson)) },
    { name: configName, file: blobPath(layoutDir, manifest.config.digest) },
    ...layers.flatMap((l, i) => [
      { name: `${l.layer.diffId.slice(7)}/`, directory: true },
      { name: layerNames[i] ?? '', file: l.tarFile ?? blobPath(layoutDir, l.layer.digest) },
    ]),
  ]);
}

/**
 * Writes a deterministic image: an OCI layout directory and, on request, an `oci-archive` tarball and a
 * `docker-archive` (docker save) tarball. Layers are seeded random bytes, so they are incompressible and
 * the same options always give the same digests. More than one platform builds a multi-arch index.
 * Layers stream to disk, so sizes are bounded by the disk, not memory.
 */
export async function buildOciImage(options: BuildOciImageOptions): Promise<BuiltImage> {
  const plan = planBuild(options);
  await mkdir(join(plan.layoutDir, 'blobs', 'sha256'), { recursive: true });
  await mkdir(plan.scratchDir, { recursive: true });
  await writeFile(join(plan.layoutDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));

  const manifests: BuiltManifest[] = [];
  const layerFiles: LayerFiles[] = [];
  for (const platform of plan.platforms) {
    const built = await buildPlatform(plan, platform);
    manifests.push(built.manifest);
    layerFiles.push(...built.files);
  }
  const { top, index } = await writeTopLevel(plan, manifests);
  const blobs = distinctBlobs(manifests, index);
  const result: BuiltImage = {
    tag: plan.tag,
    digest: top.digest,
    mediaType: top.mediaType,
    layoutDir: plan.layoutDir,
    manifests,
    blobBytes: [...blobs.values()].reduce((a, b) => a + b, 0),
    ...(index ? { index } : {}),
  };
  if (plan.formats.includes('oci-archive')) {
    result.ociArchive = join(options.outDir, 'image.oci.tar');
    await writeOciArchive(result.ociArchive, plan.layoutDir, blobs.keys());
  }
  const single = manifests[0];
  if (plan.formats.includes('docker-archive') && single) {
    result.dockerArchive = join(options.outDir, 'image.docker.tar');
    const repoTag = options.repoTag ?? `testkit/image:${plan.tag}`;
    await writeDockerArchive(result.dockerArchive, plan.layoutDir, single, layerFiles, repoTag);
  }
  await rm(plan.scratchDir, { recursive: true, force: true });
  return result;
}

/** What a cosign-shaped artifact is about: a signature, an in-toto attestation or an SBOM. */
export type CosignArtifactKind = 'sig' | 'att' | 'sbom';

/** Options of {@link buildCosignArtifact}. */
export interface CosignArtifactOptions {
  /** Directory to write into (created). The layout goes to `<outDir>/layout`. */
  outDir: string;
  /** The image signed: its manifest (or index) descriptor. */
  subject: Descriptor;
  kind?: CosignArtifactKind;
  /** The repository the signature names (`docker-reference`). Default `testkit/image`. */
  reference?: string;
  /** Seed of the (fake) signature bytes; change it for another signature of the same subject. */
  seed?: string;
  /**
   * Also name the subject in the manifest's `subject` field, with an `artifactType`, as OCI 1.1 clients do
   * (the artifact is then an OCI referrer of the subject).
   */
  referrer?: boolean;
}

/** What {@link buildCosignArtifact} wrote: an OCI layout with one manifest, tagged as cosign tags it. */
export interface BuiltCosignArtifact {
  /** `sha256-<hex>.sig` (or `.att`, `.sbom`): the tag cosign pushes it under, next to the subject. */
  tag: string;
  digest: string;
  mediaType: string;
  layoutDir: string;
  config: Descriptor;
  layer: Descriptor;
}

const COSIGN_PAYLOAD: Record<CosignArtifactKind, { mediaType: string; artifactType: string }> = {
  sig: {
    mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
    artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
  },
  att: {
    mediaType: 'application/vnd.dsse.envelope.v1+json',
    artifactType: 'application/vnd.dev.cosign.artifact.att.v1+json',
  },
  sbom: {
    mediaType: 'text/spdx+json',
    artifactType: 'application/vnd.dev.cosign.artifact.sbom.v1+json',
  },
};

/**
 * Builds an artifact shaped like the ones `cosign sign`, `cosign attest` and `cosign attach sbom` push: an
 * OCI manifest whose one layer is the simple-signing payload (or a DSSE envelope, or an SPDX document)
 * naming the subject's digest, with the signature in the layer's annotations, tagged
 * `sha256-<subject hex>.<kind>`. The signature is not a real one (no key is involved), but registries,
 * skopeo and pruners see exactly what cosign would push. Deterministic for the same options.
 *
 * @param options Subject, kind and where to write.
 * @returns The tag, the digests and the layout.
 */
export async function buildCosignArtifact(options: CosignArtifactOptions): Promise<BuiltCosignArtifact> {
  const kind = options.kind ?? 'sig';
  const layoutDir = join(options.outDir, 'layout');
  await mkdir(join(layoutDir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(layoutDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const subjectDigest = options.subject.digest;
  const signed = {
    critical: {
      identity: { 'docker-reference': options.reference ?? 'testkit/image' },
      image: { 'docker-manifest-digest': subjectDigest },
      type: 'cosign container image signature',
    },
    optional: null,
  };
  const payload =
    kind === 'sig'
      ? signed
      : kind === 'att'
        ? {
            payloadType: 'application/vnd.in-toto+json',
            payload: Buffer.from(
              JSON.stringify({
                _type: 'https://in-toto.io/Statement/v0.1',
                subject: [
                  { name: options.reference ?? 'testkit/image', digest: { sha256: subjectDigest.slice(7) } },
                ],
                predicateType: 'https://slsa.dev/provenance/v0.2',
                predicate: {},
              }),
            ).toString('base64'),
            signatures: [],
          }
        : {
            spdxVersion: 'SPDX-2.3',
            name: options.reference ?? 'testkit/image',
            documentDescribes: [subjectDigest],
          };
  const media = COSIGN_PAYLOAD[kind];
  const layer = await writeJsonBlob(layoutDir, media.mediaType, payload);
  const signature = createHash('sha256')
    .update(`${options.seed ?? 'cosign'}:${subjectDigest}:${kind}`)
    .digest('base64');
  const config = await writeJsonBlob(layoutDir, MEDIA.oci.config, {
    architecture: '',
    created: '0001-01-01T00:00:00Z',
    history: [{ created: '0001-01-01T00:00:00Z' }],
    os: '',
    rootfs: { type: 'layers', diff_ids: [layer.digest] },
    config: {},
  });
  const manifest = await writeJsonBlob(layoutDir, MEDIA.oci.manifest, {
    schemaVersion: 2,
    mediaType: MEDIA.oci.manifest,
    ...(options.referrer === true ? { artifactType: media.artifactType } : {}),
    config,
    layers: [
      {
        ...layer,
        annotations:
          kind === 'sig'
            ? { 'dev.cosignproject.cosign/signature': signature }
            : kind === 'att'
              ? { predicateType: 'https://slsa.dev/provenance/v0.2' }
              : {},
      },
    ],
    ...(options.referrer === true
      ? {
          subject: {
            mediaType: options.subject.mediaType,
            digest: subjectDigest,
            size: options.subject.size,
          },
        }
      : {}),
  });
  const tag = `sha256-${subjectDigest.slice('sha256:'.length)}.${kind}`;
  await writeFile(
    join(layoutDir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ ...manifest, annotations: { [REF_NAME]: tag } }],
    }),
  );
  return { tag, digest: manifest.digest, mediaType: manifest.mediaType, layoutDir, config, layer };
}
