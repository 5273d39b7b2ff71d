// The registry client against Debian's real distribution registry: plain, TLS with a private CA,
// htpasswd, read-only, and behind a fault-injecting proxy.
import { createReadStream, type ReadStream } from 'node:fs';
import diagnosticsChannel from 'node:diagnostics_channel';
import { readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import {
  buildOciImage,
  makeWorkDir,
  startConnectProxy,
  startFaultProxy,
  startRegistry,
  type BuiltImage,
  type RunningRegistry,
} from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryPushError } from '../../src/errors.js';
import { parseChallenges } from '../../src/registry/auth.js';
import { RegistryClient } from '../../src/registry/client.js';
import { sha256Digest } from '../../src/registry/digest.js';
import { parseRetryAfter } from '../../src/registry/registry-errors.js';
import { retryDelay } from '../../src/registry/retry.js';
import { failure } from '../failure.js';

let work: string;
let image: BuiltImage;
let plain: RunningRegistry;

function blobFile(digest: string): string {
  return join(image.layoutDir, 'blobs', 'sha256', digest.slice(7));
}

function fileSource(digest: string): { open: () => Readable; label: string } {
  return { open: () => createReadStream(blobFile(digest)), label: blobFile(digest) };
}

/** Push the test image's blobs and manifest by hand with the client. */
async function pushByHand(client: RegistryClient, repository: string, tag: string): Promise<string> {
  const manifest = image.manifests[0]!;
  for (const blob of [manifest.config, ...manifest.layers]) {
    await client.pushBlob(repository, blob, fileSource(blob.digest));
  }
  const { readFile } = await import('node:fs/promises');
  const bytes = await readFile(blobFile(manifest.digest));
  return client.putManifest(repository, tag, manifest.mediaType, bytes);
}

beforeAll(async () => {
  work = await makeWorkDir('core-registry-client');
  image = await buildOciImage({ outDir: join(work, 'image'), layers: 3, layerSize: 200_000, seed: 'client' });
  plain = await startRegistry();
});

afterAll(async () => {
  await plain.stop();
  await rm(work, { recursive: true, force: true });
});

describe('parsing', () => {
  it('reads WWW-Authenticate challenges with quoted and bare values', () => {
    expect(
      parseChallenges(
        'Bearer realm="https://r.example/openshift/token",service="r.example",scope="repository:a/b:pull,push", error="insufficient_scope"',
      ),
    ).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'https://r.example/openshift/token',
          service: 'r.example',
          scope: 'repository:a/b:pull,push',
          error: 'insufficient_scope',
        },
      },
    ]);
    expect(parseChallenges('Basic realm="x", Bearer realm=y')).toEqual([
      { scheme: 'basic', params: { realm: 'x' } },
      { scheme: 'bearer', params: { realm: 'y' } },
    ]);
  });

  it('honours Retry-After in seconds or as a date, capped, else backs off with jitter', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(Date.now() + 5000).toUTCString())).toBeGreaterThan(3000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    const policy = { retries: 3, baseDelayMs: 100, maxDelayMs: 1000 };
    const limited = new RegistryPushError('REGISTRY_RATE_LIMITED', 'x', {
      details: { retryAfterMs: 60_000 },
    });
    expect(retryDelay(1, limited, policy)).toBe(1000);
    expect(retryDelay(1, new Error('x'), policy, () => 0)).toBe(50);
    expect(retryDelay(3, new Error('x'), policy, () => 1)).toBe(400);
    expect(retryDelay(10, new Error('x'), policy, () => 1)).toBe(1000);
  });
});

