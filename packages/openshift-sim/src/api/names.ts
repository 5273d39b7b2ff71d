import type { NameRule } from './types.js';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// The repository-name component docker and the integrated registry accept.
const IMAGE_STREAM = /^[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*$/;

/** Returns kube's complaint about a name, or undefined when the name is valid under the rule. */
export function nameProblem(name: string, rule: NameRule): string | undefined {
  switch (rule) {
    case 'dns-subdomain':
      if (name.length > 253) return 'must be no more than 253 characters';
      return DNS_SUBDOMAIN.test(name)
        ? undefined
        : "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    case 'dns-label':
      if (name.length > 63) return 'must be no more than 63 characters';
      return DNS_LABEL.test(name)
        ? undefined
        : "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    case 'path-segment':
      if (name === '.' || name === '..') return `may not be '${name}'`;
      if (name.includes('/')) return "may not contain '/'";
      if (name.includes('%')) return "may not contain '%'";
      return undefined;
    case 'image-stream':
      if (name.length > 255) return 'must be no more than 255 characters';
      return IMAGE_STREAM.test(name) ? undefined : `must match "${IMAGE_STREAM.source}"`;
  }
}

/** Docker/OCI tag syntax. */
export const TAG_PATTERN = /^[\w][\w.-]{0,127}$/;

/** `sha256:<64 hex>` */
export const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;
