import { RegistryPushError } from '../errors.js';
import { parseReference, type ImageReference } from '../registry/reference.js';

/** Where an image is read from or written to by pull and copy. */
export type TransferReference =
  { transport: 'docker'; reference: ImageReference } | { transport: 'oci'; path: string; ref?: string };

/** The transports skopeo knows that pull and copy do not read or write. */
const OTHER_TRANSPORTS = [
  'dir',
  'oci-archive',
  'docker-archive',
  'docker-daemon',
  'containers-storage',
  'sif',
  'ostree',
];

function unsupported(input: string, transport: string, role: string, takes: string): RegistryPushError {
  return new RegistryPushError(
    'TRANSPORT_UNSUPPORTED',
    `The ${role} ${input} uses the ${transport}: transport, which this command does not ${role === 'source' ? 'read' : 'write'}.`,
    { hint: `Give ${takes}.`, details: { transport, role } },
  );
}

/**
 * A registry reference, `docker://HOST/REPO[:TAG][@DIGEST]` or without the prefix as `push` takes it; any
 * other transport is TRANSPORT_UNSUPPORTED naming it.
 */
export function parseRegistryReference(input: string, role: 'source' | 'destination'): ImageReference {
  const text = input.startsWith('docker://') ? input.slice('docker://'.length) : input;
  const colon = text.indexOf(':');
  const prefix = colon < 0 ? '' : text.slice(0, colon);
  if (OTHER_TRANSPORTS.includes(prefix) || prefix === 'oci') {
    throw unsupported(input, prefix, role, 'a registry image as docker://HOST/REPOSITORY:TAG');
  }
  return parseReference(text);
}

/**
 * A pull destination: `oci:DIR[:REF]` (an OCI image layout directory; REF becomes the
 * `org.opencontainers.image.ref.name` of the image in its index). Any other is TRANSPORT_UNSUPPORTED.
 */
export function parseLayoutReference(input: string): { path: string; ref?: string } {
  const colon = input.indexOf(':');
  const transport = colon < 0 ? '' : input.slice(0, colon);
  if (transport !== 'oci') {
    throw unsupported(input, transport === '' ? 'no' : transport, 'destination', 'oci:DIR or oci:DIR:REF');
  }
  const rest = input.slice(colon + 1);
  if (rest === '') {
    throw new RegistryPushError('OPTION_INVALID', `"${input}" names no directory.`, {
      hint: 'Write oci:DIR or oci:DIR:REF, e.g. oci:./image:v1.',
    });
  }
  // A colon after the last slash splits off the ref: paths may hold colons in earlier components only.
  const last = rest.lastIndexOf(':');
  if (last <= rest.lastIndexOf('/') || last === 0) return { path: rest };
  const ref = rest.slice(last + 1);
  if (ref === '' || !/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(ref)) {
    throw new RegistryPushError('REFERENCE_INVALID', `"${ref}" is not a valid ref name for ${input}.`, {
      hint: 'A ref name is a tag such as v1 or latest.',
    });
  }
  return { path: rest.slice(0, last), ref };
}
