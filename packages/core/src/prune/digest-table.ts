/**
 * Numbers for digests, each digest held once. A live view of 100k Images knows about 600k distinct digests;
 * as JavaScript strings in a Map they cost about 120 bytes each (the 71-character string and the entry). A
 * `sha256:` digest here costs its 32 bytes plus a slot of an open-addressing table, and everything else the
 * view keeps per digest can be a typed array indexed by its number. Any other string (another algorithm, an
 * upper-case or malformed digest that an Image may still name) gets a number too, from a plain map.
 */

const PREFIX = 'sha256:';
const HEX_LENGTH = 64;
const BYTES = 32;
/** Linear probing stays short up to about this load. */
const MAX_LOAD = 0.7;

/** Hex digit values by character code (lower case only: the canonical form); -1 for anything else. */
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX_VALUE[48 + i] = i;
for (let i = 0; i < 6; i++) HEX_VALUE[97 + i] = 10 + i;

/** Every digest seen, numbered 0, 1, 2, … in the order first seen. Numbers are never reused. */
export class DigestTable {
  /** The 32 bytes of the sha256 digest numbered `n` at `n * 32` (unused for other strings). */
  #bytes = new Uint8Array(BYTES * 1024);
  /** Open addressing over sha256 digests: the number of the digest there, or -1. At most 70% full. */
  #slots = new Int32Array(2048).fill(-1);
  #sha256Count = 0;
  #count = 0;
  readonly #otherIds = new Map<string, number>();
  readonly #otherStrings = new Map<number, string>();
  readonly #scratch = new Uint8Array(BYTES);

  /** Digests numbered so far (the next number given out). */
  get size(): number {
    return this.#count;
  }

  /** The number of a digest, or -1 when it was never added. */
  find(digest: string): number {
    if (!this.#decode(digest)) return this.#otherIds.get(digest) ?? -1;
    return this.#slots[this.#slotOf(this.#scratch)]!;
  }

  /** The number of a digest, given a new one when it is new. */
  add(digest: string): number {
    if (!this.#decode(digest)) {
      const known = this.#otherIds.get(digest);
      if (known !== undefined) return known;
      const id = this.#count++;
      this.#otherIds.set(digest, id);
      this.#otherStrings.set(id, digest);
      return id;
    }
    const slot = this.#slotOf(this.#scratch);
    const known = this.#slots[slot]!;
    if (known >= 0) return known;
    const id = this.#count++;
    this.#reserve(id);
    this.#bytes.set(this.#scratch, id * BYTES);
    this.#slots[slot] = id;
    this.#sha256Count += 1;
    if (this.#sha256Count > this.#slots.length * MAX_LOAD) this.#rehash(this.#slots.length * 2);
    return id;
  }

  /** The digest numbered `id`, as it was added. */
  digest(id: number): string {
    const other = this.#otherStrings.get(id);
    if (other !== undefined) return other;
    if (!Number.isInteger(id) || id < 0 || id >= this.#count)
      throw new RangeError(`no digest numbered ${id}`);
    const at = id * BYTES;
    return PREFIX + Buffer.from(this.#bytes.buffer, this.#bytes.byteOffset + at, BYTES).toString('hex');
  }

  /** Puts the bytes of a canonical sha256 digest in the scratch buffer; false for any other string. */
  #decode(digest: string): boolean {
    if (digest.length !== PREFIX.length + HEX_LENGTH || !digest.startsWith(PREFIX)) return false;
    for (let i = 0; i < BYTES; i++) {
      const high = digest.charCodeAt(PREFIX.length + 2 * i);
      const low = digest.charCodeAt(PREFIX.length + 2 * i + 1);
      const highValue = high < 128 ? HEX_VALUE[high]! : -1;
      const lowValue = low < 128 ? HEX_VALUE[low]! : -1;
      if (highValue < 0 || lowValue < 0) return false;
      this.#scratch[i] = (highValue << 4) | lowValue;
    }
    return true;
  }

  /** The slot holding `bytes`, or the empty slot where they would go. */
  #slotOf(bytes: Uint8Array, slots = this.#slots): number {
    const mask = slots.length - 1;
    // Digests are uniform already; mixing two words still keeps hand-made Image names from piling up.
    let hash =
      Math.imul(bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24), 0x9e3779b1) ^
      (bytes[4]! | (bytes[5]! << 8) | (bytes[6]! << 16) | (bytes[7]! << 24));
    hash = Math.imul(hash ^ (hash >>> 15), 0x85ebca6b);
    for (let slot = (hash ^ (hash >>> 13)) & mask; ; slot = (slot + 1) & mask) {
      const id = slots[slot]!;
      if (id < 0 || this.#equals(id, bytes)) return slot;
    }
  }

  #equals(id: number, bytes: Uint8Array): boolean {
    const at = id * BYTES;
    for (let i = 0; i < BYTES; i++) if (this.#bytes[at + i] !== bytes[i]) return false;
    return true;
  }

  #reserve(id: number): void {
    if ((id + 1) * BYTES <= this.#bytes.length) return;
    // Half again, not double: at 600k digests doubling leaves up to 19 MB unused.
    const grown = new Uint8Array(
      Math.max(Math.ceil((this.#bytes.length * 1.5) / BYTES) * BYTES, (id + 1) * BYTES),
    );
    grown.set(this.#bytes);
    this.#bytes = grown;
  }

  #rehash(length: number): void {
    const slots = new Int32Array(length).fill(-1);
    for (const id of this.#slots) {
      if (id < 0) continue;
      const bytes = this.#bytes.subarray(id * BYTES, id * BYTES + BYTES);
      slots[this.#slotOf(bytes, slots)] = id;
    }
    this.#slots = slots;
  }
}