describe('a plain registry', () => {
  it('pushes blobs and a manifest, reads them back, lists tags page by page, and deletes', async () => {
    const client = new RegistryClient({ host: plain.host, plainHttp: true });
    try {
      await client.checkLogin();
      const digest = await pushByHand(client, 'demo/app', 'v1');
      expect(digest).toBe(image.manifests[0]!.digest);
      await pushByHand(client, 'demo/app', 'v2');
      const layer = image.manifests[0]!.layers[0]!;
      expect(await client.blobSize('demo/app', layer.digest)).toBe(layer.size);
      const fetched = await client.getManifest('demo/app', 'v1');
      expect(fetched?.digest).toBe(digest);
      expect(await client.headManifest('demo/app', 'v2')).toMatchObject({ digest });
      expect((await client.listTags('demo/app', { pageSize: 1 })).sort()).toEqual(['v1', 'v2']);
      const blob = await client.getBlob('demo/app', layer.digest);
      const chunks: Buffer[] = [];
      for await (const chunk of blob) chunks.push(chunk as Buffer);
      expect(sha256Digest(Buffer.concat(chunks))).toBe(layer.digest);

      expect(await client.deleteManifest('demo/app', digest)).toBe('deleted');
      expect(await client.getManifest('demo/app', 'v1')).toBeUndefined();
      expect(await client.deleteManifest('demo/app', digest)).toBe('absent');
      expect(await client.deleteBlob('demo/app', layer.digest)).toBe('deleted');
      expect(await client.blobSize('demo/app', layer.digest)).toBeUndefined();
      expect(await client.listTags('demo/none')).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it('skips blobs that exist and mounts from another repository', async () => {
    const client = new RegistryClient({ host: plain.host, plainHttp: true });
    try {
      await pushByHand(client, 'mount/source', 'v1');
      const layer = image.manifests[0]!.layers[1]!;
      expect(await client.pushBlob('mount/source', layer, fileSource(layer.digest))).toBe('exists');
      expect(
        await client.pushBlob('mount/target', layer, fileSource(layer.digest), {
          mountFrom: ['mount/source'],
        }),
      ).toBe('mounted');
      // Mounting from a repository that lacks the blob falls back to an upload.
      const other = image.manifests[0]!.layers[2]!;
      expect(
        await client.pushBlob('mount/other', other, fileSource(other.digest), { mountFrom: ['mount/empty'] }),
      ).toBe('uploaded');
    } finally {
      await client.close();
    }
  });

  it('uploads large blobs in PATCH chunks and the registry gets the same bytes', async () => {
    const client = new RegistryClient({
      host: plain.host,
      plainHttp: true,
      monolithicMaxBytes: 50_000,
      chunkBytes: 64 * 1024,
    });
    const seen: number[] = [];
    try {
      const layer = image.manifests[0]!.layers[0]!;
      await client.pushBlob('chunked/app', layer, fileSource(layer.digest), {
        onProgress: (progress) => seen.push(progress.sent),
      });
      expect(await client.blobSize('chunked/app', layer.digest)).toBe(layer.size);
      expect(seen.at(-1)).toBe(layer.size);
    } finally {
      await client.close();
    }
  });

  it('refuses a corrupt blob and the registry stores none of it, for one PUT and for chunks', async () => {
    for (const monolithicMaxBytes of [10_000_000, 50_000]) {
      const client = new RegistryClient({
        host: plain.host,
        plainHttp: true,
        monolithicMaxBytes,
        chunkBytes: 64 * 1024,
      });
      try {
        const layer = image.manifests[0]!.layers[0]!;
        const corrupt = {
          label: 'corrupt.tar.gz',
          open: () => {
            const bytes = Buffer.alloc(layer.size, 7);
            return Readable.from([bytes.subarray(0, 100_000), bytes.subarray(100_000)]);
          },
        };
        const error = await failure(client.pushBlob('corrupt/app', layer, corrupt));
        expect(error.code).toBe('BLOB_CORRUPT');
        expect(error.message).toContain(layer.digest);
        expect(await client.blobSize('corrupt/app', layer.digest)).toBeUndefined();
      } finally {
        await client.close();
      }
    }
  });

  it('refuses a large file blob with one byte changed, for one PUT and for chunks', async () => {
    const bytes = Buffer.alloc(5 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i += 4096) bytes.writeUInt32BE((i * 2654435761) >>> 0, i);
    const file = join(work, 'large.bin');
    await writeFile(file, bytes);
    const blob = { digest: sha256Digest(bytes), size: bytes.length };
    const source = { label: file, open: () => createReadStream(file) };
    for (const monolithicMaxBytes of [10_000_000, 1_000_000]) {
      const client = new RegistryClient({
        host: plain.host,
        plainHttp: true,
        monolithicMaxBytes,
        chunkBytes: 1024 * 1024,
      });
      const repository = `large/m${monolithicMaxBytes}`;
      try {
        // Same length, one byte changed in the middle: only the digest can tell.
        const corrupt = Buffer.from(bytes);
        const middle = corrupt.length >> 1;
        corrupt.writeUInt8(corrupt.readUInt8(middle) ^ 0xff, middle);
        await writeFile(file, corrupt);
        const error = await failure(client.pushBlob(repository, blob, source));
        expect(error.code).toBe('BLOB_CORRUPT');
        expect(error.message).toContain(blob.digest);
        expect(await client.blobSize(repository, blob.digest)).toBeUndefined();

        await writeFile(file, bytes);
        expect(await client.pushBlob(repository, blob, source)).toBe('uploaded');
        expect(await client.blobSize(repository, blob.digest)).toBe(bytes.length);
      } finally {
        await client.close();
      }
    }
  });

  it('says which file it could not read, and stores nothing', async () => {
    const missing = join(work, 'gone.bin');
    const blob = { digest: sha256Digest('gone'), size: 8 * 1024 * 1024 };
    const client = new RegistryClient({ host: plain.host, plainHttp: true });
    try {
      const source = { label: missing, open: () => createReadStream(missing) };
      const error = await failure(client.pushBlob('gone/app', blob, source));
      expect(error.code).toBe('SOURCE_INVALID');
      expect(error.message).toContain(missing);
      expect(await client.blobSize('gone/app', blob.digest)).toBeUndefined();
    } finally {
      await client.close();
    }
  });

  it('names the registry code of a refused manifest', async () => {
    const client = new RegistryClient({ host: plain.host, plainHttp: true });
    try {
      const bytes = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: {
            mediaType: 'application/vnd.oci.image.config.v1+json',
            digest: `sha256:${'1'.repeat(64)}`,
            size: 2,
          },
          layers: [],
        }),
      );
      const error = await failure(
        client.putManifest('demo/broken', 'v1', 'application/vnd.oci.image.manifest.v1+json', bytes),
      );
      expect(error.code).toBe('REGISTRY_BLOB_UNKNOWN');
      expect(error.message).toMatch(/MANIFEST_BLOB_UNKNOWN|BLOB_UNKNOWN/);
    } finally {
      await client.close();
    }
  });
});

