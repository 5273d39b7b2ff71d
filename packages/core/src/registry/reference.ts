import { RegistryPushError } from '../errors.js';

/**
 * Image references, following the distribution reference grammar
 * (`[domain[:port]/]path-component[/path-component...][:tag][@digest]`), with the extra rule of the
 * OpenShift integrated registry that a repository is exactly `<project>/<name>`.
 */

/** A parsed reference; `host` is always present (we never guess docker.io for a push target). */
export interface ImageReference {
  /** Registry `host[:port]`. */
  host: string;
  /** The repository path, e.g. `demo/app`. */
  repository: string;
  tag?: string;
  digest?: string;
}

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';

const DOMAIN_RE = new RegExp(`^${DOMAIN}$`);
const PATH_COMPONENT_RE = new RegExp(`^${PATH_COMPONENT}$`);
const TAG_RE = new RegExp(`^${TAG}$`);
const DIGEST_RE = new RegExp(`^${DIGEST}$`);
/** A Kubernetes namespace name (DNS-1123 label). */
const PROJECT_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The longest repository name distribution accepts. */
const MAX_NAME_LENGTH = 255;

function invalid(input: string, why: string, hint?: string): RegistryPushError {
  return new RegistryPushError('REFERENCE_INVALID', `"${input}" is not a valid image reference: ${why}.`, {
    hint:
      hint ??
      'Write it as HOST/PROJECT/NAME[:TAG], e.g. default-route-openshift-image-registry.apps.example.com/demo/app:v1.',
  });
}

/** Whether `tag` is a valid tag (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`). */
export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** Whether `digest` has the `algorithm:hex` shape of the grammar. */
export function isValidDigest(digest: string): boolean {
  return DIGEST_RE.test(digest);
}

/** Whether `host` is a registry `host[:port]` of the grammar. */
export function isValidHost(host: string): boolean {
  return DOMAIN_RE.test(host);
}

/** Throws a REFERENCE_INVALID error unless `tag` is valid. */
export function validateTag(tag: string): string {
  if (!isValidTag(tag)) {
    throw new RegistryPushError('REFERENCE_INVALID', `"${tag}" is not a valid tag.`, {
      hint: 'A tag is up to 128 letters, digits, "_", "." and "-", and does not start with "." or "-".',
    });
  }
  return tag;
}

/**
 * Parse a reference that names its registry host (`host[:port]/path[:tag][@digest]`). The first component
 * must look like a host (contain `.` or `:`, or be `localhost`), as distribution decides.
 */
export function parseReference(input: string): ImageReference {
  const text = input.trim();
  if (text === '') throw invalid(input, 'it is empty');
  const { rest: named, digest } = splitDigest(input, text);
  const { rest, tag } = splitTag(input, named);
  const slash = rest.indexOf('/');
  if (slash < 0) throw invalid(input, 'it names no registry host');
  const host = checkHost(input, rest.slice(0, slash));
  const repository = checkRepository(input, rest.slice(slash + 1));
  return {
    host,
    repository,
    ...(tag === undefined ? {} : { tag }),
    ...(digest === undefined ? {} : { digest }),
  };
}

/** Splits off `@digest` (the digest comes last and may itself contain `:`, so it goes first). */
function splitDigest(input: string, text: string): { rest: string; digest?: string } {
  const at = text.indexOf('@');
  if (at < 0) return { rest: text };
  const digest = text.slice(at + 1);
  if (!DIGEST_RE.test(digest)) throw invalid(input, `"${digest}" is not a digest (algorithm:hex)`);
  return { rest: text.slice(0, at), digest };
}

/** Splits off `:tag`: only a colon after the last `/`, since a colon before it is the host's port. */
function splitTag(input: string, text: string): { rest: string; tag?: string } {
  const lastColon = text.lastIndexOf(':');
  if (lastColon <= text.lastIndexOf('/')) return { rest: text };
  const tag = text.slice(lastColon + 1);
  if (!TAG_RE.test(tag)) throw invalid(input, `"${tag}" is not a valid tag`);
  return { rest: text.slice(0, lastColon), tag };
}

/** The first component is a host only if it looks like one, as distribution decides. */
function checkHost(input: string, host: string): string {
  const looksLikeHost =
    host.includes('.') || host.includes(':') || host === 'localhost' || host.startsWith('[');
  if (!looksLikeHost || !DOMAIN_RE.test(host)) {
    throw invalid(input, `"${host}" is not a registry host`);
  }
  return host;
}

function checkRepository(input: string, repository: string): string {
  if (repository === '') throw invalid(input, 'the repository is empty');
  if (repository.length > MAX_NAME_LENGTH) {
    throw invalid(input, `the repository is longer than ${MAX_NAME_LENGTH} characters`);
  }
  for (const component of repository.split('/')) {
    if (!PATH_COMPONENT_RE.test(component)) {
      throw invalid(
        input,
        `"${component}" is not a valid path component`,
        'Path components are lowercase letters and digits, separated by ".", "_", "__" or "-".',
      );
    }
  }
  return repository;
}

/**
 * Parse a push target of the OpenShift integrated registry: exactly `host/project/name[:tag]`, where the
 * project is an existing namespace name and the name becomes the ImageStream.
 */
export function parseOpenShiftTarget(input: string): ImageReference & { project: string; name: string } {
  const reference = parseReference(input);
  if (reference.digest !== undefined) {
    throw invalid(
      input,
      'a push target takes tags, not a digest',
      'Drop the "@sha256:..." part and give tags.',
    );
  }
  const parts = reference.repository.split('/');
  if (parts.length !== 2) {
    throw invalid(
      input,
      `the OpenShift registry needs exactly PROJECT/NAME after the host, not "${reference.repository}"`,
      'The project (namespace) must be in the path: HOST/PROJECT/NAME, e.g. registry.example.com/demo/app.',
    );
  }
  const [project = '', name = ''] = parts;
  if (!PROJECT_RE.test(project) || project.length > 63) {
    throw invalid(
      input,
      `"${project}" is not a project name (lowercase letters, digits and "-", at most 63)`,
    );
  }
  return { ...reference, project, name };
}

/** `host/repository[:tag][@digest]`. */
export function formatReference(reference: ImageReference): string {
  return (
    `${reference.host}/${reference.repository}` +
    (reference.tag === undefined ? '' : `:${reference.tag}`) +
    (reference.digest === undefined ? '' : `@${reference.digest}`)
  );
}
