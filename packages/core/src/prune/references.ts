/**
 * Image pull specs (`[host[:port]/]path[:tag][@digest]`) parsed with the grammar of the distribution
 * reference library, and resolved to what they can protect in the integrated registry.
 */

/** A parsed pull spec. */
export interface ParsedReference {
  /** Registry host and port, when the spec names one. */
  host?: string;
  /** The repository path components (at least one). */
  path: string[];
  tag?: string;
  digest?: string;
}

/** A pull spec that does not parse, with the reason. */
export class ReferenceSyntaxError extends Error {
  constructor(
    readonly reference: string,
    readonly problem: string,
  ) {
    super(`invalid image reference "${reference}": ${problem}`);
    this.name = 'ReferenceSyntaxError';
  }
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^\w[\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const SHA256 = /^sha256:[a-f0-9]{64}$/;
const HOST =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:]+\])(?::\d+)?$/;

function looksLikeHost(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost';
}

function splitDigest(reference: string): [rest: string, digest: string | undefined] {
  const at = reference.indexOf('@');
  if (at < 0) return [reference, undefined];
  const digest = reference.slice(at + 1);
  if (!DIGEST.test(digest)) throw new ReferenceSyntaxError(reference, `bad digest "${digest}"`);
  if (digest.startsWith('sha256:') && !SHA256.test(digest)) {
    throw new ReferenceSyntaxError(reference, `bad sha256 digest "${digest}"`);
  }
  return [reference.slice(0, at), digest];
}

function splitTag(reference: string, rest: string): [rest: string, tag: string | undefined] {
  const colon = rest.lastIndexOf(':');
  if (colon <= rest.lastIndexOf('/')) return [rest, undefined];
  const tag = rest.slice(colon + 1);
  if (!TAG.test(tag)) throw new ReferenceSyntaxError(reference, `bad tag "${tag}"`);
  return [rest.slice(0, colon), tag];
}

function splitHost(reference: string, rest: string): [host: string | undefined, path: string[]] {
  const components = rest.split('/');
  let host: string | undefined;
  if (components.length > 1 && looksLikeHost(components[0] ?? '')) {
    host = components.shift() ?? '';
    if (!HOST.test(host)) throw new ReferenceSyntaxError(reference, `bad host "${host}"`);
  }
  for (const component of components) {
    if (!COMPONENT.test(component)) {
      throw new ReferenceSyntaxError(reference, `bad repository name component "${component}"`);
    }
  }
  if (components.join('/').length > 255)
    throw new ReferenceSyntaxError(reference, 'repository name too long');
  return [host, components];
}

/**
 * Parses a pull spec.
 *
 * @param reference The pull spec, exactly as written in the object (no trimming: a stray space is an error).
 * @returns The parts.
 * @throws ReferenceSyntaxError When it does not follow the grammar.
 */
export function parsePullSpec(reference: string): ParsedReference {
  if (reference === '') throw new ReferenceSyntaxError(reference, 'empty');
  if (reference.length > 4096) throw new ReferenceSyntaxError(reference, 'too long');
  if (/\s/.test(reference)) throw new ReferenceSyntaxError(reference, 'contains white space');
  const [withoutDigest, digest] = splitDigest(reference);
  const [name, tag] = splitTag(reference, withoutDigest);
  const [host, path] = splitHost(reference, name);
  return {
    ...(host !== undefined ? { host } : {}),
    path,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

/** What a parsed reference can protect. */
export interface ResolvedUse {
  namespace?: string;
  name?: string;
  tag?: string;
  digest?: string;
}

/**
 * Resolves a parsed pull spec to a stream, the way the pruner matches references against stream history.
 *
 * - `host/ns/name[:tag|@digest]` and `ns/name…` point at stream `ns/name`; the host is ignored, as oc does,
 *   so a reference through a route or the service name matches the same stream.
 * - A bare `name[:tag|@digest]` (no host, no namespace) is how a workload template uses an image stream
 *   with `lookupPolicy.local`; it is resolved in the referrer's namespace. oc skips such references; here
 *   they protect, which can only keep more.
 * - Anything else (`docker.io/nginx`, deeper paths) names no stream; a digest in it still protects the Image
 *   of that digest.
 * - A reference without tag or digest means `latest`.
 *
 * @param parsed The parsed pull spec.
 * @param referrerNamespace The namespace of the object holding the reference.
 * @returns The stream coordinates (when any) and the digest.
 */
export function resolveUse(parsed: ParsedReference, referrerNamespace: string): ResolvedUse {
  const digest = parsed.digest;
  const tag = digest === undefined ? (parsed.tag ?? 'latest') : undefined;
  let namespace: string | undefined;
  let name: string | undefined;
  if (parsed.path.length === 2) {
    [namespace, name] = parsed.path;
  } else if (parsed.path.length === 1 && parsed.host === undefined && referrerNamespace !== '') {
    namespace = referrerNamespace;
    name = parsed.path[0];
  }
  return {
    ...(namespace !== undefined && name !== undefined ? { namespace, name } : {}),
    ...(tag !== undefined && name !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}
