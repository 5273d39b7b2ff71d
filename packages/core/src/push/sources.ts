import { createReadStream, existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { RegistryPushError } from '../errors.js';
import type { BlobSource } from '../registry/client.js';
import { parseDigest, sha256Digest } from '../registry/digest.js';
import { systemErrorCode } from '../system-errors.js';
import {
  MediaTypes,
  isIndexMediaType,
  type Descriptor,
  type ManifestDocument,
} from '../registry/media-types.js';
import { indexTar, openTarMember, readTarHead, type TarMember } from './tar-index.js';

/** The transports a push source can name. */
export type SourceTransport =
  'oci' | 'oci-archive' | 'docker-archive' | 'containers-storage' | 'docker-daemon';

/** A parsed `transport:path[:ref]`. */
export interface SourceReference {
  transport: SourceTransport;
  /** Directory, file, or (for the local stores) the image reference. */
  path: string;
  /** The tag or ref name inside a layout or archive, when given. */
  ref?: string;
}

/** Sources that only skopeo, podman, buildah or docker can read (local container stores). */
export const TOOL_ONLY_TRANSPORTS: readonly SourceTransport[] = ['containers-storage', 'docker-daemon'];

const TRANSPORTS: readonly SourceTransport[] = [
  'oci',
  'oci-archive',
  'docker-archive',
  'containers-storage',
  'docker-daemon',
];

/**
 * Parse a source (`oci:DIR[:REF]`, `oci-archive:FILE[:REF]`, `docker-archive:FILE[:REF]`,
 * `containers-storage:IMAGE`, `docker-daemon:IMAGE`), the notation skopeo uses.
 */
export function parseSource(input: string): SourceReference {
  const colon = input.indexOf(':');
  const transport = input.slice(0, colon) as SourceTransport;
  if (colon < 0 || !TRANSPORTS.includes(transport)) {
    throw new RegistryPushError('SOURCE_INVALID', `"${input}" does not name a source transport.`, {
      hint: `Write TRANSPORT:PATH with one of ${TRANSPORTS.join(', ')}, e.g. oci:./build/image:latest or docker-archive:image.tar.`,
    });
  }
  const rest = input.slice(colon + 1);
  if (rest === '') throw new RegistryPushError('SOURCE_INVALID', `"${input}" names no path or image.`);
  if (TOOL_ONLY_TRANSPORTS.includes(transport)) return { transport, path: rest };
  // A trailing :REF is split off only when the whole thing is not an existing path (paths may hold colons).
  const last = rest.lastIndexOf(':');
  if (existsSync(rest) || last <= 0) return { transport, path: rest };
  return { transport, path: rest.slice(0, last), ref: rest.slice(last + 1) };
}

/** One manifest or index to store, exactly as its bytes are. */
export interface SourceManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

/** An image read from disk: what the tag points at, every manifest under it, and every blob. */
export interface LoadedImage {
  /** What the tag will point at (an index for multi-arch). */
  root: SourceManifest;
  /** Child manifests of an index, in the order they must be stored (before the root). */
  children: SourceManifest[];
  /** Config and layer blobs, each once. */
  blobs: Map<string, { size: number; mediaType: string; source: BlobSource }>;
  /** Human description of where it came from. */
  description: string;
}

/** Read access to the files of an OCI layout, in a directory or inside a tar. */
interface LayoutFiles {
  label: string;
  read(name: string): Promise<Buffer | undefined>;
  blob(digest: string, size: number): BlobSource | undefined;
}

function directoryLayout(dir: string): LayoutFiles {
  return {
    label: dir,
    read: async (name) => (existsSync(join(dir, name)) ? readFile(join(dir, name)) : undefined),
    blob: (digest) => {
      const { algorithm, hex } = parseDigest(digest);
      const file = join(dir, 'blobs', algorithm, hex);
      if (!existsSync(file)) return undefined;
      return { label: file, open: () => createReadStream(file, { highWaterMark: 1 << 20 }) };
    },
  };
}

function memberSource(file: string, member: TarMember): BlobSource {
  return {
    label: `${file}!${member.name}`,
    open: () => (member.size === 0 ? Readable.from([]) : openTarMember(file, member)),
  };
}

async function archiveFiles(file: string): Promise<{ members: Map<string, TarMember>; files: LayoutFiles }> {
  const members = await indexTar(file);
  const read = async (name: string): Promise<Buffer | undefined> => {
    const member = members.get(name);
    if (member === undefined) return undefined;
    const chunks: Buffer[] = [];
    for await (const chunk of memberSource(file, member).open()) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };
  return {
    members,
    files: {
      label: file,
      read,
      blob: (digest) => {
        const { algorithm, hex } = parseDigest(digest);
        const member = members.get(`blobs/${algorithm}/${hex}`);
        return member === undefined ? undefined : memberSource(file, member);
      },
    },
  };
}

function invalid(where: string, why: string, hint?: string): RegistryPushError {
  return new RegistryPushError('SOURCE_INVALID', `${where} is not a usable image: ${why}.`, {
    hint: hint ?? 'Check that the build wrote a complete OCI layout or archive.',
  });
}

function parseJson<T>(bytes: Buffer, where: string): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch {
    throw invalid(where, 'a JSON file in it does not parse');
  }
}

