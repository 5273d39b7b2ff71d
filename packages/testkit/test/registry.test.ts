import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildOciImage,
  httpRequest,
  makeWorkDir,
  removeWorkDir,
  runSkopeo,
  startRegistry,
  type BuiltImage,
} from '../src/index.js';
import { isAlive } from './helpers.js';

const sha256 = (data: string | Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

describe('startRegistry', () => {
  let outDir: string;
  let image: BuiltImage;

  beforeAll(async () => {
    outDir = await makeWorkDir('registry-test');
    image = await buildOciImage({ outDir, layers: 2, layerSize: 32 * 1024, seed: 'registry-test' });
  });
  afterAll(async () => {
    await removeWorkDir(outDir);
  });

  it('accepts a skopeo push over HTTP and serves it back by digest', async () => {
    const registry = await startRegistry();
    try {
      expect(registry.host).toMatch(/^127\.0\.0\.1:\d+$/);
      await runSkopeo([
        'copy',
        '--dest-tls-verify=false',
        `oci:${image.layoutDir}:${image.tag}`,
        `docker://${registry.host}/demo/app:v1`,
      ]);
      const { stdout } = await runSkopeo([
        'inspect',
        '--raw',
        '--tls-verify=false',
        `docker://${registry.host}/demo/app@${image.digest}`,
      ]);
      expect(sha256(stdout)).toBe(image.digest);
      const tags = await httpRequest(`${registry.url}/v2/demo/app/tags/list`);
      expect(JSON.parse(tags.body.toString())).toEqual({ name: 'demo/app', tags: ['v1'] });
      // the blobs really are in the filesystem storage the caller was told about
      const layer = image.manifests[0]?.layers[0];
      expect(layer).toBeDefined();
      const hex = layer?.digest.slice(7) ?? '';
      expect(
        existsSync(`${registry.storageDir}/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`),
      ).toBe(true);
    } finally {
      await registry.stop();
    }
  });

  it('serves TLS from its own CA and enforces htpasswd credentials', async () => {
    const registry = await startRegistry({
      tls: true,
      auth: { username: 'pusher', password: 's3cret-pass' },
    });
    try {
      expect(registry.url.startsWith('https://')).toBe(true);
      expect(registry.caPem).toContain('BEGIN CERTIFICATE');
      // the CA is the only thing that makes the certificate trusted
      await expect(httpRequest(`${registry.url}/v2/`)).rejects.toThrow(/certificate/i);
      const anonymous = await httpRequest(`${registry.url}/v2/`, { caPem: registry.caPem });
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers['www-authenticate']).toMatch(/^Basic realm=/);

      const certDir = registry.certDir ?? '';
      await expect(
        runSkopeo([
          'copy',
          '--dest-cert-dir',
          certDir,
          '--dest-creds',
          'pusher:wrong',
          `oci:${image.layoutDir}:${image.tag}`,
          `docker://${registry.host}/demo/app:v1`,
        ]),
      ).rejects.toThrow(/unauthorized|authentication required/i);

      await runSkopeo([
        'copy',
        '--dest-cert-dir',
        certDir,
        '--dest-creds',
        'pusher:s3cret-pass',
        `oci:${image.layoutDir}:${image.tag}`,
        `docker://${registry.host}/demo/app:v1`,
      ]);
      const basic = `Basic ${Buffer.from('pusher:s3cret-pass').toString('base64')}`;
      const manifest = await httpRequest(`${registry.url}/v2/demo/app/manifests/${image.digest}`, {
        caPem: registry.caPem,
        headers: { Authorization: basic, Accept: image.mediaType },
      });
      expect(manifest.status).toBe(200);
      expect(sha256(manifest.body)).toBe(image.digest);
    } finally {
      await registry.stop();
    }
  });

  it('has deletes enabled', async () => {
    const registry = await startRegistry();
    try {
      await runSkopeo([
        'copy',
        '--dest-tls-verify=false',
        `oci:${image.layoutDir}:${image.tag}`,
        `docker://${registry.host}/demo/app:gone`,
      ]);
      const deleted = await httpRequest(`${registry.url}/v2/demo/app/manifests/${image.digest}`, {
        method: 'DELETE',
      });
      expect(deleted.status).toBe(202);
      const after = await httpRequest(`${registry.url}/v2/demo/app/manifests/${image.digest}`, {
        headers: { Accept: image.mediaType },
      });
      expect(after.status).toBe(404);
    } finally {
      await registry.stop();
    }
  });

  it('rejects pushes in read-only mode', async () => {
    const registry = await startRegistry({ readOnly: true });
    try {
      await expect(
        runSkopeo([
          'copy',
          '--retry-times=0',
          '--dest-tls-verify=false',
          `oci:${image.layoutDir}:${image.tag}`,
          `docker://${registry.host}/demo/app:v1`,
        ]),
      ).rejects.toThrow(/read-only|unsupported|405/i);
    } finally {
      await registry.stop();
    }
  });

  it('stops by PID and removes its storage unless asked to keep it', async () => {
    const temporary = await startRegistry();
    await temporary.stop();
    expect(isAlive(temporary.pid)).toBe(false);
    expect(existsSync(temporary.storageDir)).toBe(false);

    const kept = await startRegistry({ keepStorage: true });
    await kept.stop();
    expect(isAlive(kept.pid)).toBe(false);
    expect(existsSync(kept.storageDir)).toBe(true);
    await removeWorkDir(kept.storageDir);
  });
});
