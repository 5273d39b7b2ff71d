import type { ClusterApi } from '../ports/cluster-api.js';
import { RegistryPushError, isRegistryPushError } from '../errors.js';
import { checkRegistryLogin, type CredentialChecker } from '../registry/login-check.js';
import { installTrust, uninstallTrust } from '../trust/install.js';
import { redact } from '../secrets.js';
import { removeAuthEntry, writeAuthEntry, type AuthEntry } from './auth-file.js';
import { resolveToken, validateUsername, type TokenSource } from './token.js';
import { runToolCommand, toolLoginCommand, type LoginTool } from './tool-login.js';
import type { CommandRunner } from '../ports/command-runner.js';

/** The username used when none is given; the OpenShift registry accepts any name without `:`. */
export const DEFAULT_USERNAME = 'registry-push';

/** Options of {@link registryLogin}. */
export interface LoginOptions {
  /** Registry `host[:port]`. */
  host: string;
  /** The token; default: the cluster client's bearer token (kubeconfig or service account). */
  token?: string;
  client?: ClusterApi;
  /** Default {@link DEFAULT_USERNAME}; must not contain `:`. */
  username?: string;
  /** CA to trust for the host (from `registryTrust`). */
  caPem?: string;
  /** `certs.d` root for tool logins (from `installTrust`). */
  certDir?: string;
  /** Default true. */
  tlsVerify?: boolean;
  /** Dial this `ip:port` instead of resolving the host. */
  connectTo?: string;
  /** Write to this auth file (other entries kept); default a new private `config.json`. */
  authFile?: string;
  /** Also run `<tool> login --password-stdin` (writing to the same auth file). */
  tool?: LoginTool;
  /** Check the credentials against `/v2/` before writing them (default true). */
  verify?: boolean;
  /** Plain HTTP (a local registry without TLS); passed to the check. */
  plainHttp?: boolean;
  /** The check to use (default: `GET /v2/` with the built-in registry client). */
  checkCredentials?: CredentialChecker;
  /** Where `<tool> login` runs (default: child processes of this one). */
  runner?: CommandRunner;
}

/** A completed login; contains no secret, so it can be kept in CI state for the logout. */
export interface RegistryLogin {
  host: string;
  username: string;
  /** The auth file to pass as `--authfile` / `REGISTRY_AUTH_FILE` (its directory as `DOCKER_CONFIG`). */
  authFile: string;
  entry: AuthEntry;
  tokenSource: TokenSource;
  /** Token expiry when known (service-account JWTs). */
  tokenExpiresAt?: string;
  verified: boolean;
  tool?: LoginTool;
  warnings: string[];
}

const EXPIRY_WARNING_MS = 15 * 60 * 1000;

/**
 * Log in to the registry with an OpenShift token: resolve and sanity-check the token, verify it against
 * `/v2/` (so a wrong token fails here, not halfway through a push), and write a private auth file for the
 * tools. The token never goes to argv, logs or error messages.
 */
export async function registryLogin(options: LoginOptions): Promise<RegistryLogin> {
  const username = validateUsername(options.username ?? DEFAULT_USERNAME);
  const resolved = await resolveToken(options);
  const warnings: string[] = [];
  if (resolved.expiresAt !== undefined && resolved.expiresAt.getTime() - Date.now() < EXPIRY_WARNING_MS) {
    warnings.push(
      `The token expires at ${resolved.expiresAt.toISOString()}, soon; a long push may fail half-way.`,
    );
  }
  const tlsVerify = options.tlsVerify ?? true;
  const verify = options.verify ?? true;
  if (verify) await checkCredentials(options, { username, token: resolved.token, tlsVerify });
  const entry = await writeAuthEntry({
    host: options.host,
    username,
    token: resolved.token,
    ...(options.authFile === undefined ? {} : { path: options.authFile }),
  });
  if (options.tool !== undefined) {
    try {
      await toolLogin(options.tool, options, {
        username,
        token: resolved.token,
        authFile: entry.path,
        tlsVerify,
      });
    } catch (error) {
      await removeAuthEntry(entry).catch(() => undefined);
      throw sanitize(error, resolved.token);
    }
  }
  return {
    host: options.host,
    username,
    authFile: entry.path,
    entry,
    tokenSource: resolved.source,
    ...(resolved.expiresAt === undefined ? {} : { tokenExpiresAt: resolved.expiresAt.toISOString() }),
    verified: verify,
    ...(options.tool === undefined ? {} : { tool: options.tool }),
    warnings,
  };
}

/** The `/v2/` check of the credentials before anything is written; the token never in its error. */
async function checkCredentials(
  options: LoginOptions,
  login: { username: string; token: string; tlsVerify: boolean },
): Promise<void> {
  const checker = options.checkCredentials ?? checkRegistryLogin;
  try {
    await checker({
      host: options.host,
      ...login,
      ...(options.caPem === undefined ? {} : { caPem: options.caPem }),
      ...(options.connectTo === undefined ? {} : { connectTo: options.connectTo }),
      ...(options.plainHttp === true ? { plainHttp: true } : {}),
    });
  } catch (error) {
    throw sanitize(error, login.token);
  }
}

/**
 * `<tool> login`, writing to the auth file. The tool verifies TLS itself and knows nothing of `caPem`:
 * without a cert dir holding it, a private one lives for the duration of the tool login (docker has no
 * --cert-dir; it reads /etc/docker/certs.d).
 */
async function toolLogin(
  tool: LoginTool,
  options: LoginOptions,
  login: { username: string; token: string; authFile: string; tlsVerify: boolean },
): Promise<void> {
  const temporaryTrust =
    options.certDir === undefined && options.caPem !== undefined && login.tlsVerify && tool !== 'docker'
      ? await installTrust({ host: options.host, caPem: options.caPem })
      : undefined;
  const certDir = options.certDir ?? temporaryTrust?.certDir;
  try {
    const command = toolLoginCommand(tool, {
      host: options.host,
      ...login,
      ...(certDir === undefined ? {} : { certDir }),
    });
    await runToolCommand(
      command,
      [login.token],
      options.runner === undefined ? {} : { runner: options.runner },
    );
  } finally {
    if (temporaryTrust !== undefined) await uninstallTrust(temporaryTrust).catch(() => undefined);
  }
}

/** Remove exactly what the login wrote. */
export async function registryLogout(login: Pick<RegistryLogin, 'entry'>): Promise<string> {
  const outcome = await removeAuthEntry(login.entry);
  switch (outcome) {
    case 'removed-directory':
      return `removed the private auth directory of ${login.entry.host}`;
    case 'removed-entry':
      return `removed the ${login.entry.host} entry from ${login.entry.path}`;
    case 'not-ours':
      return `left the ${login.entry.host} entry in ${login.entry.path}: it was replaced by another login since`;
    case 'absent':
      return `no ${login.entry.host} entry left in ${login.entry.path}`;
  }
}

/** Make sure nothing of the token survives in an error that is passed on. */
function sanitize(error: unknown, token: string): unknown {
  if (isRegistryPushError(error)) {
    const message = redact(error.message, [token]);
    const hint = redact(error.hint, [token]);
    if (message === error.message && hint === error.hint) return error;
    return new RegistryPushError(error.code, message, {
      hint,
      details: error.details,
      retryable: error.retryable,
    });
  }
  return new RegistryPushError(
    'API_ERROR',
    redact(error instanceof Error ? error.message : String(error), [token]),
  );
}
