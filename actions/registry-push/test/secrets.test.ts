// The kubeconfig input as a secret: masked whole, line by line and token by token before anything is
// printed, and never quoted in an error; the registry credentials, masked in every form the login and the
// registry client put them in; and inputs that contradict each other.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryClient, RegistryPushError, registryLogin } from '@registry-push/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicCredentials, createCredentials, type Credentials } from '../src/credentials.js';
import { readInputs, type InputName } from '../src/inputs.js';
import { maskKubeconfigInput } from '../src/secrets.js';

const base = { namespace: 'demo', image: 'app', source: 'oci-archive:/tmp/app.tar' };

let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'action-secrets-'));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

function refusal(values: Partial<Record<InputName, string>>): RegistryPushError {
  const all: Partial<Record<InputName, string>> = { ...base, ...values };
  try {
    readInputs((name) => all[name] ?? '');
  } catch (error) {
    if (error instanceof RegistryPushError) return error;
    throw error;
  }
  throw new Error('expected the inputs to be refused');
}

/** The `::add-mask::` values `action` sends to the runner, read from what @actions/core writes to stdout. */
function masksOf(action: () => void): string[] {
  const written: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk: string | Uint8Array): boolean => {
    written.push(String(chunk));
    return true;
  };
  try {
    action();
  } finally {
    process.stdout.write = write;
  }
  return written
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('::add-mask::'))
    .map((line) => line.slice('::add-mask::'.length));
}

// Each test uses its own values: masks already sent are not sent again.
function secrets(tag: string): { token: string; keyData: string; password: string } {
  return {
    token: `sha256~${tag}TokenValue0123456789abcdefghij`,
    keyData: `LS0tLS1CRUdJTi${tag}BQUklWQVRFIEtFWS0tLS0tCk1JSUV2Z0lCQURBTkJn`,
    password: `${tag}-pass-word-9876`,
  };
}

describe('the kubeconfig input', () => {
  it('flattened onto one line: masked whole and per token, key and password', () => {
    const { token, keyData, password } = secrets('flat');
    const oneLine = `apiVersion: v1 kind: Config users: - name: u user: token: ${token} client-key-data: ${keyData} - name: p user: username: admin password: ${password} current-context: x`;
    const masks = masksOf(() => maskKubeconfigInput(oneLine));
    expect(masks).toContain(oneLine);
    expect(masks).toContain(token);
    expect(masks).toContain(keyData);
    expect(masks).toContain(password);
  });

  it('as YAML content: masked whole, line by line (the runner masks lines), and per secret', () => {
    const { token, keyData, password } = secrets('yaml');
    const yaml = [
      'apiVersion: v1',
      'kind: Config',
      'users:',
      '- name: u',
      '  user:',
      `    token: ${token}`,
      `    client-key-data: ${keyData}`,
      '- name: p',
      '  user:',
      `    password: "${password}"`,
    ].join('\n');
    const masks = masksOf(() => maskKubeconfigInput(yaml));
    // The whole value, as @actions/core escapes its newlines for the runner to unescape.
    expect(masks).toContain(yaml.replace(/\n/g, '%0A'));
    expect(masks).toContain(`token: ${token}`);
    expect(masks).toContain(`client-key-data: ${keyData}`);
    expect(masks).toContain(`password: "${password}"`);
    for (const secret of [token, keyData, password]) expect(masks).toContain(secret);
  });

  it('as JSON content: each secret masked', () => {
    const { token, password } = secrets('json');
    const json = JSON.stringify({ users: [{ user: { token } }, { user: { password } }] });
    const masks = masksOf(() => maskKubeconfigInput(json));
    expect(masks).toContain(json);
    expect(masks).toContain(token);
    expect(masks).toContain(password);
  });

  it('as the path of a file: nothing to mask (the path is not secret, the token is masked once read)', async () => {
    const path = join(scratch, 'kubeconfig');
    await writeFile(path, 'apiVersion: v1\n');
    expect(masksOf(() => maskKubeconfigInput(path))).toEqual([]);
  });

  it('as a mistyped path: nothing to mask, so the error can name it', () => {
    expect(masksOf(() => maskKubeconfigInput(join(scratch, 'no-such-kubeconfig')))).toEqual([]);
  });

  it('as a JWT or a long value with spaces: masked, though it names no file', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    expect(masksOf(() => maskKubeconfigInput(jwt))).toContain(jwt);
    const spaced = 'users: token abc';
    expect(masksOf(() => maskKubeconfigInput(spaced))).toContain(spaced);
  });

  it('flattened onto one line is refused without repeating it', () => {
    const { token } = secrets('refused');
    const error = refusal({
      kubeconfig: `apiVersion: v1 kind: Config users: - name: u user: token: ${token}`,
    });
    expect(error.code).toBe('OPTION_INVALID');
    expect(error.message).toBe(
      'The "kubeconfig" input is neither a readable file nor kubeconfig content (it is not repeated here, as it may hold a token).',
    );
    expect(JSON.stringify(error.toJSON())).not.toContain(token);
  });

  it('a plain path that does not exist is named', () => {
    const path = join(scratch, 'missing-kubeconfig');
    expect(refusal({ kubeconfig: path }).message).toBe(
      `The "kubeconfig" input names ${path}, which does not exist.`,
    );
  });
});

