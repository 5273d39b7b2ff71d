/**
 * The cluster as the executor's delete decisions need it, indexed: every Image (as its snapshot form) and
 * every stream's history, with the answers "which Images reference this blob or manifest", "is this image in
 * any history" and "what does this repository's history still need" as lookups. Pure: fed object by object
 * (from a list, or from watch events), it makes no call.
 *
 * A worker holds it for every Image of the cluster, so it is kept small: each digest is a number from a
 * {@link DigestTable} (32 bytes, not a 71-character string), what is known per digest lives in typed arrays
 * indexed by that number, and an Image keeps its parts as numbers. The snapshot form is rebuilt when asked.
 */
import { DigestTable } from './digest-table.js';
import { blobsOf, toSnapshotImage, type ImageObject, type ImageStreamObject } from './image-objects.js';
import type { SnapshotBlob, SnapshotImage, UnknownPart } from './types.js';

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

/**
 * A repository's current history as a link decision reads it (see {@link ViewIndex.repositoryUse}): valid
 * until the index next changes.
 */
export interface RepositoryUse {
  /** Whether the history names the manifest (or a list there names it as a child). */
  needsManifest(digest: string): boolean;
  /** Whether an Image of the history has the blob as a layer or config. */
  needsBlob(digest: string): boolean;
  /** Parts of the history's Images that could not be read: any link of that kind could be needed. */
  readonly unknown: ReadonlySet<string>;
  /** Whether the history names an image the index has no Image object for. */
  readonly missing: boolean;
}

/** An Image as the index keeps it: its parts as digest numbers, the rest as read. */
interface ImageRecord {
  created: string;
  managed: boolean;
  protected: boolean;
  mediaType: string;
  /** Layer digests, base first. */
  layers: number[];
  /** The config blob's digest, or -1 when it has none. */
  config: number;
  /** Child manifest digests. */
  manifests: number[];
  size: number;
  /**
   * The sizes of the layers then the config, only when one differs from the size first seen for its digest
   * (a broken Image); otherwise those are the sizes.
   */
  sizes?: number[];
  problem?: string;
  unknown?: UnknownPart[];
  /** As in the snapshot form: a referrer's subject, or that one may be hidden (rare; only when set). */
  subject?: string;
  subjectHidden?: true;
}

/** One stream as the index keeps it. */
interface StreamEntry {
  uid: string;
  /** Image digests of every history item, in order (repeats kept: they are counted). */
  history: number[];
}

const NO_NUMBERS: readonly number[] = Object.freeze([]);

const streamKey = (namespace: string, name: string): string => `${namespace}/${name}`;