const REF_NAME = 'org.opencontainers.image.ref.name';

/** Pick the descriptor of `ref` in a layout's index.json. */
function pickDescriptor(index: ManifestDocument, ref: string | undefined, where: string): Descriptor {
  const entries = index.manifests ?? [];
  if (ref !== undefined) {
    const found = entries.find((entry) => {
      const name = entry.annotations?.[REF_NAME];
      return name === ref || name?.endsWith(`:${ref}`) === true;
    });
    if (found === undefined) {
      const names = entries
        .map((entry) => entry.annotations?.[REF_NAME])
        .filter((name) => name !== undefined);
      throw new RegistryPushError('SOURCE_NOT_FOUND', `${where} has no image named "${ref}".`, {
        hint:
          names.length > 0
            ? `It has: ${names.join(', ')}.`
            : 'Its index.json names no images; drop the :REF.',
      });
    }
    return found;
  }
  const [only] = entries;
  if (entries.length !== 1 || only === undefined) {
    const names = entries.map((entry) => entry.annotations?.[REF_NAME] ?? entry.digest);
    throw invalid(
      where,
      `it holds ${entries.length} images`,
      `Say which one with :REF (${names.join(', ') || 'none'}).`,
    );
  }
  return only;
}

async function readManifest(files: LayoutFiles, descriptor: Descriptor): Promise<SourceManifest> {
  const { algorithm, hex } = parseDigest(descriptor.digest);
  const bytes = await files.read(`blobs/${algorithm}/${hex}`);
  if (bytes === undefined) throw invalid(files.label, `the manifest ${descriptor.digest} is missing`);
  const digest = sha256Digest(bytes);
  if (algorithm === 'sha256' && digest !== descriptor.digest) {
    throw new RegistryPushError(
      'BLOB_CORRUPT',
      `The manifest ${descriptor.digest} in ${files.label} is corrupt: its content has digest ${digest}.`,
      {
        hint: 'Rebuild or re-export the image.',
      },
    );
  }
  const parsed = parseJson<ManifestDocument>(bytes, files.label);
  return { digest: descriptor.digest, mediaType: parsed.mediaType ?? descriptor.mediaType, bytes };
}

function addBlob(image: LoadedImage, files: LayoutFiles, descriptor: Descriptor): void {
  if (image.blobs.has(descriptor.digest)) return;
  const source = files.blob(descriptor.digest, descriptor.size);
  if (source === undefined) throw invalid(files.label, `the blob ${descriptor.digest} is missing`);
  image.blobs.set(descriptor.digest, { size: descriptor.size, mediaType: descriptor.mediaType, source });
}

function addImageBlobs(image: LoadedImage, files: LayoutFiles, manifest: SourceManifest): void {
  const document = parseJson<ManifestDocument>(manifest.bytes, files.label);
  if (document.config === undefined)
    throw invalid(files.label, `the manifest ${manifest.digest} has no config`);
  addBlob(image, files, document.config);
  for (const layer of document.layers ?? []) addBlob(image, files, layer);
}

