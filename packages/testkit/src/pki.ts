// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const KEY_ALGORITHM: webcrypto.EcKeyGenParams & webcrypto.EcdsaParams = {
  name: 'ECDSA',
  namedCurve: 'P-256',
  hash: 'SHA-256',
};
const DAY_MS = 24 * 60 * 60 * 1000;

/** A certificate and its private key, both PEM (the key is PKCS#8). */
export interface CertificateAndKey {
  readonly certPem: string;
  readonly keyPem: string;
}

/** What to put in a leaf certificate. */
export interface LeafCertificateOptions {
  commonName: string;
  /** DNS names and IP literals for the subjectAltName; defaults to the common name. */
  altNames?: readonly string[];
  /** Validity from now; default 30 days. Negative values make an already expired certificate. */
  validDays?: number;
  /** Start of validity; default one hour ago (tolerates clock skew). */
  notBefore?: Date;
  /** Also usable as a TLS client certificate. */
  clientAuth?: boolean;
}

/** A throwaway certificate authority that issues server (and client) certificates. */
export interface CertificateAuthority extends CertificateAndKey {
  issue(options: LeafCertificateOptions): Promise<CertificateAndKey>;
}

function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // keep the serial positive
  return bytes.toString('hex');
}

async function keyToPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  const body = der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trimEnd();
  return `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`;
}

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
}

function altName(value: string): x509.JsonGeneralName {
  return isIP(value) !== 0 ? { type: 'ip', value } : { type: 'dns', value };
}

/**
 * Creates a self-signed ECDSA P-256 CA, valid for `validDays` (default 365), that can issue leaf
 * certificates for loopback servers: the registry, the simulator's API server and its router.
 */
export async function createCertificateAuthority(
  commonName = 'registry-push test CA',
  validDays = 365,
): Promise<CertificateAuthority> {
  const caKeys = await generateKeys();
  const now = Date.now();
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${commonName}`,
    notBefore: new Date(now - 60 * 60 * 1000),
    notAfter: new Date(now + validDays * DAY_MS),
    signingAlgorithm: KEY_ALGORITHM,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const caPem = caCert.toString('pem') + '\n';

  return {
    certPem: caPem,
    keyPem: await keyToPem(caKeys.privateKey),
    async issue(options: LeafCertificateOptions): Promise<CertificateAndKey> {
      const keys = await generateKeys();
      const notBefore = options.notBefore ?? new Date(Date.now() - 60 * 60 * 1000);
      const notAfter = new Date(Date.now() + (options.validDays ?? 30) * DAY_MS);
      const usages = [
        x509.ExtendedKeyUsage.serverAuth,
        ...(options.clientAuth ? [x509.ExtendedKeyUsage.clientAuth] : []),
      ];
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: randomSerial(),
        subject: `CN=${options.commonName}`,
        issuer: caCert.subject,
        notBefore,
        notAfter,
        signingAlgorithm: KEY_ALGORITHM,
        publicKey: keys.publicKey,
        signingKey: caKeys.privateKey,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension(usages, false),
          new x509.SubjectAlternativeNameExtension(
            (options.altNames ?? [options.commonName]).map(altName),
            false,
          ),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
          await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
        ],
      });
      return { certPem: cert.toString('pem') + '\n', keyPem: await keyToPem(keys.privateKey) };
    },
  };
}
