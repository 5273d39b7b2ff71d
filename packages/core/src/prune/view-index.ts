/**
 * The cluster as the executor's delete decisions need it, indexed: every Image (as its snapshot form) and
 * every stream's history, with the answers "which Images reference this blob or manifest", "is this image in
 * any history" and "what does this repository's history still need" as lookups. Pure: fed object by object
 * (from a list, or from watch events), it makes no call. Digests are interned, so a base layer shared by ten
 * thousand images is one string.
 */
import { Interner } from './intern.js';
import { blobsOf, toSnapshotImage, type ImageObject, type ImageStreamObject } from './objects.js';
import type { SnapshotImage } from './types.js';

/** What a repository's current history holds in it: manifests (with list children) and blobs. */
export interface RepositoryNeeds {
  manifests: Set<string>;
  blobs: Set<string>;
  /** Parts of the history's Images that could not be read: any link of that kind could be needed. */
  unknown: Set<string>;
  /**
   * Digests the history names (or lists among them name) with no Image in the index: deleted, or created
   * after the Images the index has seen.
   */
  missing: Set<string>;
}

/** One stream as the index keeps it. */
interface StreamEntry {
  uid: string;
  /** Image digests of every history item, in order (repeats kept: they are counted). */
  history: string[];
}

/** A digest's referrers: one digest, or several (most blobs have one user; the array is made on the second). */
type Referrers = string | string[];

function add(map: Map<string, Referrers>, key: string, value: string): void {
  const known = map.get(key);
  if (known === undefined) map.set(key, value);
  else if (typeof known === 'string') {
    if (known !== value) map.set(key, [known, value]);
  } else if (!known.includes(value)) known.push(value);
}

function remove(map: Map<string, Referrers>, key: string, value: string): void {
  const known = map.get(key);
  if (known === undefined) return;
  if (typeof known === 'string') {
    if (known === value) map.delete(key);
    return;
  }
  const at = known.indexOf(value);
  if (at >= 0) known.splice(at, 1);
  if (known.length === 1) map.set(key, known[0]!);
  else if (known.length === 0) map.delete(key);
}

const asList = (referrers: Referrers | undefined): readonly string[] =>
  referrers === undefined ? [] : typeof referrers === 'string' ? [referrers] : referrers;

const streamKey = (namespace: string, name: string): string => `${namespace}/${name}`;

/** Every Image and stream history, indexed for delete decisions. */
export class ViewIndex {
  readonly #intern = new Interner();
  readonly #images = new Map<string, SnapshotImage>();
  /** Blob, config or child manifest digest → the Images that reference it (an Image itself is not listed). */
  readonly #referrers = new Map<string, Referrers>();
  /** Image digest → how many history items name it, over all streams. */
  readonly #historyCount = new Map<string, number>();
  readonly #streams = new Map<string, StreamEntry>();
  /** Images whose layers (config) could not be read: any layer (config) blob could be theirs. */
  readonly #unknownLayers = new Set<string>();
  readonly #unknownConfig = new Set<string>();

  constructor(private readonly protectAnnotation: string) {}

  /** Images in the index. */
  get imageCount(): number {
    return this.#images.size;
  }

  /** Streams in the index. */
  get streamCount(): number {
    return this.#streams.size;
  }