async function loadLayout(
  files: LayoutFiles,
  ref: string | undefined,
  description: string,
): Promise<LoadedImage> {
  const indexBytes = await files.read('index.json');
  if (indexBytes === undefined) {
    throw new RegistryPushError(
      'SOURCE_INVALID',
      `${files.label} is not an OCI layout: it has no index.json.`,
      {
        hint: 'Point at the directory the build wrote (it holds oci-layout, index.json and blobs/).',
      },
    );
  }
  const descriptor = pickDescriptor(parseJson<ManifestDocument>(indexBytes, files.label), ref, files.label);
  const root = await readManifest(files, descriptor);
  const image: LoadedImage = { root, children: [], blobs: new Map(), description };
  if (isIndexMediaType(root.mediaType)) {
    const document = parseJson<ManifestDocument>(root.bytes, files.label);
    for (const child of document.manifests ?? []) {
      const manifest = await readManifest(files, child);
      if (isIndexMediaType(manifest.mediaType))
        throw invalid(files.label, 'it nests an index inside an index');
      image.children.push(manifest);
      addImageBlobs(image, files, manifest);
    }
  } else {
    addImageBlobs(image, files, root);
  }
  return image;
}

interface DockerSaveEntry {
  Config?: unknown;
  RepoTags?: unknown;
  Layers?: unknown;
}

function repoTags(entry: DockerSaveEntry): string[] {
  return Array.isArray(entry.RepoTags)
    ? entry.RepoTags.filter((t): t is string => typeof t === 'string')
    : [];
}

/** The manifest.json entry for `ref` (matched against its RepoTags), or the only one. */
function pickDockerEntry(
  entries: DockerSaveEntry[],
  ref: string | undefined,
  file: string,
): DockerSaveEntry & { Config: string; Layers: unknown[] } {
  const matches = (tag: string): boolean => tag === ref || tag.endsWith(`:${ref}`) || tag.endsWith(`/${ref}`);
  const entry =
    ref === undefined
      ? entries.length === 1
        ? entries[0]
        : undefined
      : entries.find((candidate) => repoTags(candidate).some(matches));
  if (entry === undefined || typeof entry.Config !== 'string' || !Array.isArray(entry.Layers)) {
    throw new RegistryPushError(
      'SOURCE_NOT_FOUND',
      `${file} has ${ref === undefined ? `${entries.length} images` : `no image "${ref}"`}.`,
      {
        hint: `Say which one with :REF (it has ${entries.flatMap(repoTags).join(', ') || 'untagged images'}).`,
      },
    );
  }
  return entry as DockerSaveEntry & { Config: string; Layers: unknown[] };
}

/**
 * The layers of a docker archive. They are stored uncompressed, so each layer's digest is its diff_id; the
 * streaming check during upload proves it.
 */
async function dockerLayers(
  file: string,
  members: Map<string, TarMember>,
  names: unknown[],
  diffIds: unknown[],
  blobs: LoadedImage['blobs'],
): Promise<Descriptor[]> {
  const layers: Descriptor[] = [];
  for (const [i, name] of names.entries()) {
    const member = typeof name === 'string' ? members.get(name) : undefined;
    const diffId = diffIds[i];
    if (member === undefined || typeof diffId !== 'string')
      throw invalid(file, `layer ${String(name)} is missing`);
    const head = await readTarHead(file, member, 2);
    if (head[0] === 0x1f && head[1] === 0x8b) {
      throw invalid(file, `layer ${member.name} is compressed, which docker save and podman save never do`);
    }
    parseDigest(diffId);
    layers.push({ mediaType: MediaTypes.ociLayer, digest: diffId, size: member.size });
    if (!blobs.has(diffId)) {
      blobs.set(diffId, {
        size: member.size,
        mediaType: MediaTypes.ociLayer,
        source: memberSource(file, member),
      });
    }
  }
  return layers;
}

