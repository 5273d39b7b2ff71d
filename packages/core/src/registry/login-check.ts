import type { CredentialCheck } from '../login/login.js';
import { RegistryClient } from './client.js';

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
