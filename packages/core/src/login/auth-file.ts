import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { RegistryPushError, isRegistryPushError } from '../errors.js';
import { fileSystemProblem, makeDirectories } from '../make-directories.js';
import { holdTemporary, releaseTemporary } from '../temporary-files.js';

/**
 * The auth file shared by Docker (`$DOCKER_CONFIG/config.json`) and containers/image tools
 * (`REGISTRY_AUTH_FILE`, `--authfile`): `{"auths": {"<host>": {"auth": base64("user:token")}}}`.
 */
interface AuthFileContent {
  auths?: Record<string, { auth?: string } & Record<string, unknown>>;
  [key: string]: unknown;
}

/** A written credential entry, described without the secret. */
export interface AuthEntry {
  /** The auth file path (named `config.json`, so its directory also works as `DOCKER_CONFIG`). */
  path: string;
  host: string;
  /** Whether the directory was created for this login (then logout removes it whole). */
  ownsDirectory: boolean;
  /** sha256 of the entry, so logout removes it only if nobody replaced it since. */
  entryDigest: string;
}

function digest(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

async function readAuthFile(path: string): Promise<AuthFileContent> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw authFileError(error, path, 'read');
  }
  if (text.trim() === '') return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('not an object');
    return parsed as AuthFileContent;
  } catch {
    throw new RegistryPushError(
      'OPTION_INVALID',
      `The auth file ${path} is not valid JSON, so it was left as it is.`,
      {
        hint: 'Point to a docker/containers auth file, or to a path that does not exist yet.',
      },
    );
  }
}

/** A file system error on the auth file as one line that names the path and what to do. */
function authFileError(error: unknown, path: string, action: 'read' | 'written'): unknown {
  const problem = isRegistryPushError(error) ? undefined : fileSystemProblem(error);
  if (problem === undefined) return error;
  return new RegistryPushError('OPTION_INVALID', `The auth file ${path} cannot be ${action}: ${problem}.`, {
    hint: 'Give --authfile a file path in a directory you can write (e.g. under $RUNNER_TEMP or $HOME), or leave it out for a private temporary one.',
    details: { path },
  });
}

/** Write the file so that it is never readable by others, not even for a moment (temp file + rename). */
async function writePrivately(path: string, content: AuthFileContent): Promise<void> {
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, JSON.stringify(content, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    await chmod(temporary, 0o600);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw authFileError(error, path, 'written');
  }
}

/** A new 0700 directory for the auth file, held for removal should the run be interrupted. */
async function privateDirectory(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'registry-push-auth-'));
  holdTemporary(dir);
  return dir;
}

/**
 * Store `username:token` for `host`. Without a path, a new private directory (0700) holds `config.json`
 * (0600). With a path, other hosts' entries in it are kept.
 */
export async function writeAuthEntry(options: {
  host: string;
  username: string;
  token: string;
  path?: string;
}): Promise<AuthEntry> {
  const ownsDirectory = options.path === undefined;
  const path = options.path ?? join(await privateDirectory(), 'config.json');
  if (!ownsDirectory) {
    await makeDirectories(dirname(path), 0o700).catch((error: unknown) => {
      throw authFileError(error, path, 'written');
    });
  }
  const content = await readAuthFile(path);
  const auth = Buffer.from(`${options.username}:${options.token}`).toString('base64');
  content.auths = { ...(content.auths ?? {}), [options.host]: { auth } };
  await writePrivately(path, content);
  return { path, host: options.host, ownsDirectory, entryDigest: digest(auth) };
}

/**
 * Remove what {@link writeAuthEntry} wrote: the whole private directory, or only our entry of a shared
 * file (and only if it still holds our credential). Returns what was done.
 */
export async function removeAuthEntry(
  entry: AuthEntry,
): Promise<'removed-directory' | 'removed-entry' | 'not-ours' | 'absent'> {
  if (entry.ownsDirectory) {
    await rm(dirname(entry.path), { recursive: true, force: true });
    releaseTemporary(dirname(entry.path));
    return 'removed-directory';
  }
  const content = await readAuthFile(entry.path);
  const current = content.auths?.[entry.host];
  if (current === undefined) return 'absent';
  if (current.auth === undefined || digest(current.auth) !== entry.entryDigest) return 'not-ours';
  delete content.auths?.[entry.host];
  await writePrivately(entry.path, content);
  return 'removed-entry';
}

/**
 * {@link removeAuthEntry}, synchronously, for a signal handler that must finish before the process exits;
 * never throws (it is the last thing a dying run does).
 */
export function removeAuthEntrySync(entry: AuthEntry): 'removed-directory' | 'removed-entry' | 'kept' {
  try {
    if (entry.ownsDirectory) {
      rmSync(dirname(entry.path), { recursive: true, force: true });
      releaseTemporary(dirname(entry.path));
      return 'removed-directory';
    }
    const content = JSON.parse(readFileSync(entry.path, 'utf8')) as AuthFileContent;
    const current = content.auths?.[entry.host]?.auth;
    if (current === undefined || digest(current) !== entry.entryDigest) return 'kept';
    delete content.auths?.[entry.host];
    const temporary = `${entry.path}.${randomBytes(6).toString('hex')}.tmp`;
    writeFileSync(temporary, JSON.stringify(content, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    renameSync(temporary, entry.path);
    return 'removed-entry';
  } catch {
    return 'kept';
  }
}

/**
 * The `username` and token stored for `host` in an auth file (as written by login, podman, skopeo or
 * docker with a plain `auth` entry); undefined when the file has none. Credential helpers are not run.
 */
export async function readAuthCredentials(
  path: string,
  host: string,
): Promise<{ username: string; password: string } | undefined> {
  const content = await readAuthFile(path);
  const encoded = content.auths?.[host]?.auth;
  if (typeof encoded !== 'string' || encoded === '') return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) {
    throw new RegistryPushError('OPTION_INVALID', `The ${host} entry of ${path} is not user:token.`, {
      hint: 'Log in again (registry-push login) to rewrite it.',
    });
  }
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