/** The Authorization header the registry client sends with the credentials (`GET /v2/` on a local server). */
async function authorizationSent(credentials: Credentials): Promise<string> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((request, response) => {
    seen.push(request.headers);
    if (request.headers.authorization === undefined) {
      response.writeHead(401, { 'www-authenticate': 'Basic realm="registry"' }).end();
    } else {
      response.writeHead(200, { 'docker-distribution-api-version': 'registry/2.0' }).end('{}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new RegistryClient({
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    credentials: basicCredentials(credentials),
    plainHttp: true,
  });
  try {
    await client.checkLogin();
  } finally {
    await client.close();
    await new Promise((resolve) => server.close(resolve));
  }
  const header = seen.map((headers) => headers.authorization).find((value) => value !== undefined);
  return header ?? '';
}

describe('the registry credentials', () => {
  it('are masked at creation in every form they travel in: token, user:token, the Basic header, the auth file', async () => {
    const token = secrets('credentials').token;
    let credentials: Credentials | undefined;
    const masks = masksOf(() => {
      credentials = createCredentials('ci-bot', token, 'input');
    });
    if (credentials === undefined) throw new Error('no credentials were created');
    expect(masks).toContain(token);
    expect(masks).toContain(`ci-bot:${token}`);
    // The forms are taken from where the core puts them, not recomputed here: the Basic header the
    // registry client sends, and the `auth` field of the auth file the login writes.
    const header = await authorizationSent(credentials);
    expect(header).toMatch(/^Basic /);
    expect(masks).toContain(header.slice('Basic '.length));
    const authFile = join(scratch, 'auth', 'config.json');
    await registryLogin({
      host: 'registry.example.com',
      username: credentials.username,
      token: credentials.token,
      authFile,
      verify: false,
    });
    const written = JSON.parse(await readFile(authFile, 'utf8')) as {
      auths: Record<string, { auth: string }>;
    };
    const auth = written.auths['registry.example.com']?.auth ?? '';
    expect(auth).not.toBe('');
    expect(masks).toContain(auth);
    // ...and only once: a second use of the same credentials masks nothing again.
    expect(masksOf(() => createCredentials('ci-bot', token, 'input'))).toEqual([]);
  });
});

describe('contradictory inputs', () => {
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';

  it.each([
    [{ 'tls-verify': 'false', 'ca-data': pem }, 'The "ca-data" input is set, and tls-verify is false'],
    [
      { 'tls-verify': 'false', 'ca-file': '/etc/hostname' },
      'The "ca-file" input is set, and tls-verify is false',
    ],
    [
      { 'insecure-skip-tls-verify': 'true', 'server-ca': pem },
      'The "server-ca" input is set, and insecure-skip-tls-verify is true',
    ],
  ] as const)('refuses %j, naming both', (values, message) => {
    const error = refusal(values);
    expect(error.code).toBe('OPTION_INVALID');
    expect(error.message).toContain(message);
    expect(error.hint).not.toBe('');
  });
});
