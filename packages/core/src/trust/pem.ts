import { X509Certificate } from 'node:crypto';
import { RegistryPushError } from '../errors.js';

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** One parsed certificate of a bundle. */
export interface CertificateInfo {
  subject: string;
  issuer: string;
  notAfter: Date;
  isCa: boolean;
  fingerprint256: string;
}

/**
 * Parse a PEM bundle with Node's X.509 implementation (OpenSSL) and return it normalised (one certificate
 * per block, trailing newline) with the facts the callers check. Anything that is not a certificate —
 * including a private key pasted by mistake — is refused without echoing it.
 */
export function parseCertificateBundle(
  pem: string,
  what: string,
): { pem: string; certificates: CertificateInfo[] } {
  const blocks = pem.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) {
    throw new RegistryPushError('CA_INVALID', `${what} holds no PEM certificate.`, {
      hint: 'Give the PEM text (-----BEGIN CERTIFICATE-----) of the CA that signed the registry route.',
    });
  }
  const certificates = blocks.map((block, index) => {
    try {
      const certificate = new X509Certificate(block);
      return {
        subject: certificate.subject.replace(/\n/g, ', '),
        issuer: certificate.issuer.replace(/\n/g, ', '),
        notAfter: new Date(certificate.validTo),
        isCa: certificate.ca,
        fingerprint256: certificate.fingerprint256,
      };
    } catch {
      throw new RegistryPushError(
        'CA_INVALID',
        `Certificate ${index + 1} of ${what} does not parse as X.509.`,
        {
          hint: 'Check that the PEM was copied whole.',
        },
      );
    }
  });
  return { pem: blocks.join('\n') + '\n', certificates };
}

/** The host part of `host[:port]` and the port (443 by default), IPv6 literals in brackets allowed. */
export function splitHostPort(hostPort: string): { hostname: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostPort);
  if (match === null) {
    throw new RegistryPushError('OPTION_INVALID', `"${hostPort}" is not a host or host:port.`, {
      hint: 'Give the registry host, e.g. default-route-openshift-image-registry.apps.example.com.',
    });
  }
  const hostname = (match[1] ?? '').replace(/^\[|\]$/g, '');
  return { hostname, port: match[2] === undefined ? 443 : Number(match[2]) };
}
