// The shared authentication session under concurrent challenges: many requests of one client meeting the
// same 401 at once must share one answer (one Basic switch, one token fetch), and only a 401 to the fresh
// credential is a refusal. The registry here is a small local HTTP server whose challenges and token
// realm are counted, so the tests can see how many answers were fetched.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../src/registry/client.js';
import { failure } from '../failure.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const PARALLEL = 8;

interface AuthServer {
  host: string;
  /** Token requests received. */
  tokenFetches: number;
  /** Requests refused with 401. */
  challenges: number;
  /** Requests to registry paths (not the token realm) that carried Basic credentials. */
  basicRequests: number;
  /** `GET /v2/` requests that carried credentials. */
  baseChecks: number;
  /** Stop honouring the tokens issued so far (as when they expire on the registry). */
  expireTokens(): void;
  stop(): Promise<void>;
}

let running: AuthServer | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

/**
 * A registry on 127.0.0.1 that answers every blob HEAD with 404 once authorized. `basic`: demands Basic
 * `user:secret`. `bearer`: demands a token from its realm, which answers after a delay so that concurrent
 * challenges overlap with the fetch. `openshift`: as the OpenShift registry, the realm echoes the password
 * as the token, `/v2/` takes any valid token, `demo/app` is allowed, and a refused permission and an
 * unknown token get the same `Basic realm=openshift,error="access denied"`.
 */
async function startAuthServer(mode: 'basic' | 'bearer' | 'openshift'): Promise<AuthServer> {
  if (mode === 'openshift') return startOpenShiftLike();
  const valid = new Set<string>();
  let issued = 0;
  const state = { tokenFetches: 0, challenges: 0, basicRequests: 0, baseChecks: 0 };
  const expected = `Basic ${Buffer.from('user:secret').toString('base64')}`;
  let origin = '';
  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    const authorization = request.headers.authorization;
    if (request.url?.startsWith('/token') === true) {
      state.tokenFetches++;
      if (authorization !== expected) {
        response.writeHead(401).end();
        return;
      }
      const token = `token-${++issued}`;
      setTimeout(() => {
        valid.add(token);
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ token, expires_in: 300 }));
      }, 200);
      return;
    }
    const ok =
      mode === 'basic'
        ? authorization === expected
        : authorization?.startsWith('Bearer ') === true && valid.has(authorization.slice(7));
    if (!ok) {
      state.challenges++;
      const challenge =
        mode === 'basic'
          ? 'Basic realm="test"'
          : `Bearer realm="${origin}/token",service="test",scope="repository:demo/app:pull"`;
      response.writeHead(401, { 'www-authenticate': challenge, 'content-type': 'application/json' });
      response.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    response.writeHead(404, { 'docker-distribution-api-version': 'registry/2.0' }).end();
  };
  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  origin = `http://${host}`;
  return {
    host,
    get tokenFetches() {
      return state.tokenFetches;
    },
    get challenges() {
      return state.challenges;
    },
    get basicRequests() {
      return state.basicRequests;
    },
    get baseChecks() {
      return state.baseChecks;
    },
    expireTokens: () => valid.clear(),
    stop: () => stopServer(server),
  };
}

function stopServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** The `openshift` mode of {@link startAuthServer}. */
async function startOpenShiftLike(): Promise<AuthServer> {
  let valid = true;
  const state = { tokenFetches: 0, challenges: 0, basicRequests: 0, baseChecks: 0 };
  let origin = '';
  const tokenOf = (authorization: string | undefined): string | undefined => {
    if (authorization?.startsWith('Bearer ') === true) return authorization.slice(7);
    if (authorization?.startsWith('Basic ') !== true) return undefined;
    const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
    return decoded.slice(decoded.indexOf(':') + 1);
  };
  const refuse = (response: ServerResponse, challenge: string): void => {
    state.challenges++;
    response.writeHead(401, { 'www-authenticate': challenge, 'content-type': 'application/json' });
    response.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
  };
  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    const authorization = request.headers.authorization;
    const known = valid && tokenOf(authorization) === 'secret';
    if (request.url?.startsWith('/openshift/token') === true) {
      state.tokenFetches++;
      if (!known || authorization?.startsWith('Basic ') !== true) {
        response.writeHead(401).end();
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ token: 'secret' }));
      return;
    }
    if (authorization === undefined) {
      refuse(response, `Bearer realm="${origin}/openshift/token"`);
      return;
    }
    if (authorization.startsWith('Basic ')) state.basicRequests++;
    const base = request.url === '/v2/';
    if (base) state.baseChecks++;
    if (!known || !(base || request.url?.startsWith('/v2/demo/app/') === true)) {
      refuse(response, 'Basic realm=openshift,error="access denied"');
      return;
    }
    response.writeHead(base ? 200 : 404, { 'docker-distribution-api-version': 'registry/2.0' }).end();
  };
  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  origin = `http://${host}`;
  return {
    host,
    get tokenFetches() {
      return state.tokenFetches;
    },
    get challenges() {
      return state.challenges;
    },
    get basicRequests() {
      return state.basicRequests;
    },
    get baseChecks() {
      return state.baseChecks;
    },
    expireTokens: () => {
      valid = false;
    },
    stop: () => stopServer(server),
  };
}