async function loadDockerArchive(file: string, ref: string | undefined): Promise<LoadedImage> {
  const { members, files } = await archiveFiles(file);
  const manifestBytes = await files.read('manifest.json');
  if (manifestBytes === undefined) {
    throw new RegistryPushError(
      'SOURCE_INVALID',
      `${file} is not a docker-archive: it has no manifest.json.`,
      {
        hint: 'Write it with docker save or podman save --format docker-archive.',
      },
    );
  }
  const entry = pickDockerEntry(parseJson<DockerSaveEntry[]>(manifestBytes, file), ref, file);
  const configMember = members.get(entry.Config);
  const configBytes = await files.read(entry.Config);
  if (configMember === undefined || configBytes === undefined)
    throw invalid(file, `its config ${entry.Config} is missing`);
  const config = parseJson<{ rootfs?: { diff_ids?: unknown } }>(configBytes, file);
  const diffIds = Array.isArray(config.rootfs?.diff_ids) ? (config.rootfs.diff_ids as unknown[]) : [];
  if (diffIds.length !== entry.Layers.length)
    throw invalid(file, 'its config and manifest.json disagree on the layers');
  const blobs: LoadedImage['blobs'] = new Map();
  const configDigest = sha256Digest(configBytes);
  blobs.set(configDigest, {
    size: configBytes.length,
    mediaType: MediaTypes.ociConfig,
    source: memberSource(file, configMember),
  });
  const layers = await dockerLayers(file, members, entry.Layers, diffIds, blobs);
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: configDigest, size: configBytes.length },
    layers,
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  return {
    root: { digest: sha256Digest(bytes), mediaType: MediaTypes.ociManifest, bytes },
    children: [],
    blobs,
    description: `docker-archive ${file}${ref === undefined ? '' : ` (${ref})`}`,
  };
}

/** Read an image from an OCI layout, an OCI archive or a docker archive, without copying its layers. */
export async function loadImage(source: SourceReference): Promise<LoadedImage> {
  if (TOOL_ONLY_TRANSPORTS.includes(source.transport)) {
    throw new RegistryPushError(
      'OPTION_INVALID',
      `${source.transport}: sources are read by a tool, not natively.`,
      {
        hint: 'Use push-tool skopeo, podman, buildah or docker for images in a local container store.',
      },
    );
  }
  if (!existsSync(source.path)) {
    throw new RegistryPushError('SOURCE_NOT_FOUND', `The source ${source.path} does not exist.`, {
      hint: 'Check the path the build wrote to (relative paths are taken from the working directory).',
    });
  }
  try {
    return await loadExisting(source);
  } catch (error) {
    throw unreadable(source.path, error);
  }
}

/** A file of the source that cannot be read (no permission, a directory where a file belongs, I/O). */
function unreadable(path: string, error: unknown): unknown {
  const code = systemErrorCode(error);
  if (error instanceof RegistryPushError || code === undefined) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new RegistryPushError('SOURCE_INVALID', `Could not read the source ${path}: ${reason}.`, {
    hint:
      code === 'EACCES' || code === 'EPERM'
        ? 'Give the user running the push read access to the build output, then push again.'
        : 'Check that the build wrote a complete OCI layout or archive there.',
    cause: error,
    details: { source: path, reason: code },
  });
}

async function loadExisting(source: SourceReference): Promise<LoadedImage> {
  const ref = source.ref;
  if (source.transport !== 'oci' && statSync(source.path).isDirectory()) {
    // Reading a directory as a tar fails with a bare EISDIR; say which notation fits a directory.
    const layout = existsSync(join(source.path, 'index.json'));
    throw new RegistryPushError(
      'SOURCE_INVALID',
      `${source.path} is a directory; ${source.transport}: takes an archive file.`,
      {
        hint: layout
          ? `It holds an OCI layout: push it as oci:${source.path}.`
          : `For a directory holding an OCI layout write oci:${source.path}; for ${source.transport}: give the tar file itself.`,
        details: { source: source.path },
      },
    );
  }
  if (source.transport === 'oci') {
    if (!statSync(source.path).isDirectory()) {
      throw new RegistryPushError(
        'SOURCE_INVALID',
        `${source.path} is a file; oci: takes a layout directory.`,
        {
          hint: 'For a tar of a layout, write oci-archive:FILE.',
        },
      );
    }
    return loadLayout(
      directoryLayout(source.path),
      ref,
      `oci ${source.path}${ref === undefined ? '' : `:${ref}`}`,
    );
  }
  if (source.transport === 'oci-archive') {
    const { files } = await archiveFiles(source.path);
    return loadLayout(files, ref, `oci-archive ${source.path}${ref === undefined ? '' : `:${ref}`}`);
  }
  return loadDockerArchive(source.path, ref);
}
