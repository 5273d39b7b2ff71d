/**
 * Sharing of equal values while a snapshot is read. A parsed API response holds its own copy of every string:
 * the digest of a base layer used by ten thousand images arrives ten thousand times, and an image digest
 * once in its Image and again in every history item and pull spec naming it. Interning keeps one string (and
 * one blob record) per value, so the snapshot's size follows the number of distinct digests, not the number
 * of times they are mentioned. The values are unchanged: only their identity is shared.
 */
import type { SnapshotBlob } from './types.js';

/** A frozen empty list, shared by every image without children (a manifest has no child manifests). */
const NO_DIGESTS: readonly string[] = Object.freeze([]);

/**
 * Keeps one copy of each string and each `{digest, size}` blob record it is given. One map holds both (a
 * digest's entry becomes its blob record once it is seen as a blob), since a snapshot of 100k images has
 * about 600k distinct digests and the map is most of what reading costs beyond the snapshot itself.
 */
export class Interner {
  private readonly values = new Map<string, string | SnapshotBlob>();

  /** Distinct strings held (for tests and diagnostics). */
  get size(): number {
    return this.values.size;
  }

  /**
   * The shared copy of a string.
   *
   * @param value Any string.
   * @returns An equal string, the same one for every equal value.
   */
  string(value: string): string {
    const known = this.values.get(value);
    if (known === undefined) {
      this.values.set(value, value);
      return value;
    }
    return typeof known === 'string' ? known : known.digest;
  }

  /**
   * The shared copy of a piece cut out of a longer string (a repository out of a pull spec). The first copy
   * is made afresh, so the longer string it came from is not kept alive through it.
   *
   * @param value A string, typically from `slice`.
   * @returns An equal string, the same one for every equal value.
   */
  part(value: string): string {
    const known = this.values.get(value);
    if (known !== undefined) return typeof known === 'string' ? known : known.digest;
    const copy = JSON.parse(JSON.stringify(value)) as string;
    this.values.set(copy, copy);
    return copy;
  }

  /**
   * A blob record, shared by every image that lists the same digest with the same size. Records are frozen,
   * since one change would show in every image that shares it.
   *
   * @param digest The blob digest.
   * @param size Its size in bytes.
   * @returns An equal `{digest, size}` record.
   */
  blob(digest: string, size: number): SnapshotBlob {
    const known = this.values.get(digest);
    if (known !== undefined && typeof known !== 'string') {
      // The first size seen stays shared; a digest listed with another size (a broken Image) gets its own.
      return known.size === size ? known : Object.freeze({ digest: known.digest, size });
    }
    const blob: SnapshotBlob = Object.freeze({ digest: known ?? digest, size });
    this.values.set(blob.digest, blob);
    return blob;
  }

  /** An empty digest list, the same frozen one every time. */
  noDigests(): string[] {
    return NO_DIGESTS as string[];
  }

  /**
   * A pull spec `<repository>@<digest>` built from a shared repository part and the shared digest, so the
   * many references into one repository cost one small node each instead of a full copy of the text.
   *
   * @param reference The pull spec as read.
   * @param digest The digest it should end with.
   * @returns An equal string.
   */
  reference(reference: string, digest: string): string {
    const at = reference.length - digest.length - 1;
    if (at <= 0 || reference.charCodeAt(at) !== 64 /* @ */ || !reference.endsWith(digest)) return reference;
    return this.part(reference.slice(0, at + 1)) + this.string(digest);
  }
}

/** What the conversions of `image-objects.ts` ask of an {@link Interner}. */
export type Interning = Pick<Interner, 'string' | 'part' | 'blob' | 'reference' | 'noDigests'>;

/** Interns nothing: what the conversions use when called for a single object. */
export const NO_INTERNING: Interning = {
  string: (value) => value,
  part: (value) => value,
  blob: (digest, size) => ({ digest, size }),
  reference: (reference) => reference,
  noDigests: () => [],
};
