import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createCertificateAuthority, httpRequest } from '../src/index.js';

describe('createCertificateAuthority', () => {
  it('issues server certificates that verify against the CA and nothing else', async () => {
    const ca = await createCertificateAuthority('test CA');
    const other = await createCertificateAuthority('other CA');
    const leaf = await ca.issue({ commonName: 'router', altNames: ['127.0.0.1', 'apps.example.test'] });
    const cert = new X509Certificate(leaf.certPem);
    const caCert = new X509Certificate(ca.certPem);
    expect(caCert.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('apps.example.test')).toBe('apps.example.test');
    expect(cert.checkHost('other.example.test')).toBeUndefined();

    const server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (_req, res) => res.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      const res = await httpRequest(`https://127.0.0.1:${port}/`, { caPem: ca.certPem });
      expect(res.body.toString()).toBe('ok');
      await expect(httpRequest(`https://127.0.0.1:${port}/`, { caPem: other.certPem })).rejects.toThrow();
    } finally {
      server.close();
    }
  });

  it('can issue an already expired certificate for negative tests', async () => {
    const ca = await createCertificateAuthority();
    const expired = await ca.issue({
      commonName: '127.0.0.1',
      altNames: ['127.0.0.1'],
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      validDays: -1,
    });
    expect(new Date(new X509Certificate(expired.certPem).validTo).getTime()).toBeLessThan(Date.now());
  });
});
