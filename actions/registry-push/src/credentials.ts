import {
  DEFAULT_USERNAME,
  jwtExpiry,
  resolveToken,
  type ClusterApi,
  type RegistryClientOptions,
  type TokenSource,
} from '@registry-push/core';
import type { InputReader } from './inputs.js';
import { maskSecret } from './secrets.js';

/**
 * The registry credentials of one step: created once, with every form in which they can travel masked at
 * creation, and then handed to whatever needs them (the login, the one registry client, the cluster access of
 * the post step). Nothing else builds a `user:token` pair or masks the token.
 */
export interface Credentials {
  /** The registry username (any name without `:`; the token is what counts). */
  readonly username: string;
  /** The registry password: an OpenShift token. */
  readonly token: string;
  /** Where the token came from: the `token` input, or the cluster credentials. */
  readonly source: TokenSource;
  /** When the token expires, if it says (service-account JWTs). */
  readonly expiresAt?: Date;
}

function base64(text: string): string {
  return Buffer.from(text).toString('base64');
}

/**
 * Every form of the credentials that could reach a log: the token, its base64 form, the `user:token` pair, and
 * its base64 form, which is both the Basic `Authorization` header's value and the `auth` field of the auth file
 * (Docker's `config.json`).
 */
export function credentialForms(username: string, token: string): string[] {
  const pair = `${username}:${token}`;
  return [token, base64(token), pair, base64(pair)];
}

/** Create the credentials value, masking each of its {@link credentialForms} before it is handed anywhere. */
export function createCredentials(
  username: string,
  token: string,
  source: TokenSource,
  expiresAt?: Date,
): Credentials {
  for (const form of credentialForms(username, token)) maskSecret(form);
  return Object.freeze({
    username,
    token,
    source,
    ...(expiresAt === undefined ? {} : { expiresAt }),
  });
}

/**
 * The credentials of the `token` input, created (and so masked) before any input is parsed, so that not even a
 * validation error can show the token. Undefined when the input is empty: the token then comes from the
 * cluster credentials ({@link clusterCredentials}).
 */
export function inputCredentials(read: InputReader): Credentials | undefined {
  const token = read('token');
  if (token === '') return undefined;
  return createCredentials(read('username') || DEFAULT_USERNAME, token, 'input', jwtExpiry(token));
}

/** The credentials of the cluster access (its own token), when no `token` input was given. */
export async function clusterCredentials(client: ClusterApi, username: string): Promise<Credentials> {
  const resolved = await resolveToken({ client });
  return createCredentials(username, resolved.token, resolved.source, resolved.expiresAt);
}

/** The credentials as the registry client takes them (HTTP Basic; the registry's token flow starts from it). */
export function basicCredentials(credentials: Credentials): RegistryClientOptions['credentials'] {
  return { kind: 'basic', username: credentials.username, password: credentials.token };
}
