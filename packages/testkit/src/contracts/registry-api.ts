/**
 * The contract of the core's registry port (`RegistryApi`): what push and prune rely on from a registry,
 * as vitest cases any implementation must pass — the in-memory registry, the core's `RegistryClient`
 * against the distribution registry and against openshift-sim's OpenShift registry, and a real one.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The registry port's methods the contract drives (the core's `RegistryApi`, structurally). */
export interface ContractRegistry {
  readonly host: string;
  checkLogin(signal?: AbortSignal): Promise<void>;
  blobSize(repository: string, digest: string, signal?: AbortSignal): Promise<number | undefined>;
  getBlob(repository: string, digest: string, signal?: AbortSignal): Promise<Readable>;
  pushBlob(
    repository: string,
    descriptor: { digest: string; size: number },
    source: { open(): Readable; label: string },
    options?: { mountFrom?: readonly string[] },
  ): Promise<'exists' | 'mounted' | 'uploaded'>;
  mountBlob(repository: string, digest: string, from: string, signal?: AbortSignal): Promise<boolean>;
  getManifest(
    repository: string,
    reference: string,
    signal?: AbortSignal,
  ): Promise<{ mediaType: string; digest: string; bytes: Buffer } | undefined>;
  headManifest(
    repository: string,
    reference: string,
    signal?: AbortSignal,
  ): Promise<{ digest: string; mediaType: string; size: number } | undefined>;
  putManifest(
    repository: string,
    reference: string,
    mediaType: string,
    bytes: Buffer,
    signal?: AbortSignal,
  ): Promise<string>;
  deleteManifest(repository: string, digest: string, signal?: AbortSignal): Promise<'deleted' | 'absent'>;
  deleteBlob(repository: string, digest: string, signal?: AbortSignal): Promise<'deleted' | 'absent'>;
  deleteStoredBlob(digest: string, signal?: AbortSignal): Promise<'deleted' | 'absent'>;
  listTags(repository: string): Promise<string[]>;
  close(): Promise<void>;
}

/** What {@link registryApiContract} runs against. */
export interface RegistryContractTarget {
  /** A client that may push, pull and delete in the repositories `repository()` names. */
  registry: ContractRegistry;
  /** A fresh repository name for one case (`project/name` on OpenShift). */
  repository: () => string;
  /** A client of the same registry whose credentials are wrong (the token-auth case); absent: skipped. */
  rejected?: ContractRegistry;
  /**
   * OpenShift: a pushed tag keeps its manifest referenced (the delete is refused with 405) until `release`
   * removes the tag from the image stream. Absent: the plain distribution registry (deletes at once).
   */
  openshift?: { release: (repository: string, tag: string) => Promise<void> };
  stop?: () => Promise<void>;
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';

const digestOf = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

interface Blob {
  bytes: Buffer;
  digest: string;
  size: number;
}
function blob(bytes: Buffer): Blob {
  return { bytes, digest: digestOf(bytes), size: bytes.length };
}
function source(content: Blob): { open(): Readable; label: string } {
  return { open: () => Readable.from([content.bytes]), label: `contract blob ${content.digest}` };
}

/** A small image: a config, one unique layer, and the manifest naming both. */
function image(): { config: Blob; layer: Blob; manifest: Blob } {
  const config = blob(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [] },
        config: { Labels: { nonce: randomBytes(8).toString('hex') } },
      }),
    ),
  );
  const layer = blob(randomBytes(1024));
  const manifest = blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
        layers: [{ mediaType: OCI_LAYER, digest: layer.digest, size: layer.size }],
      }),
    ),
  );
  return { config, layer, manifest };
}

async function rejection(promise: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code?: string; message: string };
  }
  throw new Error('expected the call to fail');
}

/**
 * Registers the registry-port contract as a vitest `describe` block.
 *
 * @param name What runs (`memory`, `distribution registry`, `openshift-sim`).
 * @param setup Makes the target once before the cases; `undefined` skips the suite.
 */
