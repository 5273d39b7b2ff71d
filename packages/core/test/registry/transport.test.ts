// The registry transport against real loopback servers: refusals that come before the body is sent,
// certificate checks when connectTo dials another address, and what a failure says about the proxy.
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { createCertificateAuthority } from '@registry-push/testkit';
import { describe, expect, it } from 'vitest';
import type { RegistryPushError } from '../../src/errors.js';
import { RegistryClient } from '../../src/registry/client.js';
import { RegistryTransport } from '../../src/registry/transport.js';
import { failure } from '../failure.js';

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

describe('the registry transport', () => {
  it('ends an upload the server refused before reading it, and the pool serves the next request', async () => {
    // A refusal on a kept-alive connection: the server answers at once and never reads the body.
    const server = createHttpServer((request, response) => {
      if (request.method === 'PUT') {
        response.writeHead(401, { 'content-length': '2' });
        response.end('no');
        return;
      }
      response.writeHead(200, { 'content-length': '2' });
      response.end('ok');
    });
    const port = await listen(server);
    const transport = new RegistryTransport({
      host: `127.0.0.1:${port}`,
      plainHttp: true,
      maxConnections: 1,
      proxyEnv: null,
    });
    try {
      let produced = 0;
      const total = 256 * 1024 * 1024;
      const body = new Readable({
        read() {
          produced += 1024 * 1024;
          this.push(Buffer.alloc(1024 * 1024));
          if (produced >= total) this.push(null);
        },
      });
      const refused = await transport.send({
        method: 'PUT',
        url: transport.url('/upload'),
        headers: { 'content-length': String(total) },
        body,
      });
      expect(refused.status).toBe(401);
      expect(await refused.body.text()).toBe('no');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(body.destroyed).toBe(true);
      expect(produced).toBeLessThan(total / 4);
      // The only connection of the pool is free again: the next request is answered.
      const next = await transport.send({ method: 'GET', url: transport.url('/v2/'), headers: {} });
      expect(next.status).toBe(200);
      await next.body.dump();
    } finally {
      await transport.close();
      await stop(server);
    }
  });

  it("checks the certificate against the registry's IP, not the address connectTo dials", async () => {
    const ca = await createCertificateAuthority();
    const serve = async (altName: string): Promise<{ server: Server; port: number }> => {
      const leaf = await ca.issue({ commonName: altName, altNames: [altName] });
      const server = createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem }, (_request, response) => {
        response.writeHead(200, { 'content-length': '2' });
        response.end('ok');
      });
      return { server, port: await listen(server) };
    };
    const get = async (port: number): Promise<number> => {
      // The registry is 127.0.0.2; the route to it is 127.0.0.1.
      const transport = new RegistryTransport({
        host: `127.0.0.2:${port}`,
        connectTo: `127.0.0.1:${port}`,
        caPem: ca.certPem,
      });
      try {
        const response = await transport.send({ method: 'GET', url: transport.url('/v2/'), headers: {} });
        await response.body.dump();
        return response.status;
      } finally {
        await transport.close();
      }
    };
    const registry = await serve('127.0.0.2');
    const impostor = await serve('127.0.0.1');
    try {
      expect(await get(registry.port)).toBe(200);
      await expect(get(impostor.port)).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    } finally {
      await stop(registry.server);
      await stop(impostor.server);
    }
  });

  it('keeps its connections alive and bounded when connectTo dials another address', async () => {
    const ca = await createCertificateAuthority();
    const leaf = await ca.issue({ commonName: 'registry.example', altNames: ['registry.example'] });
    let connections = 0;
    const server = createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem }, (_request, response) => {
      response.writeHead(200, { 'content-length': '2' });
      response.end('ok');
    });
    server.on('secureConnection', () => connections++);
    const port = await listen(server);
    const transport = new RegistryTransport({
      host: `registry.example:${port}`,
      connectTo: `127.0.0.1:${port}`,
      caPem: ca.certPem,
      maxConnections: 4,
    });
    const get = async (): Promise<number> => {
      const response = await transport.send({ method: 'GET', url: transport.url('/v2/'), headers: {} });
      await response.body.dump();
      return response.status;
    };
    try {
      for (let i = 0; i < 5; i++) expect(await get()).toBe(200);
      expect(connections).toBe(1);
      const answers = await Promise.all(Array.from({ length: 40 }, get));
      expect(answers.every((status) => status === 200)).toBe(true);
      // The pool's limit, whatever the number of requests at once.
      expect(connections).toBeLessThanOrEqual(4);
    } finally {
      await transport.close();
      await stop(server);
    }
  });

  it('retries a response body that breaks off, and reports one that keeps breaking as a network failure', async () => {
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, layers: [] }));
    let requests = 0;
    let breakEvery = 1;
    const server = createHttpServer((_request, response) => {
      requests++;
      response.writeHead(200, {
        'content-type': 'application/vnd.oci.image.manifest.v1+json',
        'content-length': String(manifest.length),
      });
      if (requests % breakEvery === 0) {
        // Half the body, then the connection drops.
        response.write(manifest.subarray(0, 10), () => response.socket?.destroy());
        return;
      }
      response.end(manifest);
    });
    const port = await listen(server);
    const retries: string[] = [];
    const client = new RegistryClient({
      host: `127.0.0.1:${port}`,
      plainHttp: true,
      proxyEnv: null,
      retry: { retries: 2, baseDelayMs: 5 },
      onRetry: (event) => retries.push((event.error as RegistryPushError).code),
    });
    try {
      breakEvery = 2; // the first read breaks, the retry succeeds
      requests = 1;
      const fetched = await client.getManifest('demo/app', 'v1');
      expect(fetched?.bytes.equals(manifest)).toBe(true);
      expect(retries).toEqual(['REGISTRY_UNREACHABLE']);
      breakEvery = 1; // every read breaks
      const error = await failure(client.getManifest('demo/app', 'v1'));
      expect(error.code).toBe('REGISTRY_UNREACHABLE');
      expect(error.message).toContain('read a manifest of');
    } finally {
      await client.close();
      await stop(server);
    }
  });

  it('says so when a tag list is not JSON (a page from something in between)', async () => {
    const server = createHttpServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html', 'content-length': '13' });
      response.end('<html></html>');
    });
    const port = await listen(server);
    const client = new RegistryClient({ host: `127.0.0.1:${port}`, plainHttp: true, proxyEnv: null });
    try {
      const error = await failure(client.listTags('demo/app'));
      expect(error.code).toBe('REGISTRY_PROTOCOL');
      expect(error.message).toMatch(/not JSON/);
    } finally {
      await client.close();
      await stop(server);
    }
  });

  it('blames the proxy only when the connection went through one', async () => {
    const check = (proxyEnv: Record<string, string>): Promise<RegistryPushError> => {
      const client = new RegistryClient({ host: '127.0.0.1:1', proxyEnv, retry: { retries: 0 } });
      return failure(client.checkLogin()).finally(() => client.close());
    };
    // The proxy itself refuses connections.
    const proxied = await check({ HTTPS_PROXY: 'http://127.0.0.1:1' });
    expect(proxied.code).toBe('REGISTRY_UNREACHABLE');
    expect(proxied.hint).toMatch(/HTTPS_PROXY/);
    // NO_PROXY sends it direct, and a proxy for plain HTTP does not apply to https.
    const directs: Array<Record<string, string>> = [
      { HTTPS_PROXY: 'http://127.0.0.1:1', NO_PROXY: 'example.com, 127.0.0.1' },
      { HTTP_PROXY: 'http://127.0.0.1:1' },
    ];
    for (const env of directs) {
      const direct = await check(env);
      expect(direct.code).toBe('REGISTRY_UNREACHABLE');
      expect(direct.hint).not.toMatch(/PROXY/);
      expect(direct.hint).toMatch(/resolves and is reachable/);
    }
  });
});
