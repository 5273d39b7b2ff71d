import type { ClusterApi } from '../ports/cluster-api.js';
import { RegistryPushError } from '../errors.js';

/** Where the registry password (the API token) came from. */
export type TokenSource = 'input' | 'kubeconfig' | 'service-account' | 'server-token';

/** A token and what is known about its lifetime. */
export interface ResolvedToken {
  token: string;
  source: TokenSource;
  /** Expiry, when the token says (service-account JWTs carry `exp`; OpenShift OAuth tokens do not). */
  expiresAt?: Date;
}

/** The `exp` claim of a JWT, without verifying it (only the API server can). */
export function jwtExpiry(token: string): Date | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof claims.exp === 'number' ? new Date(claims.exp * 1000) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The token to log in with: the given one, else the one the cluster client sends (kubeconfig token, exec
 * plugin or in-cluster service account). A token that says it has expired is refused before use.
 */
export async function resolveToken(options: { token?: string; client?: ClusterApi }): Promise<ResolvedToken> {
  let resolved: ResolvedToken | undefined;
  if (options.token !== undefined && options.token !== '') {
    resolved = { token: options.token.trim(), source: 'input' };
  } else if (options.client !== undefined) {
    const token = await options.client.bearerToken();
    if (token !== undefined) {
      const source: TokenSource =
        options.client.source === 'in-cluster'
          ? 'service-account'
          : options.client.source === 'server-token'
            ? 'server-token'
            : 'kubeconfig';
      resolved = { token, source };
    }
  }
  if (resolved === undefined) {
    throw new RegistryPushError(
      'TOKEN_MISSING',
      'No token to log in to the registry with: none was given and the cluster credentials are not a token (a client certificate cannot log in to the registry).',
      {
        hint: 'Pass a token: `oc whoami -t` for a user, or `oc create token <serviceaccount> -n <project> --duration=1h` for a service account.',
      },
    );
  }
  if (/\s/.test(resolved.token)) {
    throw new RegistryPushError(
      'TOKEN_MISSING',
      'The token contains whitespace, so it is not a single token.',
      {
        hint: 'Pass only the token itself, as `oc whoami -t` prints it.',
      },
    );
  }
  const expiresAt = jwtExpiry(resolved.token);
  if (expiresAt !== undefined) {
    if (expiresAt.getTime() <= Date.now()) {
      throw new RegistryPushError('TOKEN_EXPIRED', `The token expired at ${expiresAt.toISOString()}.`, {
        hint: 'Create a new one, e.g. `oc create token <serviceaccount> --duration=1h`.',
      });
    }
    resolved.expiresAt = expiresAt;
  }
  return resolved;
}

/** Usernames are free-form on OpenShift (the token is what counts), but `user:pass` encoding forbids `:`. */
export function validateUsername(username: string): string {
  if (username === '') {
    throw new RegistryPushError('USERNAME_INVALID', 'The registry username is empty.', {
      hint: 'Leave the username unset to use the default, or give any name without a colon.',
    });
  }
  if (username.includes(':')) {
    throw new RegistryPushError(
      'USERNAME_INVALID',
      `The registry username "${username}" contains ":", which makes the OpenShift registry refuse the login.`,
      {
        hint: 'Use a username without a colon (any name works; the token is what authenticates).',
      },
    );
  }
  if ([...username].some((char) => char.trim() === '' || char.charCodeAt(0) < 0x20)) {
    throw new RegistryPushError(
      'USERNAME_INVALID',
      'The registry username contains whitespace or control characters.',
      {
        hint: 'Use a plain name such as registry-push.',
      },
    );
  }
  return username;
}
