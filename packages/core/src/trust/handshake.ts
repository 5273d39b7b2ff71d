import { isIP } from 'node:net';
import { connect, rootCertificates, type PeerCertificate } from 'node:tls';
import { splitHostPort } from './pem.js';

/** What a TLS handshake with the registry showed. */
export type HandshakeResult =
  | { verified: true; leafSubject: string; leafNotAfter: Date }
  | { verified: false; reason: string; leafNotAfter?: Date; unreachable?: boolean };

/** Options of {@link checkServedCertificate}. */
export interface HandshakeOptions {
  /** `host[:port]` as clients use it (SNI and name check). */
  host: string;
  /** Extra trust anchors (PEM), added to the system roots as the platform's own clients do. */
  caPem?: string;
  /** Dial this `ip:port` instead of resolving the host (SNI stays the host). */
  connectTo?: string;
  timeoutMs?: number;
}

function commonName(certificate: PeerCertificate): string | undefined {
  const cn: string | string[] | undefined = certificate.subject?.CN;
  return Array.isArray(cn) ? cn[0] : cn;
}

function leafExpiry(certificate: PeerCertificate | undefined): Date | undefined {
  if (certificate === undefined || certificate.valid_to === undefined) return undefined;
  return new Date(certificate.valid_to);
}

/**
 * Make a real TLS handshake with the registry and report whether its served chain verifies for the host
 * with the given anchors. Nothing is sent over the connection; it is closed right after the handshake.
 */
export function checkServedCertificate(options: HandshakeOptions): Promise<HandshakeResult> {
  const { hostname, port } = splitHostPort(options.host);
  const target = options.connectTo === undefined ? { hostname, port } : splitHostPort(options.connectTo);
  return new Promise((resolve) => {
    const socket = connect({
      host: target.hostname,
      port: target.port,
      // SNI carries names only (RFC 6066); an IP literal host is verified against the IP SANs instead.
      ...(isIP(hostname) === 0 ? { servername: hostname } : {}),
      ca: options.caPem === undefined ? undefined : [...rootCertificates, options.caPem],
      rejectUnauthorized: false,
      timeout: options.timeoutMs ?? 10_000,
    });
    const finish = (result: HandshakeResult): void => {
      socket.destroy();
      resolve(result);
    };
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate();
      const notAfter = leafExpiry(peer);
      if (!socket.authorized) {
        // Node documents an Error but sets the OpenSSL code string (e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE).
        const raw: unknown = socket.authorizationError;
        const reason =
          raw instanceof Error ? ((raw as NodeJS.ErrnoException).code ?? raw.message) : String(raw);
        finish({ verified: false, reason, ...(notAfter === undefined ? {} : { leafNotAfter: notAfter }) });
        return;
      }
      finish({
        verified: true,
        leafSubject: commonName(peer) ?? hostname,
        leafNotAfter: notAfter ?? new Date(0),
      });
    });
    socket.once('timeout', () =>
      finish({ verified: false, reason: 'timed out during the TLS handshake', unreachable: true }),
    );
    socket.once('error', (error: NodeJS.ErrnoException) =>
      finish({ verified: false, reason: error.code ?? error.message, unreachable: true }),
    );
  });
}