function clientOf(server: AuthServer, password = 'secret'): RegistryClient {
  return new RegistryClient({
    host: server.host,
    plainHttp: true,
    proxyEnv: null,
    credentials: { kind: 'basic', username: 'user', password },
    retry: { retries: 0 },
  });
}

/** PARALLEL blob lookups started together, so their first requests all go out unauthenticated. */
function lookUpInParallel(client: RegistryClient): Promise<Array<number | undefined>> {
  return Promise.all(Array.from({ length: PARALLEL }, () => client.blobSize('demo/app', DIGEST)));
}

describe('concurrent challenges', () => {
  it('answers simultaneous Basic challenges once for all, and each request goes through', async () => {
    running = await startAuthServer('basic');
    const client = clientOf(running);
    try {
      for (let round = 0; round < 3; round++) {
        expect(await lookUpInParallel(client)).toEqual(Array.from({ length: PARALLEL }, () => undefined));
      }
    } finally {
      await client.close();
    }
    // The first round met one challenge per request; after it every request carried the credentials.
    expect(running.challenges).toBe(PARALLEL);
  });

  it('still refuses wrong Basic credentials, to every parallel request', async () => {
    running = await startAuthServer('basic');
    const client = clientOf(running, 'wrong');
    try {
      const results = await Promise.allSettled(
        Array.from({ length: PARALLEL }, () => failure(client.blobSize('demo/app', DIGEST))),
      );
      for (const result of results) {
        expect(result.status).toBe('fulfilled');
        if (result.status === 'fulfilled') expect(result.value.code).toBe('TOKEN_REJECTED');
      }
    } finally {
      await client.close();
    }
  });

  it('fetches one token for simultaneous Bearer challenges, and one more when it expires', async () => {
    running = await startAuthServer('bearer');
    const client = clientOf(running);
    try {
      expect(await lookUpInParallel(client)).toHaveLength(PARALLEL);
      expect(running.tokenFetches).toBe(1);
      // All the parallel requests now carry the same refused token: one of them fetches the next one.
      running.expireTokens();
      expect(await lookUpInParallel(client)).toHaveLength(PARALLEL);
      expect(running.tokenFetches).toBe(2);
    } finally {
      await client.close();
    }
  });

  it('reports wrong credentials at the token realm as TOKEN_REJECTED to every waiting request', async () => {
    running = await startAuthServer('bearer');
    const client = clientOf(running, 'wrong');
    try {
      const errors = await Promise.all(
        Array.from({ length: PARALLEL }, () => failure(client.blobSize('demo/app', DIGEST))),
      );
      expect(new Set(errors.map((error) => error.code))).toEqual(new Set(['TOKEN_REJECTED']));
      expect(running.tokenFetches).toBe(1);
    } finally {
      await client.close();
    }
  });
});

describe('refusals a registry answers alike for a permission and for a bad token (OpenShift)', () => {
  it('reports a refused permission as REGISTRY_DENIED after checking /v2/, without switching to Basic', async () => {
    running = await startAuthServer('openshift');
    const client = clientOf(running);
    try {
      expect(await client.blobSize('demo/app', DIGEST)).toBeUndefined();
      const errors = await Promise.all(
        Array.from({ length: PARALLEL }, () =>
          failure(client.blobSize('other/app', DIGEST, undefined, true)),
        ),
      );
      expect(new Set(errors.map((error) => error.code))).toEqual(new Set(['REGISTRY_DENIED']));
      expect(errors[0]!.hint).toContain('oc policy add-role-to-user system:image-builder <user> -n other');
      // The refusal is not answered by sending the same token as Basic, and the session stays on its token.
      expect(running.basicRequests).toBe(0);
      expect(running.baseChecks).toBeGreaterThanOrEqual(1);
      expect(running.baseChecks).toBeLessThanOrEqual(PARALLEL);
      expect(await client.blobSize('demo/app', DIGEST)).toBeUndefined();
      expect(running.tokenFetches).toBe(2);
    } finally {
      await client.close();
    }
  });

  it('reports a token refused everywhere as TOKEN_EXPIRED once it had worked, TOKEN_REJECTED otherwise', async () => {
    running = await startAuthServer('openshift');
    const client = clientOf(running);
    const bearer = new RegistryClient({
      host: running.host,
      plainHttp: true,
      proxyEnv: null,
      credentials: { kind: 'bearer', token: 'not-a-token' },
      retry: { retries: 0 },
    });
    try {
      expect(await client.blobSize('demo/app', DIGEST)).toBeUndefined();
      running.expireTokens();
      expect((await failure(client.blobSize('demo/app', DIGEST))).code).toBe('TOKEN_EXPIRED');
      expect((await failure(bearer.blobSize('demo/app', DIGEST))).code).toBe('TOKEN_REJECTED');
      expect(running.basicRequests).toBe(0);
    } finally {
      await client.close();
      await bearer.close();
    }
  });
});
