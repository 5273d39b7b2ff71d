import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { RegistryPushError } from '../errors.js';

/** The digest algorithms a registry accepts, by their name in a digest string. */
const ALGORITHMS: Readonly<Record<string, { node: string; hexLength: number }>> = {
  sha256: { node: 'sha256', hexLength: 64 },
  sha512: { node: 'sha512', hexLength: 128 },
};

/** Split and validate `algorithm:hex`; only sha256 and sha512 are accepted, as by the OCI spec. */
export function parseDigest(digest: string): { algorithm: string; hex: string } {
  const colon = digest.indexOf(':');
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  const known = ALGORITHMS[algorithm];
  if (colon < 0 || known === undefined || hex.length !== known.hexLength || !/^[0-9a-f]+$/.test(hex)) {
    throw new RegistryPushError('REGISTRY_DIGEST_INVALID', `"${digest}" is not a sha256 or sha512 digest.`, {
      hint: 'A digest is sha256: followed by 64 lowercase hex digits.',
    });
  }
  return { algorithm, hex };
}

/** A hash for the algorithm of `digest`. */
export function hashFor(digest: string): Hash {
  const { algorithm } = parseDigest(digest);
  return createHash(ALGORITHMS[algorithm]?.node ?? 'sha256');
}

/** The sha256 digest of some bytes. */
export function sha256Digest(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/**
 * A pass-through stream that hashes and counts what flows through it and fails, before its last byte
 * leaves, when the content is not `expectedDigest` of `expectedSize` bytes. Uploading through it means a
 * corrupt file aborts the upload: the registry never commits the blob and no manifest is written.
 */
export class VerifyingStream extends Transform {
  private readonly hash: Hash;
  private bytes = 0;
  private held: Buffer | undefined;

  constructor(
    private readonly expectedDigest: string,
    private readonly expectedSize: number | undefined,
    private readonly source: string,
    private readonly onBytes?: (total: number) => void,
  ) {
    super();
    this.hash = hashFor(expectedDigest);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    if (this.expectedSize !== undefined && this.bytes > this.expectedSize) {
      callback(this.mismatch(`more than the ${this.expectedSize} bytes its descriptor declares`));
      return;
    }
    this.onBytes?.(this.bytes);
    // Hold back the latest chunk so that a mismatch found at the end still stops the last bytes.
    const previous = this.held;
    this.held = chunk;
    callback(null, previous);
  }

  override _flush(callback: TransformCallback): void {
    if (this.expectedSize !== undefined && this.bytes !== this.expectedSize) {
      callback(this.mismatch(`${this.bytes} bytes where its descriptor declares ${this.expectedSize}`));
      return;
    }
    const actual = `${this.expectedDigest.slice(0, this.expectedDigest.indexOf(':'))}:${this.hash.digest('hex')}`;
    if (actual !== this.expectedDigest) {
      callback(this.mismatch(`content with digest ${actual}`));
      return;
    }
    callback(null, this.held);
  }

  private mismatch(what: string): RegistryPushError {
    return new RegistryPushError(
      'BLOB_CORRUPT',
      `The blob ${this.expectedDigest} in ${this.source} is corrupt: it has ${what}. Nothing was pushed for it and no tag was written.`,
      {
        hint: 'Rebuild or re-export the image; the file changed after its manifest was written.',
        details: { digest: this.expectedDigest, source: this.source },
      },
    );
  }
}
