// How options are taken and refused: kubeconfig values that may be secret, contradictory options, numbers
// and parse errors. None of these reach a server, so no cluster is started: each fails before any request.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type Run } from './run.js';

let scratch: string;
const run = (argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> => runCli(argv, scratch, env);

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'cli-options-'));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** A usage mistake: exit code 2, exactly one line on stderr with the code and a pointer to --help. */
function expectUsageLine(result: Run, command: string, pattern: RegExp): void {
  expect(result.code).toBe(2);
  expect(result.stderr.split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(pattern);
  expect(result.stderr).toContain(`Run "registry-push ${command} --help" for the options.`);
  expect(result.stderr).toMatch(/\[OPTION_INVALID\]$/);
  expect(result.stderr).not.toMatch(/usage:|ambiguous/);
}

describe('a kubeconfig flattened onto one line', () => {
  const token = 'sha256~flattenedTokenValue0123456789abcdef';
  const keyData = 'LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2Z0lCQURBTkJn';
  // What `echo $CONTENT` makes of a kubeconfig: one line, no leading brace.
  const oneLine = `apiVersion: v1 kind: Config clusters: - name: c cluster: server: https://127.0.0.1:1 users: - name: u user: token: ${token} client-key-data: ${keyData} contexts: - name: x context: cluster: c user: u current-context: x`;

  it.each([
    ['--kubeconfig', ['--kubeconfig', oneLine], {}],
    ['REGISTRY_PUSH_KUBECONFIG', [], { REGISTRY_PUSH_KUBECONFIG: oneLine }],
    ['KUBECONFIG', [], { KUBECONFIG: oneLine }],
  ])('given as %s is refused without repeating it', async (_, args, env) => {
    for (const output of ['text', 'json']) {
      const result = await run(['status', ...args, '--output', output], env);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /is neither a readable file nor kubeconfig content.*\[KUBECONFIG_INVALID\]/,
      );
      for (const secret of [token, keyData, 'flattenedTokenValue']) {
        expect(result.stderr).not.toContain(secret);
        expect(result.stdout).not.toContain(secret);
      }
      if (output === 'json') {
        expect(JSON.parse(result.stdout)).toMatchObject({ error: { code: 'KUBECONFIG_INVALID' } });
      }
    }
  });

  it('names a plain path that does not exist', async () => {
    const missing = join(scratch, 'no-such-kubeconfig');
    const result = await run(['status', '--kubeconfig', missing]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`The kubeconfig file ${missing} does not exist.`);
    expect(result.stderr).toMatch(/\[KUBECONFIG_INVALID\]/);
  });
});

describe('unverified TLS', () => {
  it('warns once that the token goes over unverified TLS', async () => {
    const result = await run(
      ['push', 'oci:/nonexistent', '127.0.0.1:1/demo/app', '--tls-verify', 'false', '--retries', '0'],
      { REGISTRY_PUSH_TOKEN: 'sha256~abc' },
    );
    expect(
      result.stderr.match(/warning: --tls-verify false: the registry certificate is NOT checked/g),
    ).toHaveLength(1);
    expect(result.stderr).toMatch(/\[SOURCE_NOT_FOUND\]/);
    expect(result.code).toBe(1);
  });

  it('does not warn when the certificate is verified', async () => {
    const result = await run(['push', 'oci:/nonexistent', '127.0.0.1:1/demo/app'], {
      REGISTRY_PUSH_TOKEN: 'sha256~abc',
    });
    expect(result.stderr).not.toMatch(/NOT checked/);
    expect(result.code).toBe(1);
  });
});

