// Paths a command cannot write (a directory given as a file, a file given as a directory, /proc, /sys):
// each run of the built binary ends quickly with one line that names the path, a code, and exit code 1.
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeWorkDir, startRegistry, type RunningRegistry } from '@registry-push/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBinary, type BinaryRun } from './binary.js';

const TOKEN = 'sha256~' + 'BadPathsSecret0123456789abcdefghijklmnopqrs';
const USERNAME = 'ci';
/** Far longer than a bad path needs, short enough to catch a command that never returns. */
const LIMIT_MS = 20_000;

let work: string;
let tmp: string;
let registry: RunningRegistry;
let caFile: string;
let aFile: string;

beforeAll(async () => {
  work = await makeWorkDir('cli-bad-paths');
  tmp = join(work, 'tmp');
  await mkdir(tmp);
  registry = await startRegistry({ tls: true, auth: { username: USERNAME, password: TOKEN } });
  caFile = join(work, 'ca.pem');
  await writeFile(caFile, registry.caPem!);
  aFile = join(work, 'plain-file');
  await writeFile(aFile, 'not a directory\n');
});

afterAll(async () => {
  await registry.stop();
  await rm(work, { recursive: true, force: true });
});

/** Run the binary, killing it (and failing) if it has not ended within {@link LIMIT_MS}. */
async function runBounded(argv: string[]): Promise<BinaryRun & { hung: boolean }> {
  const started = startBinary(argv, {
    PATH: process.env.PATH,
    HOME: work,
    TMPDIR: tmp,
    REGISTRY_PUSH_TOKEN: TOKEN,
  });
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    started.child.kill('SIGKILL');
  }, LIMIT_MS);
  try {
    return { ...(await started.done), hung };
  } finally {
    clearTimeout(timer);
  }
}

/** One line on stderr, with the path and the code, exit code 1, no stack trace. */
function expectOneLine(
  run: BinaryRun & { hung: boolean },
  command: string,
  path: string,
  code: string,
): void {
  expect(run.hung, 'the command did not return').toBe(false);
  expect(run.code).toBe(1);
  const lines = run.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^registry-push ${command}: `));
  expect(lines[0]).toContain(path);
  expect(lines[0]).toMatch(new RegExp(`\\[${code}\\]$`));
  expect(run.stderr).not.toMatch(/\n\s+at /);
}

const trust = (certDir: string) =>
  runBounded(['trust', '--registry', registry.host, '--ca-file', caFile, '--cert-dir', certDir]);

const login = (authFile: string) =>
  runBounded([
    'login',
    '--registry',
    registry.host,
    '--username',
    USERNAME,
    '--ca-file',
    caFile,
    '--authfile',
    authFile,
  ]);

describe('trust --cert-dir where no directory can be made', () => {
  it.each(['/proc/registry-push-x/y', '/sys/registry-push-x'])(
    '%s ends at once with TRUST_STORE_UNWRITABLE',
    async (certDir) => {
      expectOneLine(await trust(certDir), 'trust', certDir, 'TRUST_STORE_UNWRITABLE');
    },
    LIMIT_MS + 10_000,
  );

  it('a path under a regular file is TRUST_STORE_UNWRITABLE, not raw ENOTDIR', async () => {
    const certDir = join(aFile, 'certs.d');
    const run = await trust(certDir);
    expectOneLine(run, 'trust', certDir, 'TRUST_STORE_UNWRITABLE');
    expect(run.stderr).toMatch(/not a directory/);
  });
});

describe('login --authfile that cannot be written', () => {
  it('a directory is OPTION_INVALID', async () => {
    const dir = join(work, 'a-directory');
    await mkdir(dir);
    const run = await login(dir);
    expectOneLine(run, 'login', dir, 'OPTION_INVALID');
    expect(run.stderr).toMatch(/is a directory/);
    expect(run.stderr).not.toContain(TOKEN);
  });

  it.each([
    ['under a regular file', () => join(aFile, 'config.json')],
    ['under /proc', () => '/proc/registry-push-x/config.json'],
  ])(
    '%s is OPTION_INVALID, quickly, and leaves no temporary file',
    async (_, path) => {
      const authFile = path();
      expectOneLine(await login(authFile), 'login', authFile, 'OPTION_INVALID');
      expect(await readdir(tmp)).toEqual([]);
    },
    LIMIT_MS + 10_000,
  );
});
