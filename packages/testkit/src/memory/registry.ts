/**
 * An in-memory OCI registry with the semantics push and prune rely on: blobs verified against their digest,
 * linked per repository and mountable across repositories; manifests stored under their digest and tags,
 * refused while a blob they name is missing; deletes that answer `absent` for what is not there; the
 * OpenShift registry's refusal (405) to delete a manifest an ImageStream still references; and credentials
 * that are refused. The testkit's `registryApiContract` holds it and the real registries to the same behaviour.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { portError, type PortErrorFactory } from './cluster-types.js';

/** The blob and manifest storage several {@link MemoryRegistry} clients share. */
export class MemoryRegistryStorage {
  /** digest → bytes: the blob store (layers, configs and manifests). */
  readonly blobs = new Map<string, Buffer>();
  /** repository → its links, manifests and tags. */
  readonly repositories = new Map<
    string,
    { layers: Set<string>; manifests: Map<string, string>; tags: Map<string, string> }
  >();

  repository(name: string): {
    layers: Set<string>;
    manifests: Map<string, string>;
    tags: Map<string, string>;
  } {
    let repository = this.repositories.get(name);
    if (repository === undefined) {
      repository = { layers: new Set(), manifests: new Map(), tags: new Map() };
      this.repositories.set(name, repository);
    }
    return repository;
  }
}

/** Options of {@link MemoryRegistry}. */
export interface MemoryRegistryOptions {
  /** The storage (default a new one); share it to give several clients (users) one registry. */
  storage?: MemoryRegistryStorage;
  /** Default `memory.registry:5000`. */
  host?: string;
  /** false: the registry refuses this client's credentials (`TOKEN_REJECTED`). Default true. */
  authorized?: boolean;
  /**
   * Whether an ImageStream still references the manifest: then its delete is refused with 405, as the
   * OpenShift registry does. Default: never (the plain distribution registry).
   */
  referenced?: (repository: string, digest: string) => boolean;
  /** How errors are made (default `PortError`); the core's tests pass its `RegistryPushError`. */
  error?: PortErrorFactory;
}

const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

/** An in-memory implementation of the core's registry port (`RegistryApi`). */
export class MemoryRegistry {
  readonly host: string;
  readonly storage: MemoryRegistryStorage;
  private readonly error: PortErrorFactory;
  /** Requests answered, by method name (for assertions). */
  readonly calls: Record<string, number> = {};

  constructor(private readonly options: MemoryRegistryOptions = {}) {
    this.host = options.host ?? 'memory.registry:5000';
    this.storage = options.storage ?? new MemoryRegistryStorage();
    this.error = options.error ?? portError;
  }

  private fail(code: string, status: number, message: string): Error {
    return this.error(code, message, { status, retryable: status === 429 || status >= 500 });
  }

  /** Counts the call and refuses it when the credentials are not accepted. */
  private enter(method: string): void {
    this.calls[method] = (this.calls[method] ?? 0) + 1;
    if (this.options.authorized === false) {
      throw this.fail('TOKEN_REJECTED', 401, `The registry ${this.host} refused the token.`);
    }
  }