describe('contradictory options', () => {
  const target = ['oci:/nonexistent', '127.0.0.1:1/demo/app'];
  const caFile = ['--ca-file', '/etc/ssl/certs/ca-certificates.crt'];
  const caData = ['--ca-data', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----'];

  it.each([
    ['--tls-verify false and --ca-file', [...caFile, '--tls-verify', 'false'], {}],
    ['--tls-verify false and --ca-data', [...caData, '--tls-verify=false'], {}],
    ['--ca-file and --ca-data', [...caFile, ...caData], {}],
    ['--plain-http and --ca-file', [...caFile, '--plain-http'], {}],
    ['--plain-http and --ca-data', [...caData, '--plain-http'], {}],
    ['--tls-verify .*false and --ca-file', caFile, { REGISTRY_PUSH_TLS_VERIFY: 'false' }],
  ])('refuses %s, naming both', async (pair, args, env) => {
    const result = await run(['push', ...target, ...args], env);
    expectUsageLine(
      result,
      'push',
      new RegExp(`${pair.split(' and ').join('.* and ')} contradict each other`),
    );
    expect(result.stderr).toMatch(/--tls-verify|--ca-file|--plain-http/);
  });

  it('refuses --token with --token-file, also when the token comes from the environment', async () => {
    const both = await run([
      'trust',
      '--registry',
      'r.invalid',
      '--token',
      'sha256~abc',
      '--token-file',
      '/dev/null',
    ]);
    expectUsageLine(both, 'trust', /--token and --token-file contradict each other/);
    expect(both.stderr).not.toContain('sha256~abc');
    const env = await run(['trust', '--registry', 'r.invalid', '--token-file', '/dev/null'], {
      REGISTRY_PUSH_TOKEN: 'sha256~abc',
    });
    expectUsageLine(env, 'trust', /--token \(as REGISTRY_PUSH_TOKEN\) and --token-file contradict/);
  });

  it('still takes --tls-verify false with --plain-http (no TLS at all) without a TLS warning', async () => {
    const result = await run(['push', ...target, '--plain-http', '--tls-verify', 'false']);
    expect(result.stderr).not.toMatch(/contradict|NOT checked/);
    expect(result.code).toBe(1);
  });
});

describe('numeric options', () => {
  // Every numeric option of registry-push, with a command that takes it and its range.
  const cases: [option: string, command: string[], min: number, max: number][] = [
    ['retries', ['push', 'oci:/nonexistent', '127.0.0.1:1/demo/app'], 0, 10],
    ['concurrency', ['push', 'oci:/nonexistent', '127.0.0.1:1/demo/app'], 1, 32],
    ['timeout', ['expose'], 1, 3600],
    ['timeout', ['enable', '--storage', 'emptydir'], 1, 3600],
    ['replicas', ['enable', '--storage', 'emptydir'], 1, 100],
  ];
  for (const [option, command, min, max] of cases) {
    it.each([
      ['a negative number', [`--${option}`, '-1'], '-1'],
      ['a negative number after =', [`--${option}=-5`], '-5'],
      ['a non-number', [`--${option}`, 'many'], 'many'],
      ['a fraction', [`--${option}`, '1.5'], '1.5'],
      ['a value above the range', [`--${option}`, String(max + 1)], String(max + 1)],
      ['a value below the range', [`--${option}`, String(min - 1)], String(min - 1)],
    ])(`--${option} of ${command[0]!}: %s is one line with the range`, async (_, args, shown) => {
      const result = await run([...command, ...args]);
      expectUsageLine(
        result,
        command[0]!,
        new RegExp(
          `--${option} must be a whole number from ${min} to ${max}, not "${shown.replace('.', '\\.')}"`,
        ),
      );
    });
  }

  it('takes the same option from the environment and checks it too', async () => {
    const result = await run(['push', 'oci:/nonexistent', '127.0.0.1:1/demo/app'], {
      REGISTRY_PUSH_RETRIES: '-3',
    });
    expectUsageLine(result, 'push', /--retries must be a whole number from 0 to 10, not "-3"/);
  });
});

describe('parse errors', () => {
  it('an unknown option is one line with a pointer to --help, not the whole help', async () => {
    expectUsageLine(await run(['push', '--no-such-flag']), 'push', /unknown option --no-such-flag/);
  });

  it('a misspelled option with a value does not repeat the value', async () => {
    const result = await run(['trust', '--tokn=sha256~secretvalue']);
    expectUsageLine(result, 'trust', /unknown option --tokn/);
    expect(result.stderr).not.toContain('secretvalue');
  });

  it('a missing value, a value on a flag, and a stray argument', async () => {
    expectUsageLine(await run(['push', '--retries']), 'push', /--retries needs a value/);
    expectUsageLine(await run(['push', '--plain-http=yes']), 'push', /--plain-http takes no value/);
    expectUsageLine(await run(['expose', 'extra']), 'expose', /unexpected argument "extra"/);
    const secretish = await run(['expose', 'token: sha256~abc']);
    expectUsageLine(secretish, 'expose', /unexpected argument \(not repeated here\)/);
    expect(secretish.stderr).not.toContain('sha256~abc');
  });

  it('an unknown command is one line too, and JSON on request', async () => {
    const result = await run(['teleport', '--output', 'json']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'registry-push: unknown command "teleport". Run "registry-push --help" for the commands. [OPTION_INVALID]',
    );
    expect(JSON.parse(result.stdout)).toMatchObject({ error: { code: 'OPTION_INVALID' } });
  });
});
