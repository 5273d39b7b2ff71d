import { randomBytes } from 'node:crypto';
import { createWriteStream, rmSync } from 'node:fs';
import { readFile, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RegistryPushError } from '../errors.js';
import { makeDirectories } from '../make-directories.js';
import { parseDigest, VerifyingStream } from '../registry/digest.js';
import { MediaTypes, type Descriptor } from '../registry/media-types.js';
import { holdTemporary, releaseTemporary } from '../temporary-files.js';

/** The annotation an OCI layout's index uses to name an image (what `oci:DIR:REF` selects). */
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

const LAYOUT_FILE = 'oci-layout';
const LAYOUT_VERSION = '1.0.0';

/**
 * What a pull wrote into a layout and has not finished: removed when the pull fails or is cancelled
 * (SIGINT/SIGTERM reach it through the held temporaries), forgotten when it succeeds. A layout the pull
 * created goes whole; in a layout that was there, only the files this pull added.
 */
export class LayoutJournal {
  private readonly paths = new Set<string>();

  add(path: string): void {
    this.paths.add(path);
    holdTemporary(path);
  }

  forget(path: string): void {
    this.paths.delete(path);
    releaseTemporary(path);
  }

  /** Remove what is recorded, synchronously, newest first; returns what was removed. */
  undo(): string[] {
    const removed: string[] = [];
    for (const path of [...this.paths].reverse()) {
      try {
        rmSync(path, { recursive: true, force: true });
        removed.push(path);
      } catch {
        // Keep going: the rest matters more than reporting this one.
      }
      this.forget(path);
    }
    return removed;
  }

  /** The pull succeeded: keep everything. */
  commit(): void {
    for (const path of [...this.paths]) this.forget(path);
  }
}

/** An OCI image layout directory being written. */
export interface Layout {
  dir: string;
  journal: LayoutJournal;
  /** Whether this pull created the layout (then a failure removes the directory). */
  created: boolean;
}

function notALayout(dir: string, why: string): RegistryPushError {
  return new RegistryPushError('OPTION_INVALID', `${dir} is not an OCI image layout: ${why}.`, {
    hint: 'Pull into a new or empty directory, or into a layout written by skopeo, buildah or registry-push.',
    details: { layout: dir },
  });
}

/**
 * Open `dir` as an OCI layout to add an image to: an existing layout is kept (its other images stay), an
 * empty or missing directory becomes a new one. Anything else is refused before a byte is written.
 */
export async function openLayout(dir: string, journal: LayoutJournal): Promise<Layout> {
  const existing = await stat(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (existing !== undefined && !existing.isDirectory()) throw notALayout(dir, 'it is a file');
  const entries = existing === undefined ? [] : await readdir(dir);
  if (entries.includes(LAYOUT_FILE)) {
    const text = await readFile(join(dir, LAYOUT_FILE), 'utf8');
    let version: unknown;
    try {
      version = (JSON.parse(text) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    } catch {
      throw notALayout(dir, `its ${LAYOUT_FILE} file is not JSON`);
    }
    if (typeof version !== 'string' || !version.startsWith('1.')) {
      throw notALayout(dir, `its ${LAYOUT_FILE} has version ${String(version)}`);
    }
    return { dir, journal, created: false };
  }
  if (entries.length > 0) throw notALayout(dir, `it has files but no ${LAYOUT_FILE}`);
  const made = await makeDirectories(dir);
  // The outermost directory made holds the rest; an empty directory that was there gets its files listed.
  const root = made[0];
  if (root !== undefined) journal.add(root);
  const layoutFile = join(dir, LAYOUT_FILE);
  if (root === undefined) journal.add(layoutFile);
  await writeFile(layoutFile, `${JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION })}`, { flag: 'wx' });
  return { dir, journal, created: root !== undefined };
}

function blobPath(layout: Layout, digest: string): { dir: string; file: string } {
  const { algorithm, hex } = parseDigest(digest);
  const dir = join(layout.dir, 'blobs', algorithm);
  return { dir, file: join(dir, hex) };
}

/** Directories a new layout needs under `blobs/`, recorded when this pull makes them. */
async function blobDirectory(layout: Layout, dir: string): Promise<void> {
  const made = await makeDirectories(dir);
  if (!layout.created && made[0] !== undefined) layout.journal.add(made[0]);
}

/**
 * Store one blob: skipped when the layout has it with the right size, else streamed into a temporary file
 * next to its place through a digest and size check, and renamed into place only when both match (a
 * corrupt or cut-off download never sits under a digest name). `open` is called for each attempt.
 */
export async function writeLayoutBlob(
  layout: Layout,
  descriptor: Pick<Descriptor, 'digest' | 'size'>,
  label: string,
  open: () => Promise<Readable>,
  onBytes?: (written: number) => void,
): Promise<'exists' | 'written'> {
  const { dir, file } = blobPath(layout, descriptor.digest);
  const present = await stat(file).catch(() => undefined);
  if (present?.isFile() === true && present.size === descriptor.size) return 'exists';
  await blobDirectory(layout, dir);
  const temporary = join(
    dir,
    `.${parseDigest(descriptor.digest).hex}.${randomBytes(4).toString('hex')}.part`,
  );
  if (!layout.created) layout.journal.add(temporary);
  try {
    const input = await open();
    const verifier = new VerifyingStream(descriptor.digest, descriptor.size, label, onBytes);
    await pipeline(input, verifier, createWriteStream(temporary, { flags: 'wx', mode: 0o644 }));
    await rename(temporary, file);
  } catch (error) {
    rmSync(temporary, { force: true });
    if (!layout.created) layout.journal.forget(temporary);
    throw error;
  }
  if (!layout.created) {
    layout.journal.forget(temporary);
    layout.journal.add(file);
  }
  return 'written';
}

interface LayoutIndex {
  schemaVersion?: number;
  mediaType?: string;
  manifests?: Descriptor[];
  [key: string]: unknown;
}

/**
 * Name `entry` in the layout's `index.json`: an image that had the same ref name loses it (the new one
 * takes the tag, the old one's blobs stay), other images stay. Written to a temporary file and renamed,
 * so a reader sees the old index or the new one, never half of one.
 */
export async function addToIndex(
  layout: Layout,
  entry: Pick<Descriptor, 'mediaType' | 'digest' | 'size'>,
  ref: string | undefined,
): Promise<void> {
  const path = join(layout.dir, 'index.json');
  let index: LayoutIndex = { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] };
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (text !== undefined) {
    try {
      index = JSON.parse(text) as LayoutIndex;
    } catch {
      throw notALayout(layout.dir, 'its index.json is not JSON');
    }
  }
  const kept = (index.manifests ?? []).filter((descriptor) => {
    const name = descriptor.annotations?.[REF_NAME_ANNOTATION];
    return ref === undefined ? name !== undefined || descriptor.digest !== entry.digest : name !== ref;
  });
  const added: Descriptor = {
    mediaType: entry.mediaType,
    digest: entry.digest,
    size: entry.size,
    ...(ref === undefined ? {} : { annotations: { [REF_NAME_ANNOTATION]: ref } }),
  };
  const next: LayoutIndex = { ...index, schemaVersion: 2, manifests: [...kept, added] };
  const temporary = `${path}.${randomBytes(4).toString('hex')}.part`;
  layout.journal.add(temporary);
  if (layout.created || text === undefined) layout.journal.add(path);
  await writeFile(temporary, JSON.stringify(next), { flag: 'wx', mode: 0o644 });
  await rename(temporary, path);
  layout.journal.forget(temporary);
}
