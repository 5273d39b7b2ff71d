// The kubeconfig input as a secret: masked whole, line by line and token by token before anything is
// printed, and never quoted in an error; and inputs that contradict each other.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryPushError } from '@registry-push/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
