import { createHash, type Hash } from 'node:crypto';
import { Transform, Writable, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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
 * A pass-through stream that counts (and, with `hash`, hashes) what flows through it and fails, before its
 * last byte leaves, when the content is not `expectedSize` bytes (or not `expectedDigest`). Uploading
 * through it means a file of the wrong size aborts the upload: the registry never commits the blob and no
 * manifest is written.
 *
 * Uploads count only: the registry hashes every byte it receives and must refuse a PUT whose `digest` does
 * not match (DIGEST_INVALID), so hashing here too doubled the CPU a push spends per byte (it was the largest
 * single cost in a profile of a 4 x 64 MiB push) without protecting anything more.
 */
export class VerifyingStream extends Transform {
  private readonly hash: Hash | undefined;
  private bytes = 0;
  private held: Buffer | undefined;

  constructor(
    private readonly expectedDigest: string,
    private readonly expectedSize: number | undefined,
    private readonly source: string,
    private readonly onBytes?: (total: number) => void,
    options: { hash?: boolean } = {},
  ) {
    super();
    this.hash = options.hash === false ? undefined : hashFor(expectedDigest);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash?.update(chunk);
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
    const actual =
      this.hash === undefined
        ? this.expectedDigest
        : `${this.expectedDigest.slice(0, this.expectedDigest.indexOf(':'))}:${this.hash.digest('hex')}`;
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

/**
 * Read `input` to the end and return the BLOB_CORRUPT error for it when it is not `digest` of `size`
 * bytes, else undefined. Used after the registry refused an upload's digest, to tell a corrupt file (the
 * user's to fix) from content changed on the way (the network's).
 */
export async function blobMismatch(
  input: Readable,
  digest: string,
  size: number,
  label: string,
): Promise<RegistryPushError | undefined> {
  const verifier = new VerifyingStream(digest, size, label);
  try {
    await pipeline(input, verifier, new Writable({ write: (_chunk, _encoding, done) => done() }));
    return undefined;
  } catch (error) {
    if (error instanceof RegistryPushError && error.code === 'BLOB_CORRUPT') return error;
    throw error;
  }
}