/** Every Image and stream history, indexed for delete decisions. */
export class ViewIndex {
  readonly #digests = new DigestTable();
  readonly #images = new Map<number, ImageRecord>();
  /**
   * Per digest: the first Image that references it as a blob or child manifest, plus one (0: none); the
   * others are in `#moreReferrers`, oldest first. Most blobs have one user.
   */
  #firstReferrer = new Int32Array(1024);
  readonly #moreReferrers = new Map<number, number[]>();
  /** Per digest: how many history items name it, over all streams. */
  #historyCount = new Int32Array(1024);
  /** Per digest: the blob size first seen for it (-1: none yet). */
  #blobSize = new Float64Array(1024).fill(-1);
  readonly #mediaTypes = new Map<string, string>();
  readonly #streams = new Map<string, StreamEntry>();
  /** Images whose layers (config) could not be read: any layer (config) blob could be theirs. */
  readonly #unknownLayers = new Set<string>();
  readonly #unknownConfig = new Set<string>();
  /** Bumped by every change, so that answers kept in `#uses` are only reused while they are current. */
  #generation = 0;
  readonly #uses = new Map<string, RepositoryUse>();
  #usesGeneration = -1;

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
    this.#generation++;
    const image = toSnapshotImage(object, this.protectAnnotation);
    this.removeImage(image.digest);
    const id = this.#number(image.digest);
    const blobs = blobsOf(image);
    const parts = blobs.map((blob) => this.#number(blob.digest));
    const manifests = image.manifests.map((digest) => this.#number(digest));
    let sizesDiffer = false;
    blobs.forEach((blob, i) => {
      const part = parts[i]!;
      if (this.#blobSize[part]! < 0) this.#blobSize[part] = blob.size;
      else if (this.#blobSize[part] !== blob.size) sizesDiffer = true;
    });
    const record: ImageRecord = {
      created: image.created,
      managed: image.managed,
      protected: image.protected,
      mediaType: this.#mediaType(image.mediaType),
      layers: parts.slice(0, image.layers.length),
      config: image.config === undefined ? -1 : parts[parts.length - 1]!,
      manifests: manifests.length === 0 ? (NO_NUMBERS as number[]) : manifests,
      size: image.size,
    };
    if (sizesDiffer) record.sizes = blobs.map((blob) => blob.size);
    if (image.problem !== undefined) record.problem = image.problem;
    if (image.unknown !== undefined) record.unknown = image.unknown;
    if (image.subject !== undefined) record.subject = image.subject;
    if (image.subjectHidden === true) record.subjectHidden = true;
    this.#images.set(id, record);
    for (const part of this.#parts(record)) this.#addReferrer(part, id);
    if (image.unknown?.includes('layers') === true) this.#unknownLayers.add(image.digest);
    if (image.unknown?.includes('config') === true) this.#unknownConfig.add(image.digest);
  }

  /** Forgets an Image. */
  removeImage(digest: string): void {
    this.#generation++;
    const id = this.#digests.find(digest);
    const record = id < 0 ? undefined : this.#images.get(id);
    if (record === undefined) return;
    this.#images.delete(id);
    for (const part of this.#parts(record)) this.#removeReferrer(part, id);
    this.#unknownLayers.delete(digest);
    this.#unknownConfig.delete(digest);
  }

  /**
   * Adds or replaces a stream.
   *
   * @returns The image digests its history names now and did not name before.
   */
  putStream(stream: ImageStreamObject): string[] {
    this.#generation++;
    const key = streamKey(stream.metadata.namespace ?? '', stream.metadata.name);
    const history = (stream.status?.tags ?? []).flatMap((entry) =>
      (entry.items ?? []).map((item) => this.#number(item.image)),
    );
    const before = this.#streams.get(key);
    this.#count(before?.history ?? NO_NUMBERS, -1);
    this.#count(history, 1);
    this.#streams.set(key, { uid: stream.metadata.uid ?? '', history });
    const old = new Set(before?.history ?? NO_NUMBERS);
    return [...new Set(history.filter((id) => !old.has(id)))].map((id) => this.#digests.digest(id));
  }

  /** Forgets a stream. */
  removeStream(namespace: string, name: string): void {
    this.#generation++;
    const key = streamKey(namespace, name);
    const before = this.#streams.get(key);
    if (before === undefined) return;
    this.#count(before.history, -1);
    this.#streams.delete(key);
  }

  /** The Image (its snapshot form, made for this call), or undefined when there is none. */
  image(digest: string): SnapshotImage | undefined {
    const id = this.#digests.find(digest);
    const record = id < 0 ? undefined : this.#images.get(id);
    if (record === undefined) return undefined;
    const blob = (part: number, i: number): SnapshotBlob => ({
      digest: this.#digests.digest(part),
      size: record.sizes?.[i] ?? this.#blobSize[part]!,
    });
    const layers = record.layers.map(blob);
    const manifests = record.manifests.map((part) => this.#digests.digest(part));
    const { created, managed, mediaType, size } = record;
    const base = { digest: this.#digests.digest(id), created, managed, protected: record.protected };
    const image: SnapshotImage =
      record.config >= 0
        ? { ...base, mediaType, layers, config: blob(record.config, layers.length), manifests, size }
        : { ...base, mediaType, layers, manifests, size };
    if (record.problem !== undefined) image.problem = record.problem;
    if (record.unknown !== undefined) image.unknown = [...record.unknown];
    if (record.subject !== undefined) image.subject = record.subject;
    if (record.subjectHidden === true) image.subjectHidden = true;
    return image;
  }

  /** The uid of a stream, or undefined when it does not exist. */
  streamUid(namespace: string, name: string): string | undefined {
    return this.#streams.get(streamKey(namespace, name))?.uid;
  }

  /** Whether a stream's history names the image, directly or as a child of a manifest list it names. */
  inHistory(digest: string): boolean {
    const id = this.#digests.find(digest);
    if (id < 0) return false;
    if (this.#historyCount[id]! > 0) return true;
    return this.#parentIds(id).some((parent) => this.#historyCount[parent]! > 0);
  }

  /** Images that reference the digest as a layer, config or child manifest (not the Image of that digest). */
  referrersOf(digest: string): readonly string[] {
    const id = this.#digests.find(digest);
    if (id < 0) return [];
    return this.#referrerIds(id).map((referrer) => this.#digests.digest(referrer));
  }

  /** Manifest lists that name the image as a child. */
  parentsOf(digest: string): string[] {
    const id = this.#digests.find(digest);
    if (id < 0) return [];
    return this.#parentIds(id).map((parent) => this.#digests.digest(parent));
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
    const walked = this.#walk(streamKey(namespace, name));
    const digests = (ids: Iterable<number>): Set<string> =>
      new Set([...ids].map((id) => this.#digests.digest(id)));
    return {
      manifests: digests(walked.manifests),
      blobs: digests(walked.blobs),
      unknown: new Set(walked.unknown),
      missing: digests(walked.missing),
    };
  }

  /**
   * {@link repositoryNeeds} as a link decision asks it: one digest at a time, without building the sets of
   * strings. The answer is shared by the decisions that ask before the index next changes (a unit decides
   * its links together, after one catch-up), so a unit's links cost one walk of the history, not one each.
   */
  repositoryUse(namespace: string, name: string): RepositoryUse {
    if (this.#usesGeneration !== this.#generation || this.#uses.size >= 4096) {
      this.#uses.clear();
      this.#usesGeneration = this.#generation;
    }
    const key = streamKey(namespace, name);
    let use = this.#uses.get(key);
    if (use === undefined) {
      const walked = this.#walk(key);
      const table = this.#digests;
      use = {
        needsManifest: (digest) => walked.manifests.has(table.find(digest)),
        needsBlob: (digest) => walked.blobs.has(table.find(digest)),
        unknown: walked.unknown,
        missing: walked.missing.length > 0,
      };
      this.#uses.set(key, use);
    }
    return use;
  }

  #walk(key: string): {
    manifests: Set<number>;
    blobs: Set<number>;
    unknown: Set<string>;
    missing: number[];
  } {
    const manifests = new Set<number>();
    const blobs = new Set<number>();
    const missing: number[] = [];
    const unknown = new Set<string>();
    const pending = [...(this.#streams.get(key)?.history ?? NO_NUMBERS)];
    for (let id = pending.pop(); id !== undefined; id = pending.pop()) {
      if (manifests.has(id)) continue;
      manifests.add(id);
      const record = this.#images.get(id);
      if (record === undefined) {
        missing.push(id);
        continue;
      }
      for (const part of record.layers) blobs.add(part);
      if (record.config >= 0) blobs.add(record.config);
      for (const part of record.unknown ?? []) unknown.add(part);
      pending.push(...record.manifests);
    }
    return { manifests, blobs, unknown, missing };
  }

  /**
   * Repositories (`namespace/name`) whose current history needs the blob, for restoring a link by mounting
   * it from one of them. A scan of every history: for the rare restore, not for each decision.
   */
  repositoriesNeeding(blob: string): string[] {
    const id = this.#digests.find(blob);
    if (id < 0) return [];
    const holders = new Set(this.#referrerIds(id));
    for (const holder of [...holders]) for (const parent of this.#parentIds(holder)) holders.add(parent);
    const found: string[] = [];
    for (const [key, entry] of this.#streams) {
      if (entry.history.some((digest) => holders.has(digest))) found.push(key);
    }
    return found;
  }

  /** The digest's number, with room for it in the per-digest arrays. */
  #number(digest: string): number {
    const id = this.#digests.add(digest);
    if (id >= this.#historyCount.length) {
      const length = Math.max(Math.ceil(this.#historyCount.length * 1.5), id + 1);
      const grow = <A extends Int32Array | Float64Array>(old: A, make: (n: number) => A): A => {
        const grown = make(length);
        grown.set(old);
        return grown;
      };
      this.#firstReferrer = grow(this.#firstReferrer, (n) => new Int32Array(n));
      this.#historyCount = grow(this.#historyCount, (n) => new Int32Array(n));
      const sizes = grow(this.#blobSize, (n) => new Float64Array(n));
      sizes.fill(-1, this.#blobSize.length);
      this.#blobSize = sizes;
    }
    return id;
  }

  #mediaType(value: string): string {
    const known = this.#mediaTypes.get(value);
    if (known !== undefined) return known;
    this.#mediaTypes.set(value, value);
    return value;
  }

  #parts(record: ImageRecord): number[] {
    return [...record.layers, ...(record.config >= 0 ? [record.config] : []), ...record.manifests];
  }

  #referrerIds(id: number): number[] {
    const first = this.#firstReferrer[id]! - 1;
    if (first < 0) return [];
    return [first, ...(this.#moreReferrers.get(id) ?? NO_NUMBERS)];
  }

  #parentIds(id: number): number[] {
    return this.#referrerIds(id).filter(
      (referrer) => this.#images.get(referrer)?.manifests.includes(id) === true,
    );
  }

  #addReferrer(part: number, image: number): void {
    const first = this.#firstReferrer[part]! - 1;
    if (first < 0) {
      this.#firstReferrer[part] = image + 1;
      return;
    }
    if (first === image) return;
    const more = this.#moreReferrers.get(part);
    if (more === undefined) this.#moreReferrers.set(part, [image]);
    else if (!more.includes(image)) more.push(image);
  }

  #removeReferrer(part: number, image: number): void {
    const more = this.#moreReferrers.get(part);
    if (this.#firstReferrer[part]! - 1 === image) {
      // The next oldest takes its place, so the order stays the order of arrival.
      const next = more?.shift();
      this.#firstReferrer[part] = next === undefined ? 0 : next + 1;
    } else if (more !== undefined) {
      const at = more.indexOf(image);
      if (at >= 0) more.splice(at, 1);
    }
    if (more?.length === 0) this.#moreReferrers.delete(part);
  }

  #count(history: readonly number[], by: 1 | -1): void {
    for (const id of history) this.#historyCount[id] = Math.max(0, this.#historyCount[id]! + by);
  }
}
