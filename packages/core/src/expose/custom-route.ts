import { X509Certificate, createPrivateKey } from 'node:crypto';
import { RegistryNames } from '../cluster/resources.js';
import { RegistryPushError } from '../errors.js';

/** A registry route of our own: `spec.routes[]` entry plus, optionally, its TLS secret. */
export interface CustomRouteOptions {
  /** Route name in `openshift-image-registry` (not `default-route`, which the operator owns). */
  name: string;
  /** The host the route serves. */
  hostname: string;
  /** PEM certificate (chain) for the host; with `keyPem`, stored in the secret. */
  certPem?: string;
  /** PEM private key of `certPem`. */
  keyPem?: string;
  /** PEM of the CA that signed `certPem`, stored as `tls.cacrt`. */
  caPem?: string;
  /** Secret name (default `public-route-tls`); without a certificate, an existing secret to reference. */
  secretName?: string;
}

/** The default secret name of the OpenShift docs' custom-route procedure. */
export const DEFAULT_ROUTE_SECRET = 'public-route-tls';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function invalid(message: string, hint: string): RegistryPushError {
  return new RegistryPushError('OPTION_INVALID', message, { hint });
}

function checkCertificate(
  route: CustomRouteOptions & { certPem: string; keyPem: string },
  warnings: string[],
): void {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(route.certPem);
  } catch {
    throw new RegistryPushError('CA_INVALID', 'The route certificate is not a PEM X.509 certificate.', {
      hint: 'Give the PEM file of the certificate (-----BEGIN CERTIFICATE-----).',
    });
  }
  let matches: boolean;
  try {
    matches = certificate.checkPrivateKey(createPrivateKey(route.keyPem));
  } catch {
    // The key's parse error could quote key material; say only that it did not parse.
    throw new RegistryPushError('CA_INVALID', 'The route key is not a PEM private key.', {
      hint: 'Give the unencrypted PEM private key of the certificate.',
    });
  }
  if (!matches) {
    throw new RegistryPushError('CA_INVALID', 'The route key does not belong to the route certificate.', {
      hint: 'Give the key the certificate was issued for.',
    });
  }
  if (certificate.checkHost(route.hostname) === undefined) {
    throw new RegistryPushError(
      'CA_INVALID',
      `The route certificate is not valid for ${route.hostname} (subject ${certificate.subject.replace(/\n/g, ', ')}).`,
      {
        hint: 'Issue a certificate whose subjectAltName covers the route hostname.',
      },
    );
  }
  const expires = new Date(certificate.validTo);
  if (expires.getTime() < Date.now()) {
    throw new RegistryPushError(
      'CERT_EXPIRED',
      `The route certificate expired on ${expires.toISOString()}.`,
      {
        hint: 'Renew the certificate.',
      },
    );
  }
  if (expires.getTime() - Date.now() < 30 * 24 * 3600 * 1000) {
    warnings.push(`The route certificate expires on ${expires.toISOString()}.`);
  }
}

/** Check a custom route's options before anything is written; returns the secret name to use. */
export function validateCustomRoute(route: CustomRouteOptions, warnings: string[]): { secretName: string } {
  if (!DNS_LABEL.test(route.name) || route.name.length > 63) {
    throw invalid(
      `The route name "${route.name}" is not a valid name.`,
      'Use lower-case letters, digits and dashes (at most 63).',
    );
  }
  if (route.name === RegistryNames.defaultRoute) {
    throw invalid(
      'The route name default-route is reserved for the operator.',
      'Pick another name, or use the default-route mode.',
    );
  }
  if (!DNS_SUBDOMAIN.test(route.hostname) || route.hostname.length > 253) {
    throw invalid(
      `The route hostname "${route.hostname}" is not a valid DNS name.`,
      'Give a host such as registry.apps.example.com.',
    );
  }
  const secretName = route.secretName ?? DEFAULT_ROUTE_SECRET;
  if (!DNS_SUBDOMAIN.test(secretName)) {
    throw invalid(
      `The secret name "${secretName}" is not a valid name.`,
      'Use lower-case letters, digits, dashes and dots.',
    );
  }
  if ((route.certPem === undefined) !== (route.keyPem === undefined)) {
    throw invalid(
      'A route certificate needs its key, and a key its certificate.',
      'Give both, or neither to use the ingress default certificate.',
    );
  }
  if (route.certPem !== undefined && route.keyPem !== undefined) {
    checkCertificate({ ...route, certPem: route.certPem, keyPem: route.keyPem }, warnings);
  }
  return { secretName };
}
