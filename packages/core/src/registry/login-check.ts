// The check's shape lives here, with the check, so that login (which calls it) depends on the registry side
// and not the other way round.
import { RegistryClient } from './client.js';

/** What a credential check needs: where, who, and how to trust the host. */
export interface CredentialCheck {
  host: string;
  username: string;
  token: string;
  caPem?: string;
  tlsVerify: boolean;
  connectTo?: string;
  /** Plain HTTP (a local registry without TLS). */
  plainHttp?: boolean;
}

/** Verifies credentials against the registry's `/v2/` (the registry client's login check plugs in here). */
export type CredentialChecker = (check: CredentialCheck) => Promise<void>;

/**
 * The default credential check of `registryLogin`: `GET /v2/` through the registry's own challenge (the
 * OpenShift token realm, Bearer or Basic) with the username and token, on a private connection that trusts
 * the given CA. A wrong token fails here with TOKEN_REJECTED, before anything is written.
 */
export async function checkRegistryLogin(check: CredentialCheck): Promise<void> {
  const client = new RegistryClient({
    host: check.host,
    credentials: { kind: 'basic', username: check.username, password: check.token },
    tlsVerify: check.tlsVerify,
    retry: { retries: 2 },
    ...(check.caPem === undefined ? {} : { caPem: check.caPem }),
    ...(check.connectTo === undefined ? {} : { connectTo: check.connectTo }),
    ...(check.plainHttp === true ? { plainHttp: true } : {}),
  });
  try {
    await client.checkLogin();
  } finally {
    await client.close();
  }
}