  /** Adds or replaces an Image. */
  putImage(object: ImageObject): void {
    const image = toSnapshotImage(object, this.protectAnnotation, this.#intern);
    this.removeImage(image.digest);
    this.#images.set(image.digest, image);
    for (const part of this.#parts(image)) add(this.#referrers, part, image.digest);
    if (image.unknown?.includes('layers') === true) this.#unknownLayers.add(image.digest);
    if (image.unknown?.includes('config') === true) this.#unknownConfig.add(image.digest);
  }

  /** Forgets an Image. */
  removeImage(digest: string): void {
    const image = this.#images.get(digest);
    if (image === undefined) return;
    this.#images.delete(digest);
    for (const part of this.#parts(image)) remove(this.#referrers, part, digest);
    this.#unknownLayers.delete(digest);
    this.#unknownConfig.delete(digest);
  }

  /**
   * Adds or replaces a stream.
   *
   * @returns The image digests its history names now and did not name before.
   */
  putStream(stream: ImageStreamObject): string[] {
    const key = streamKey(stream.metadata.namespace ?? '', stream.metadata.name);
    const history = (stream.status?.tags ?? []).flatMap((entry) =>
      (entry.items ?? []).map((item) => this.#intern.string(item.image)),
    );
    const before = this.#streams.get(key);
    this.#count(before?.history ?? [], -1);
    this.#count(history, 1);
    this.#streams.set(key, { uid: stream.metadata.uid ?? '', history });
    const old = new Set(before?.history ?? []);
    return [...new Set(history.filter((digest) => !old.has(digest)))];
  }

  /** Forgets a stream. */
  removeStream(namespace: string, name: string): void {
    const key = streamKey(namespace, name);
    const before = this.#streams.get(key);
    if (before === undefined) return;
    this.#count(before.history, -1);
    this.#streams.delete(key);
  }

  /** The Image, or undefined when there is none. */
  image(digest: string): SnapshotImage | undefined {
    return this.#images.get(digest);
  }

  /** The uid of a stream, or undefined when it does not exist. */
  streamUid(namespace: string, name: string): string | undefined {
    return this.#streams.get(streamKey(namespace, name))?.uid;
  }

  /** Whether a stream's history names the image, directly or as a child of a manifest list it names. */
  inHistory(digest: string): boolean {
    if ((this.#historyCount.get(digest) ?? 0) > 0) return true;
    return this.parentsOf(digest).some((parent) => (this.#historyCount.get(parent) ?? 0) > 0);
  }

  /** Images that reference the digest as a layer, config or child manifest (not the Image of that digest). */
  referrersOf(digest: string): readonly string[] {
    return asList(this.#referrers.get(digest));
  }

  /** Manifest lists that name the image as a child. */
  parentsOf(digest: string): string[] {
    return this.referrersOf(digest).filter((referrer) =>
      this.#images.get(referrer)?.manifests.includes(digest),
    );
  }

  /** Images whose layers (`layers`) or config (`config`) could not be read. */
  unknownHolders(part: 'layers' | 'config'): ReadonlySet<string> {
    return part === 'layers' ? this.#unknownLayers : this.#unknownConfig;
  }

  /**
   * What the repository's current history needs: the manifests it names (and their children) and every
   * blob of those Images. An image the history names without an Image object needs nothing, and is
   * reported in `missing`.
   */
  repositoryNeeds(namespace: string, name: string): RepositoryNeeds {
    const needs: RepositoryNeeds = {
      manifests: new Set(),
      blobs: new Set(),
      unknown: new Set(),
      missing: new Set(),
    };
    const pending = [...(this.#streams.get(streamKey(namespace, name))?.history ?? [])];
    for (let digest = pending.pop(); digest !== undefined; digest = pending.pop()) {
      if (needs.manifests.has(digest)) continue;
      needs.manifests.add(digest);
      const image = this.#images.get(digest);
      if (image === undefined) {
        needs.missing.add(digest);
        continue;
      }
      for (const blob of blobsOf(image)) needs.blobs.add(blob.digest);
      for (const part of image.unknown ?? []) needs.unknown.add(part);
      pending.push(...image.manifests);
    }
    return needs;
  }

  /**
   * Repositories (`namespace/name`) whose current history needs the blob, for restoring a link by mounting
   * it from one of them. A scan of every history: for the rare restore, not for each decision.
   */
  repositoriesNeeding(blob: string): string[] {
    const holders = new Set(this.referrersOf(blob));
    for (const holder of [...holders]) for (const parent of this.parentsOf(holder)) holders.add(parent);
    const found: string[] = [];
    for (const [key, entry] of this.#streams) {
      if (entry.history.some((digest) => holders.has(digest))) found.push(key);
    }
    return found;
  }

  #parts(image: SnapshotImage): string[] {
    return [...blobsOf(image).map((blob) => blob.digest), ...image.manifests];
  }

  #count(history: readonly string[], by: 1 | -1): void {
    for (const digest of history) {
      const next = (this.#historyCount.get(digest) ?? 0) + by;
      if (next <= 0) this.#historyCount.delete(digest);
      else this.#historyCount.set(digest, next);
    }
  }
}