  private answer<T>(method: string, work: () => T): Promise<T> {
    try {
      this.enter(method);
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  checkLogin(): Promise<void> {
    return this.answer('checkLogin', () => undefined);
  }

  blobSize(repository: string, digest: string): Promise<number | undefined> {
    return this.answer('blobSize', () =>
      this.storage.repositories.get(repository)?.layers.has(digest) === true
        ? this.storage.blobs.get(digest)?.length
        : undefined,
    );
  }

  getBlob(repository: string, digest: string): Promise<Readable> {
    return this.answer('getBlob', () => {
      const bytes =
        this.storage.repositories.get(repository)?.layers.has(digest) === true
          ? this.storage.blobs.get(digest)
          : undefined;
      if (bytes === undefined) {
        throw this.fail('REGISTRY_BLOB_UNKNOWN', 404, `${repository} has no blob ${digest}.`);
      }
      return Readable.from([Buffer.from(bytes)]);
    });
  }

  async pushBlob(
    repository: string,
    descriptor: { digest: string; size: number },
    source: { open(): Readable; label: string },
    options: { mountFrom?: readonly string[] } = {},
  ): Promise<'exists' | 'mounted' | 'uploaded'> {
    this.enter('pushBlob');
    const target = this.storage.repository(repository);
    if (target.layers.has(descriptor.digest)) return 'exists';
    for (const from of options.mountFrom ?? []) {
      if (from !== repository && (await this.mountBlob(repository, descriptor.digest, from)))
        return 'mounted';
    }
    const bytes = await readAll(source.open());
    if (sha256(bytes) !== descriptor.digest || bytes.length !== descriptor.size) {
      throw this.fail(
        'BLOB_CORRUPT',
        400,
        `${source.label} does not match ${descriptor.digest} (${descriptor.size} bytes): it has ${bytes.length} bytes with digest ${sha256(bytes)}.`,
      );
    }
    this.storage.blobs.set(descriptor.digest, bytes);
    target.layers.add(descriptor.digest);
    return 'uploaded';
  }

  mountBlob(repository: string, digest: string, from: string): Promise<boolean> {
    return this.answer('mountBlob', () => {
      const linked = this.storage.repositories.get(from)?.layers.has(digest) === true;
      if (linked && this.storage.blobs.has(digest)) this.storage.repository(repository).layers.add(digest);
      return linked;
    });
  }

  private resolve(repository: string, reference: string): string | undefined {
    const stored = this.storage.repositories.get(repository);
    if (stored === undefined) return undefined;
    if (reference.includes(':')) return stored.manifests.has(reference) ? reference : undefined;
    return stored.tags.get(reference);
  }

  getManifest(
    repository: string,
    reference: string,
  ): Promise<{ mediaType: string; digest: string; bytes: Buffer } | undefined> {
    return this.answer('getManifest', () => {
      const digest = this.resolve(repository, reference);
      const bytes = digest === undefined ? undefined : this.storage.blobs.get(digest);
      const mediaType =
        digest === undefined ? undefined : this.storage.repositories.get(repository)?.manifests.get(digest);
      return digest === undefined || bytes === undefined || mediaType === undefined
        ? undefined
        : { mediaType, digest, bytes: Buffer.from(bytes) };
    });
  }

  headManifest(
    repository: string,
    reference: string,
  ): Promise<{ digest: string; mediaType: string; size: number } | undefined> {
    return this.answer('headManifest', () => {
      const digest = this.resolve(repository, reference);
      const bytes = digest === undefined ? undefined : this.storage.blobs.get(digest);
      const mediaType =
        digest === undefined ? undefined : this.storage.repositories.get(repository)?.manifests.get(digest);
      return digest === undefined || bytes === undefined || mediaType === undefined
        ? undefined
        : { digest, mediaType, size: bytes.length };
    });
  }

  putManifest(repository: string, reference: string, mediaType: string, bytes: Buffer): Promise<string> {
    return this.answer('putManifest', () => {
      const digest = sha256(bytes);
      if (reference.includes(':') && reference !== digest) {
        throw this.fail(
          'REGISTRY_DIGEST_INVALID',
          400,
          `The manifest sent as ${reference} has the digest ${digest}.`,
        );
      }
      const target = this.storage.repository(repository);
      const document = JSON.parse(bytes.toString('utf8')) as {
        config?: { digest: string };
        layers?: { digest: string }[];
        manifests?: { digest: string }[];
      };
      const blobs = [...(document.config ? [document.config] : []), ...(document.layers ?? [])];
      const missing =
        blobs.find((blob) => !target.layers.has(blob.digest)) ??
        (document.manifests ?? []).find((child) => !target.manifests.has(child.digest));
      if (missing !== undefined) {
        throw this.fail(
          'REGISTRY_BLOB_UNKNOWN',
          400,
          `The manifest names ${missing.digest}, which ${repository} does not have.`,
        );
      }
      this.storage.blobs.set(digest, Buffer.from(bytes));
      target.manifests.set(digest, mediaType);
      if (!reference.includes(':')) target.tags.set(reference, digest);
      return digest;
    });
  }

  deleteManifest(repository: string, digest: string): Promise<'deleted' | 'absent'> {
    return this.answer('deleteManifest', () => {
      // The OpenShift registry asks the image stream first: a referenced manifest is refused, linked or not.
      if (this.options.referenced?.(repository, digest) === true) {
        throw this.fail(
          'REGISTRY_UNSUPPORTED',
          405,
          `The registry ${this.host} does not allow deleting the manifest ${digest} of ${repository}: an image stream still references it.`,
        );
      }
      const stored = this.storage.repositories.get(repository);
      if (stored?.manifests.has(digest) !== true) return 'absent';
      stored.manifests.delete(digest);
      for (const [tag, target] of stored.tags) if (target === digest) stored.tags.delete(tag);
      return 'deleted';
    });
  }

  deleteBlob(repository: string, digest: string): Promise<'deleted' | 'absent'> {
    return this.answer('deleteBlob', () =>
      this.storage.repositories.get(repository)?.layers.delete(digest) === true ? 'deleted' : 'absent',
    );
  }

  deleteStoredBlob(digest: string): Promise<'deleted' | 'absent'> {
    return this.answer('deleteStoredBlob', () => {
      this.storage.blobs.delete(digest);
      // As the OpenShift registry: 204 whether or not the blob was there.
      return 'deleted';
    });
  }

  listTags(repository: string): Promise<string[]> {
    return this.answer('listTags', () =>
      [...(this.storage.repositories.get(repository)?.tags.keys() ?? [])].sort(),
    );
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
