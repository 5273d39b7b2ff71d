// The command-runner port: every tool the core starts goes through the runner it is handed, with the whole
// environment spelled out (never the caller's secrets) and the token only on stdin.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { registryLogin, registryLogout } from '../../src/login/login.js';
import {
  nodeCommandRunner,
  type CommandResult,
  type CommandRun,
  type CommandRunner,
} from '../../src/ports/command-runner.js';
import { installTrust, uninstallTrust } from '../../src/trust/install.js';
import { failure } from '../failure.js';

const TOKEN = 'sha256~' + 'Zq9'.repeat(14);
const SECRET_VARIABLE = 'REGISTRY_PUSH_TOKEN';

/** A runner that records each call and answers with `answer` (no process is started). */
function recordingRunner(answer: CommandResult = { exitCode: 0, signal: null, output: '' }): CommandRunner & {
  calls: CommandRun[];
} {
  const calls: CommandRun[] = [];
  return {
    calls,
    run: (command) => {
      calls.push(structuredClone({ ...command, args: [...command.args] }));
      return Promise.resolve(answer);
    },
    stopAll: () => 0,
  };
}

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'core-runner-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});
afterEach(() => {
  delete process.env[SECRET_VARIABLE];
});

describe('the command runner a caller hands in', () => {
  it('runs `<tool> login` with the token on stdin only and an environment without the caller secrets', async () => {
    process.env[SECRET_VARIABLE] = TOKEN;
    const runner = recordingRunner();
    const login = await registryLogin({
      host: 'registry.example:5000',
      token: TOKEN,
      tool: 'skopeo',
      verify: false,
      authFile: join(scratch, 'login', 'config.json'),
      runner,
    });
    expect(runner.calls).toHaveLength(1);
    const [call] = runner.calls;
    expect(call?.program).toBe('skopeo');
    expect(call?.args).toEqual([
      'login',
      '--authfile',
      login.authFile,
      '--username',
      'registry-push',
      '--password-stdin',
      'registry.example:5000',
    ]);
    expect(call?.stdin).toBe(TOKEN);
    expect(call?.env.REGISTRY_AUTH_FILE).toBe(login.authFile);
    expect(Object.keys(call?.env ?? {})).not.toContain(SECRET_VARIABLE);
    expect(JSON.stringify(call?.env)).not.toContain(TOKEN);
    await registryLogout(login);
  });

  it("maps a tool's failure from the runner to LOGIN_TOOL_FAILED with the token redacted", async () => {
    const runner = recordingRunner({ exitCode: 1, signal: null, output: `error: bad token ${TOKEN}\n` });
    const error = await failure(
      registryLogin({
        host: 'registry.example',
        token: TOKEN,
        tool: 'podman',
        verify: false,
        authFile: join(scratch, 'failed', 'config.json'),
        runner,
      }),
    );
    expect(error.code).toBe('LOGIN_TOOL_FAILED');
    expect(error.message).toContain('podman login failed (exit 1)');
    expect(error.message).not.toContain(TOKEN);
  });

  it('runs the system trust update through the runner, with the trust-update environment only', async () => {
    process.env[SECRET_VARIABLE] = TOKEN;
    const anchors = join(scratch, 'anchors');
    await mkdir(anchors);
    const runner = recordingRunner();
    const installed = await installTrust({
      host: 'registry.example',
      caPem: '-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n',
      certsRoot: join(scratch, 'certs'),
      system: true,
      systemStore: { anchorsDir: anchors, updateCommand: ['update-ca-trust', 'extract'] },
      runner,
    });
    await uninstallTrust(installed, { runner });
    expect(runner.calls.map((c) => [c.program, ...c.args])).toEqual([
      ['update-ca-trust', 'extract'],
      ['update-ca-trust', 'extract'],
    ]);
    const allowed = ['PATH', 'HOME', 'USER', 'LOGNAME', 'TMPDIR', 'TZ', 'LANG', 'LANGUAGE', 'LC_ALL'];
    for (const name of Object.keys(runner.calls[0]?.env ?? {})) {
      expect(allowed.includes(name) || name.startsWith('LC_')).toBe(true);
    }
  });

  it('reports a failing trust update as TRUST_STORE_UNWRITABLE', async () => {
    const runner = recordingRunner({ exitCode: 2, signal: null, output: 'no' });
    await mkdir(join(scratch, 'anchors-2'));
    const error = await failure(
      installTrust({
        host: 'registry.example',
        caPem: 'pem',
        certsRoot: join(scratch, 'certs-2'),
        system: true,
        systemStore: { anchorsDir: join(scratch, 'anchors-2'), updateCommand: ['update-ca-certificates'] },
        runner,
      }),
    );
    expect(error.code).toBe('TRUST_STORE_UNWRITABLE');
    expect(error.message).toBe('update-ca-certificates failed (exit 2).');
  });
});

describe('nodeCommandRunner', () => {
  it('gives the program exactly the environment it is handed, and stdin', async () => {
    process.env[SECRET_VARIABLE] = TOKEN;
    const runner = nodeCommandRunner();
    const ended = await runner.run({
      program: 'sh',
      args: ['-c', 'echo "given=$GIVEN secret=${REGISTRY_PUSH_TOKEN:-none}"; cat; exit 3'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', GIVEN: 'yes' },
      stdin: 'from stdin',
    });
    expect(ended).toEqual({ exitCode: 3, signal: null, output: 'given=yes secret=none\nfrom stdin' });
  });

  it('rejects with ENOENT for a program that is not installed, and stops what still runs', async () => {
    const runner = nodeCommandRunner();
    const missing = await runner
      .run({ program: 'no-such-tool-x9', args: [], env: { PATH: '/nonexistent' } })
      .then(
        () => undefined,
        (error: NodeJS.ErrnoException) => error.code,
      );
    expect(missing).toBe('ENOENT');
    const sleeping = runner.run({ program: 'sleep', args: ['30'], env: { PATH: process.env.PATH ?? '' } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(runner.stopAll()).toBe(1);
    expect(await sleeping).toMatchObject({ exitCode: null, signal: 'SIGTERM' });
  });
});