describe('trust, credentials and reachability', () => {
  let secured: RunningRegistry;
  beforeAll(async () => {
    secured = await startRegistry({ tls: true, auth: { username: 'ci', password: 'right-password' } });
  });
  afterAll(async () => {
    await secured.stop();
  });

  it('logs in with Basic credentials and the registry CA', async () => {
    const client = new RegistryClient({
      host: secured.host,
      caPem: secured.caPem!,
      credentials: { kind: 'basic', username: 'ci', password: 'right-password' },
    });
    try {
      await client.checkLogin();
      await pushByHand(client, 'secure/app', 'v1');
    } finally {
      await client.close();
    }
  });

  it('uploads over HTTP/1.1 connections although the registry offers HTTP/2', async () => {
    // One TCP stream per upload: over HTTP/2 the registry served parallel uploads one after another.
    const protocols: Array<string | false | null> = [];
    const onResponse = (message: unknown): void => {
      const { request } = message as { request: { socket: { alpnProtocol?: string | false | null } | null } };
      protocols.push(request.socket?.alpnProtocol ?? null);
    };
    diagnosticsChannel.subscribe('http.client.response.finish', onResponse);
    const client = new RegistryClient({
      host: secured.host,
      caPem: secured.caPem!,
      credentials: { kind: 'basic', username: 'ci', password: 'right-password' },
    });
    try {
      await pushByHand(client, 'secure/h1', 'v1');
    } finally {
      await client.close();
      diagnosticsChannel.unsubscribe('http.client.response.finish', onResponse);
    }
    // HTTP/1.1 without ALPN (false) or by ALPN; never h2, never unknown.
    expect(protocols.length).toBeGreaterThan(5);
    expect(protocols.filter((protocol) => protocol !== false && protocol !== 'http/1.1')).toEqual([]);
    // The registry does speak HTTP/2 when asked, so the assertion above is about the client's offer.
    const offered = await new Promise<string | false | null>((resolve, reject) => {
      const [hostname, port] = secured.host.split(':');
      const socket = tlsConnect(
        { host: hostname, port: Number(port), ca: secured.caPem!, ALPNProtocols: ['h2', 'http/1.1'] },
        () => {
          resolve(socket.alpnProtocol);
          socket.end();
        },
      );
      socket.on('error', reject);
    });
    expect(offered).toBe('h2');
  });

  it('goes through the HTTPS proxy of the environment, and past it for NO_PROXY hosts', async () => {
    const proxy = await startConnectProxy({ credentials: { username: 'corp', password: 'proxy-secret-42' } });
    const through = (proxyEnv: Record<string, string>): RegistryClient =>
      new RegistryClient({
        host: secured.host,
        caPem: secured.caPem!,
        credentials: { kind: 'basic', username: 'ci', password: 'right-password' },
        proxyEnv,
      });
    const proxyUrl = proxy.url.replace('http://', 'http://corp:proxy-secret-42@');
    try {
      // As curl and Go accept it: host:port without a scheme means http://.
      const client = through({ https_proxy: proxyUrl.replace('http://', '') });
      try {
        await pushByHand(client, 'proxied/app', 'v1');
      } finally {
        await client.close();
      }
      expect(proxy.log.length).toBeGreaterThan(0);
      expect(new Set(proxy.log.map((entry) => `${entry.target} ${entry.status}`))).toEqual(
        new Set([`${secured.host} 200`]),
      );
      const tunnels = proxy.log.length;
      const bypass = through({ HTTPS_PROXY: proxyUrl, NO_PROXY: '127.0.0.1' });
      try {
        await bypass.checkLogin();
      } finally {
        await bypass.close();
      }
      expect(proxy.log).toHaveLength(tunnels);
      const refused = through({ https_proxy: proxy.url });
      const error = await failure(refused.checkLogin());
      await refused.close();
      expect(error.code).toBe('REGISTRY_UNREACHABLE');
      expect(error.message).toMatch(/proxy/i);
      expect(error.hint).toMatch(/HTTPS_PROXY/);
      expect(proxy.log.at(-1)?.status).toBe(407);
    } finally {
      await proxy.stop();
    }
    const malformed = await failure(
      Promise.resolve().then(() => through({ HTTPS_PROXY: 'http://corp:50%off-secret@proxy:3128' })),
    );
    expect(malformed.code).toBe('OPTION_INVALID');
    expect(malformed.message).toMatch(/^HTTPS_PROXY has a user name or password/);
    expect(JSON.stringify(malformed.toJSON())).not.toContain('off-secret');
    expect(
      (await failure(Promise.resolve().then(() => through({ HTTPS_PROXY: 'socks5://127.0.0.1:1080' }))))
        .message,
    ).toBe('HTTPS_PROXY is not an http:// or https:// URL.');
    // A proxy for the other scheme is not this registry's concern, whatever it holds.
    const other = through({ HTTP_PROXY: 'socks5://127.0.0.1:1080' });
    await other.checkLogin();
    await other.close();
    const denied = await startConnectProxy({ refuseWith: 403 });
    try {
      const client = through({ HTTPS_PROXY: denied.url.replace('http://', 'http://corp:proxy-secret-42@') });
      const error = await failure(client.checkLogin());
      await client.close();
      expect(error.code).toBe('REGISTRY_UNREACHABLE');
      expect(JSON.stringify(error.toJSON())).not.toContain('proxy-secret-42');
      expect(error.message).not.toContain('proxy-secret-42');
    } finally {
      await denied.stop();
    }
  });

  it('says the certificate is not trusted without the CA', async () => {
    const client = new RegistryClient({
      host: secured.host,
      credentials: { kind: 'basic', username: 'ci', password: 'right-password' },
    });
    const error = await failure(client.checkLogin());
    await client.close();
    expect(error.code).toBe('REGISTRY_TLS_UNTRUSTED');
    expect(error.hint).toMatch(/ca-file/);
  });

  it('rejects a wrong password without showing it', async () => {
    const client = new RegistryClient({
      host: secured.host,
      caPem: secured.caPem!,
      credentials: { kind: 'basic', username: 'ci', password: 'wrong-password-123' },
    });
    const error = await failure(client.checkLogin());
    await client.close();
    expect(error.code).toBe('TOKEN_REJECTED');
    expect(JSON.stringify(error.toJSON())).not.toContain('wrong-password-123');
  });

  it('reports an unreachable registry at once', async () => {
    const client = new RegistryClient({ host: '127.0.0.1:1', plainHttp: true });
    const started = Date.now();
    const error = await failure(client.checkLogin());
    await client.close();
    expect(error.code).toBe('REGISTRY_UNREACHABLE');
    expect(error.message).toContain('ECONNREFUSED');
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('a read-only registry', () => {
  it('refuses pushes with REGISTRY_READ_ONLY', async () => {
    const readOnly = await startRegistry({ readOnly: true });
    const client = new RegistryClient({ host: readOnly.host, plainHttp: true });
    try {
      const layer = image.manifests[0]!.layers[0]!;
      const error = await failure(client.pushBlob('demo/app', layer, fileSource(layer.digest)));
      expect(error.code).toBe('REGISTRY_READ_ONLY');
      expect(error.hint).toMatch(/read-only/);
    } finally {
      await client.close();
      await readOnly.stop();
    }
  });
});

describe('transient failures', () => {
  it('retries resets, 500, 503 and 429 (honouring Retry-After) and ends with the same digest', async () => {
    let uploadsSeen = 0;
    const proxy = await startFaultProxy({
      target: plain.url,
      plan: ({ index, method, path }) => {
        if (index === 1) return { kind: 'reset' };
        if (index === 2) return { kind: 'status', status: 503 };
        if (method === 'PUT' && path.includes('/blobs/uploads/') && uploadsSeen++ === 0)
          return { kind: 'reset' };
        if (method === 'PUT' && path.includes('/manifests/') && uploadsSeen < 100) {
          uploadsSeen = 100;
          return {
            kind: 'status',
            status: 429,
            headers: { 'retry-after': '1' },
            body: '{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}',
          };
        }
        if (method === 'HEAD' && index === 5) return { kind: 'status', status: 500 };
        return undefined;
      },
    });
    const retries: string[] = [];
    const client = new RegistryClient({
      host: proxy.host,
      plainHttp: true,
      retry: { baseDelayMs: 10, maxDelayMs: 2000 },
      onRetry: (event) => retries.push((event.error as RegistryPushError).code),
    });
    try {
      await client.checkLogin();
      const started = Date.now();
      const digest = await pushByHand(client, 'flaky/app', 'v1');
      expect(digest).toBe(image.manifests[0]!.digest);
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      expect(retries).toEqual(
        expect.arrayContaining(['REGISTRY_UNREACHABLE', 'REGISTRY_UNAVAILABLE', 'REGISTRY_RATE_LIMITED']),
      );
      expect(proxy.log.filter((entry) => entry.fault !== undefined).length).toBeGreaterThanOrEqual(4);
    } finally {
      await client.close();
      await proxy.stop();
    }
    const direct = new RegistryClient({ host: plain.host, plainHttp: true });
    expect((await direct.getManifest('flaky/app', 'v1'))?.digest).toBe(image.manifests[0]!.digest);
    await direct.close();
  });

  it('gives up on a registry that accepts connections and then says nothing, after its idle limit', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const client = new RegistryClient({
      host: `127.0.0.1:${port}`,
      plainHttp: true,
      timeoutMs: 300,
      retry: { retries: 1, baseDelayMs: 5 },
    });
    const started = Date.now();
    try {
      const error = await failure(client.checkLogin());
      expect(error.code).toBe('REGISTRY_UNREACHABLE');
      expect(error.details).toMatchObject({ networkError: 'ETIMEDOUT' });
      expect(error.message).toContain('ETIMEDOUT');
      // Two attempts of 300 ms each, not the default two minutes.
      expect(Date.now() - started).toBeGreaterThanOrEqual(600);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await client.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('stops an upload the proxy refuses before reading it, says why, and closes the file', async () => {
    const file = join(work, 'large-for-413.bin');
    const bytes = Buffer.alloc(64 * 1024 * 1024, 7);
    await writeFile(file, bytes);
    const digest = sha256Digest(bytes);
    const proxy = await startFaultProxy({
      target: plain.url,
      plan: ({ method, path }) =>
        method === 'PUT' && path.includes('/blobs/uploads/')
          ? { kind: 'status', status: 413, early: true, body: '<html>413 Request Entity Too Large</html>' }
          : undefined,
    });
    const client = new RegistryClient({ host: proxy.host, plainHttp: true, retry: { baseDelayMs: 5 } });
    const openFiles = async (): Promise<number> => {
      let count = 0;
      for (const fd of await readdir('/proc/self/fd')) {
        const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
        if (target === file) count++;
      }
      return count;
    };
    try {
      let input: ReadStream | undefined;
      const source = { open: () => (input = createReadStream(file)), label: file };
      const error = await failure(client.pushBlob('limited/app', { digest, size: bytes.length }, source));
      expect(error.code).toBe('REGISTRY_REQUEST_TOO_LARGE');
      expect(error.hint).toMatch(/client_max_body_size/);
      // Refused is final: one upload attempt, not retried.
      expect(proxy.log.filter((entry) => entry.method === 'PUT')).toHaveLength(1);
      // The rest of the file is neither read nor sent once the answer is in.
      expect(input?.bytesRead).toBeLessThan(bytes.length / 4);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await openFiles()).toBe(0);
    } finally {
      await client.close();
      await proxy.stop();
    }
  });

  it('does not retry a 4xx and gives up on a registry that keeps failing', async () => {
    const proxy = await startFaultProxy({ target: plain.url, plan: () => ({ kind: 'status', status: 500 }) });
    const client = new RegistryClient({
      host: proxy.host,
      plainHttp: true,
      retry: { retries: 2, baseDelayMs: 5 },
    });
    try {
      const error = await failure(client.checkLogin());
      expect(error.code).toBe('REGISTRY_SERVER_ERROR');
      expect(proxy.log).toHaveLength(3);
    } finally {
      await client.close();
      await proxy.stop();
    }
    const denied = await startFaultProxy({
      target: plain.url,
      plan: () => ({ kind: 'status', status: 403, body: '{"errors":[{"code":"DENIED","message":"no"}]}' }),
    });
    const client2 = new RegistryClient({ host: denied.host, plainHttp: true });
    try {
      expect((await failure(client2.checkLogin())).code).toBe('REGISTRY_DENIED');
      expect(denied.log).toHaveLength(1);
    } finally {
      await client2.close();
      await denied.stop();
    }
  });
});
