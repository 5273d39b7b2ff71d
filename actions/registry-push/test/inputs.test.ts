// Inputs: pure parsing and validation, and action.yml, the root action.yml and the README kept in step.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RegistryPushError } from '@registry-push/core';
import { describe, expect, it } from 'vitest';
import { INPUT_DEFAULTS, parseTags, readInputs, type InputName } from '../src/inputs.js';
import { kubeconfigSecrets } from '../src/secrets.js';
import { ACTION_DIR, actionInputs, actionOutputs } from './runner.js';

const base = { namespace: 'demo', image: 'app', source: 'oci-archive:/tmp/app.tar' };

function reader(values: Partial<Record<InputName, string>>) {
  return (name: InputName): string => values[name] ?? '';
}

function failure(values: Partial<Record<InputName, string>>): RegistryPushError {
  try {
    readInputs(reader({ ...base, ...values }));
  } catch (error) {
    if (error instanceof RegistryPushError) return error;
    throw error;
  }
  throw new Error('expected the inputs to be refused');
}

describe('readInputs', () => {
  it('applies the action.yml defaults to what is not given', () => {
    expect(readInputs(reader(base))).toEqual({
      cluster: { insecureSkipTlsVerify: false },
      namespace: 'demo',
      image: 'app',
      tags: ['latest'],
      source: 'oci-archive:/tmp/app.tar',
      expose: 'auto',
      revertExpose: false,
      trust: 'registry',
      tlsVerify: true,
      pushTool: 'native',
      retries: 3,
      timeoutMs: 180_000,
      logout: true,
    });
  });

  it('splits tags on commas and newlines, drops blanks and repeats, keeps the order', () => {
    expect(parseTags('v1, latest\n\n  v1.0 \nlatest,')).toEqual(['v1', 'latest', 'v1.0']);
    expect(parseTags(' \n ')).toEqual(['latest']);
  });

  it.each([
    [{ tags: 'v1, feature/x' }, 'The "tags" input has "feature/x", which is not a valid tag.'],
    [{ image: 'demo/app' }, 'The "image" input is "demo/app", which contains "/".'],
    [{ image: 'app:v1' }, 'The "image" input is "app:v1", which has a tag or digest.'],
    [{ image: 'App' }, 'The "image" input is "App", which is not a valid image name.'],
    [{ namespace: 'Demo' }, 'The "namespace" input is "Demo", which is not a project name.'],
    [{ source: 'app.tar' }, '"app.tar" does not name a source transport.'],
    [{ expose: 'yes' }, 'The "expose" input is "yes", not one of auto, default-route, custom-route, none.'],
    [{ 'tls-verify': 'no' }, 'The "tls-verify" input is "no", not true or false.'],
    [{ retries: '-1' }, 'The "retries" input is "-1", not a whole number from 0 to 10.'],
    [
      { registry: 'https://r.example.com' },
      'The "registry" input is "https://r.example.com", which is not a bare host.',
    ],
    [
      { registry: 'r.example.com', expose: 'default-route' },
      'The "registry" input is set, which contradicts expose: default-route.',
    ],
    [{ expose: 'custom-route', 'route-name': 'public' }, 'The "route-hostname" input is required.'],
    [
      { 'ca-file': '/x.crt', 'ca-data': '-----BEGIN CERTIFICATE-----' },
      'The "ca-data" input is set, and so is ca-file.',
    ],
    [
      { 'ca-file': '/nonexistent/ca.crt' },
      'The "ca-file" input names /nonexistent/ca.crt, which cannot be read (ENOENT).',
    ],
    [
      { username: 'ci:bot' },
      'The "username" input is "ci:bot", which contains ":" (the OpenShift registry refuses such a login).',
    ],
    [{ server: 'https://api.example.com:6443' }, 'The "server" input is set without a token.'],
  ] as const)('refuses %j', (values, message) => {
    const error = failure(values);
    expect(error.message).toBe(message);
    expect(error.hint).not.toBe('');
  });

  it('takes PEM inputs as text or as a file path', async () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
    expect(readInputs(reader({ ...base, 'ca-data': pem })).caPem).toBe(`${pem}\n`);
    const file = join(ACTION_DIR, 'test', 'fixture-ca.tmp');
    await writeFile(file, pem);
    try {
      expect(readInputs(reader({ ...base, 'ca-file': file })).caPem).toBe(pem);
    } finally {
      await rm(file);
    }
  });
});

describe('kubeconfigSecrets', () => {
  it('finds tokens, passwords and keys in YAML and JSON kubeconfigs', () => {
    const yaml = 'users:\n- name: a\n  user:\n    token: sha256~abcdef\n    client-key-data: LS0tS0VZ\n';
    expect(kubeconfigSecrets(yaml)).toEqual(['sha256~abcdef', 'LS0tS0VZ']);
    expect(kubeconfigSecrets('{"users":[{"user":{"token":"tok-123","password":"pw-456"}}]}')).toEqual([
      'tok-123',
      'pw-456',
    ]);
  });
});

describe('action.yml', () => {
  it('declares exactly the inputs the code reads, with the same defaults', async () => {
    const declared = await actionInputs();
    expect([...declared.keys()].sort()).toEqual(Object.keys(INPUT_DEFAULTS).sort());
    for (const [name, value] of declared)
      expect([name, value]).toEqual([name, INPUT_DEFAULTS[name as InputName]]);
  });

  it('runs on node24 with main and post, and the root action.yml is the same action', async () => {
    const action = await readFile(join(ACTION_DIR, 'action.yml'), 'utf8');
    expect(action).toMatch(
      /\nruns:\n {2}using: node24\n {2}main: dist\/main\.js\n {2}post: dist\/post\.js\n$/,
    );
    const root = await readFile(join(ACTION_DIR, '..', '..', 'action.yml'), 'utf8');
    const expected = action
      .replace('  main: dist/main.js', '  main: actions/registry-push/dist/main.js')
      .replace('  post: dist/post.js', '  post: actions/registry-push/dist/post.js');
    expect(root.replace(/^#.*\n/gm, '')).toBe(expected);
  });

  it('is documented: every input with its default, and every output, in the README tables', async () => {
    const readme = await readFile(join(ACTION_DIR, 'README.md'), 'utf8');
    for (const [name, value] of await actionInputs()) {
      const row = new RegExp(`^\\| \`${name}\` +\\| ${value === '' ? '(required|) ' : `\`${value}\``}`, 'm');
      expect(readme, `README row of input ${name}`).toMatch(row);
    }
    for (const name of await actionOutputs())
      expect(readme).toMatch(new RegExp(`^\\| \`${name}\` +\\|`, 'm'));
  });
});