export function registryApiContract(
  name: string,
  setup: () => Promise<RegistryContractTarget | undefined>,
): void {
  describe(`registry port contract: ${name}`, () => {
    let target: RegistryContractTarget | undefined;
    const t = (): RegistryContractTarget => {
      if (target === undefined) throw new Error('no target');
      return target;
    };
    /** Pushes an image under `tag`; returns its parts and the digest the registry confirmed. */
    async function push(
      repository: string,
      tag: string,
    ): Promise<ReturnType<typeof image> & { digest: string }> {
      const parts = image();
      for (const part of [parts.config, parts.layer]) {
        expect(await t().registry.pushBlob(repository, part, source(part))).toBe('uploaded');
      }
      const digest = await t().registry.putManifest(repository, tag, OCI_MANIFEST, parts.manifest.bytes);
      return { ...parts, digest };
    }

    beforeAll(async () => {
      target = await setup();
    }, 120_000);
    afterAll(async () => {
      await target?.stop?.();
    }, 60_000);

    it('accepts the credentials it was given and refuses wrong ones (TOKEN_REJECTED)', async (context) => {
      if (target === undefined) return context.skip();
      await t().registry.checkLogin();
      const rejected = target.rejected;
      if (rejected === undefined) return;
      expect((await rejection(rejected.checkLogin())).code).toBe('TOKEN_REJECTED');
    });

    it('uploads a blob once, then finds it; stores a manifest under its tag and digest', async (context) => {
      if (target === undefined) return context.skip();
      const repository = t().repository();
      const pushed = await push(repository, 'v1');
      expect(pushed.digest).toBe(pushed.manifest.digest);
      expect(await t().registry.pushBlob(repository, pushed.layer, source(pushed.layer))).toBe('exists');
      expect(await t().registry.blobSize(repository, pushed.layer.digest)).toBe(pushed.layer.size);
      const byTag = await t().registry.getManifest(repository, 'v1');
      expect(byTag).toMatchObject({ digest: pushed.digest, mediaType: OCI_MANIFEST });
      expect(byTag?.bytes.equals(pushed.manifest.bytes)).toBe(true);
      expect(await t().registry.headManifest(repository, pushed.digest)).toMatchObject({
        digest: pushed.digest,
        size: pushed.manifest.size,
      });
      expect(await t().registry.listTags(repository)).toContain('v1');
      expect(await t().registry.getManifest(repository, 'missing')).toBeUndefined();
    });

    it('streams a stored blob back byte for byte; a blob it does not have is REGISTRY_BLOB_UNKNOWN', async (context) => {
      if (target === undefined) return context.skip();
      const repository = t().repository();
      const pushed = await push(repository, 'v1');
      const chunks: Buffer[] = [];
      for await (const chunk of await t().registry.getBlob(repository, pushed.layer.digest)) {
        chunks.push(Buffer.from(chunk as Buffer));
      }
      expect(Buffer.concat(chunks).equals(pushed.layer.bytes)).toBe(true);
      const missing = digestOf(randomBytes(16));
      expect((await rejection(t().registry.getBlob(repository, missing))).code).toBe('REGISTRY_BLOB_UNKNOWN');
    });

    it('mounts a blob from another repository of the same registry instead of uploading it', async (context) => {
      if (target === undefined) return context.skip();
      const from = t().repository();
      const pushed = await push(from, 'v1');
      const into = t().repository();
      expect(
        await t().registry.pushBlob(into, pushed.layer, source(pushed.layer), { mountFrom: [from] }),
      ).toBe('mounted');
      expect(await t().registry.blobSize(into, pushed.layer.digest)).toBe(pushed.layer.size);
    });

    it('refuses a manifest that names a blob the repository does not have', async (context) => {
      if (target === undefined) return context.skip();
      const repository = t().repository();
      const parts = image();
      await t().registry.pushBlob(repository, parts.config, source(parts.config));
      const refused = await rejection(
        t().registry.putManifest(repository, 'v1', OCI_MANIFEST, parts.manifest.bytes),
      );
      expect(refused.code).toBe('REGISTRY_BLOB_UNKNOWN');
    });

    it('deletes a manifest (refused while an image stream references it, on OpenShift), then answers absent', async (context) => {
      if (target === undefined) return context.skip();
      const repository = t().repository();
      const pushed = await push(repository, 'v1');
      const openshift = target.openshift;
      if (openshift !== undefined) {
        const refused = await rejection(t().registry.deleteManifest(repository, pushed.digest));
        expect(refused.code).toBe('REGISTRY_UNSUPPORTED');
        expect(await t().registry.headManifest(repository, pushed.digest)).toBeDefined();
        await openshift.release(repository, 'v1');
      }
      expect(await t().registry.deleteManifest(repository, pushed.digest)).toBe('deleted');
      expect(await t().registry.headManifest(repository, pushed.digest)).toBeUndefined();
      expect(await t().registry.deleteManifest(repository, pushed.digest)).toBe('absent');
    });

    it('deletes a blob from a repository, then answers absent; on OpenShift also from storage', async (context) => {
      if (target === undefined) return context.skip();
      const repository = t().repository();
      const pushed = await push(repository, 'v1');
      // The OpenShift registry serves a blob of an image the stream still holds even without the link.
      await target.openshift?.release(repository, 'v1');
      expect(await t().registry.deleteBlob(repository, pushed.layer.digest)).toBe('deleted');
      expect(await t().registry.blobSize(repository, pushed.layer.digest)).toBeUndefined();
      expect(await t().registry.deleteBlob(repository, pushed.layer.digest)).toBe('absent');
      if (target.openshift !== undefined) {
        expect(await t().registry.deleteStoredBlob(pushed.layer.digest)).toBe('deleted');
      }
    });
  });
}
