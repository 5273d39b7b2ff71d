// What a repository of the integrated registry can serve, read from its ImageStream and the Images it
// references, as the real registry decides it: a manifest is served when the stream's history (or a
// manifest list there) names it and its Image exists; a blob without a repository link is served when one
// of those Images references it (the stream's `imagestreams/layers` view). Reads never copy the objects.
import type { ReadonlyJsonObject, ReadonlyJsonValue } from '../json.js';
import type { ObjectStore } from '../api/store.js';

const STREAMS = 'imagestreams.image.openshift.io';
const IMAGES = 'images.image.openshift.io';

/** The digests of empty tar layers, which the real registry serves to any repository. */
const EMPTY_LAYERS = new Set([
  'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  'sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4',
]);

function isObject(value: ReadonlyJsonValue | undefined): value is ReadonlyJsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objectsAt(value: ReadonlyJsonObject | undefined, key: string): ReadonlyJsonObject[] {
  const list = value?.[key];
  return Array.isArray(list) ? (list as readonly ReadonlyJsonValue[]).filter(isObject) : [];
}

function textAt(value: ReadonlyJsonObject | undefined, key: string): string | undefined {
  const text = value?.[key];
  return typeof text === 'string' && text !== '' ? text : undefined;
}

/** One repository's view of its ImageStream. */
export class StreamView {
  private readonly stream: ReadonlyJsonObject | undefined;

  constructor(
    private readonly store: ObjectStore,
    namespace: string,
    name: string,
  ) {
    this.stream = store.peek(STREAMS, namespace, name);
  }

  /** Whether the ImageStream exists. */
  exists(): boolean {
    return this.stream !== undefined;
  }

  private statusTags(): ReadonlyJsonObject[] {
    const status = this.stream?.['status'];
    return objectsAt(isObject(status) ? status : undefined, 'tags');
  }

  /** Every image of the stream's history, newest first per tag. */
  private historyImages(): Set<string> {
    const digests = new Set<string>();
    for (const entry of this.statusTags()) {
      for (const item of objectsAt(entry, 'items')) {
        const image = textAt(item, 'image');
        if (image !== undefined) digests.add(image);
      }
    }
    return digests;
  }

  private image(digest: string): ReadonlyJsonObject | undefined {
    return this.store.peek(IMAGES, '', digest);
  }

  /** The tags with their newest image (`status.tags[].items[0]`), sorted by name. */
  tags(): Map<string, string> {
    const tags = new Map<string, string>();
    for (const entry of this.statusTags()) {
      const tag = textAt(entry, 'tag');
      const newest = textAt(objectsAt(entry, 'items')[0], 'image');
      if (tag !== undefined && newest !== undefined) tags.set(tag, newest);
    }
    return new Map([...tags.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /**
   * The Images the stream references: those of its history whose Image exists, and the children of the
   * manifest lists among them (a child is found only through its list, as the layers API finds it).
   */
  private referencedImages(): Map<string, ReadonlyJsonObject> {
    const images = new Map<string, ReadonlyJsonObject>();
    for (const digest of this.historyImages()) {
      const image = this.image(digest);
      if (image === undefined) continue;
      images.set(digest, image);
      for (const child of objectsAt(image, 'dockerImageManifests')) {
        const childDigest = textAt(child, 'digest');
        const childImage = childDigest !== undefined ? this.image(childDigest) : undefined;
        if (childDigest !== undefined && childImage !== undefined) images.set(childDigest, childImage);
      }
    }
    return images;
  }

  /**
   * The Image of a manifest the repository serves: in the stream's history (or a child of a list there)
   * and existing as an Image object; undefined otherwise (the registry's 404 MANIFEST_UNKNOWN).
   */
  imageOf(digest: string): ReadonlyJsonObject | undefined {
    if (this.historyImages().has(digest)) return this.image(digest);
    return this.referencedImages().get(digest);
  }

  /** Whether an Image the stream references uses the blob (layer, config or manifest), or it is empty. */
  references(digest: string): boolean {
    if (EMPTY_LAYERS.has(digest)) return true;
    for (const [name, image] of this.referencedImages()) {
      if (name === digest) return true;
      if (objectsAt(image, 'dockerImageLayers').some((layer) => textAt(layer, 'name') === digest))
        return true;
      const metadata = image['dockerImageMetadata'];
      if (isObject(metadata) && textAt(metadata, 'Id') === digest) return true;
    }
    return false;
  }
}
