import type { BlobSource, PushBlobOptions, RegistryApi } from '@registry-push/core';

/**
 * One registry client lent to a callee that closes what it is given (`pushImage` closes its registry when the
 * push ends): every call goes to the client, `close` does nothing, and the owner closes the client once it is
 * done with it. The step thus has one client, one connection pool and one authentication for its login check,
 * its push and the size read-back.
 */
export class LentRegistry implements RegistryApi {
  constructor(private readonly client: RegistryApi) {}

  get host(): string {
    return this.client.host;
  }

  checkLogin(signal?: AbortSignal): Promise<void> {
    return this.client.checkLogin(signal);
  }

  blobSize(repository: string, digest: string, signal?: AbortSignal): Promise<number | undefined> {
    return this.client.blobSize(repository, digest, signal);
  }

  getBlob(repository: string, digest: string, signal?: AbortSignal): ReturnType<RegistryApi['getBlob']> {
    return this.client.getBlob(repository, digest, signal);
  }

  pushBlob(
    repository: string,
    descriptor: { digest: string; size: number },
    source: BlobSource,
    options?: PushBlobOptions,
  ): ReturnType<RegistryApi['pushBlob']> {
    return this.client.pushBlob(repository, descriptor, source, options);
  }

  mountBlob(repository: string, digest: string, from: string, signal?: AbortSignal): Promise<boolean> {
    return this.client.mountBlob(repository, digest, from, signal);
  }

  getManifest(
    repository: string,
    reference: string,
    signal?: AbortSignal,
  ): ReturnType<RegistryApi['getManifest']> {
    return this.client.getManifest(repository, reference, signal);
  }

  headManifest(
    repository: string,
    reference: string,
    signal?: AbortSignal,
  ): ReturnType<RegistryApi['headManifest']> {
    return this.client.headManifest(repository, reference, signal);
  }

  putManifest(
    repository: string,
    reference: string,
    mediaType: string,
    bytes: Buffer,
    signal?: AbortSignal,
  ): Promise<string> {
    return this.client.putManifest(repository, reference, mediaType, bytes, signal);
  }

  deleteManifest(
    repository: string,
    digest: string,
    signal?: AbortSignal,
  ): ReturnType<RegistryApi['deleteManifest']> {
    return this.client.deleteManifest(repository, digest, signal);
  }

  deleteBlob(
    repository: string,
    digest: string,
    signal?: AbortSignal,
  ): ReturnType<RegistryApi['deleteBlob']> {
    return this.client.deleteBlob(repository, digest, signal);
  }

  deleteStoredBlob(digest: string, signal?: AbortSignal): ReturnType<RegistryApi['deleteStoredBlob']> {
    return this.client.deleteStoredBlob(digest, signal);
  }

  listTags(repository: string, options?: { pageSize?: number; signal?: AbortSignal }): Promise<string[]> {
    return this.client.listTags(repository, options);
  }

  /** The owner closes the client; a borrower's close is a no-op. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
