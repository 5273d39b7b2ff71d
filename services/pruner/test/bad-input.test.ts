// Every mistake a user can make with `registry-pruner` (a bad option, a bad PRUNER_* / REDIS_* setting, a
// port in use) ends the real binary with a non-zero exit and exactly one stderr line that carries the code
// and names what to change, never a stack trace or the help text; and the worker's HTTP endpoints listen
// on loopback unless told otherwise.
import { createServer, type Server } from 'node:net';
import { request } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, makeWorkDir, removeWorkDir, startRedis, type RunningRedis } from '@registry-push/testkit';
import { killAll, runCli, startWorkerProcess, type WorkerProcess } from './support/processes.js';

let work: string;
let redis: RunningRedis;
let kubeconfig: string;
let notPem: string;
let unreadable: string;

// A kubeconfig whose API server refuses connections: the worker starts (reading the CR is retried as a
// transient failure) without a cluster, which is all the HTTP and settings checks need.
const KUBECONFIG = (port: number): string => `apiVersion: v1
kind: Config
clusters:
- name: nowhere
  cluster:
    server: https://127.0.0.1:${port}
    insecure-skip-tls-verify: true
users:
- name: someone
  user:
    token: sha256~not-a-real-token
contexts:
- name: nowhere
  context:
    cluster: nowhere
    user: someone
current-context: nowhere
`;

beforeAll(async () => {
  work = await makeWorkDir('pruner-bad-input');
  redis = await startRedis();
  kubeconfig = join(work, 'kubeconfig');
  await writeFile(kubeconfig, KUBECONFIG(await freePort()));
  notPem = join(work, 'not-a-cert.pem');
  await writeFile(notPem, 'hello\n');
  unreadable = work; // a directory: readFile fails with EISDIR
});

afterAll(async () => {
  killAll();
  await redis?.stop();
  if (work !== undefined) await removeWorkDir(work);
});

interface Case {
  /** What is wrong. */
  name: string;
  args: string[];
  env?: Record<string, string>;
  /** Expected exit code. */
  exit: number;
  code: string;
  /** The line must name this (the option or the setting) ... */
  names: string | RegExp;
}

// Commands that stop before touching Redis or a cluster when their input is bad.
const cases = (): Case[] => [
  // Options (usage errors: exit 2).
  {
    name: 'negative --limit',
    args: ['status', '--limit', '-3'],
    exit: 2,
    code: 'PRUNER_USAGE',
    names: /--limit.*0 to 10000.*"-3"/,
  },
  {
    name: 'negative --limit=',
    args: ['status', '--limit=-3'],
    exit: 2,
    code: 'PRUNER_USAGE',
    names: /--limit.*0 to 10000/,
  },
  {
    name: 'non-numeric --limit',
    args: ['status', '--limit', 'ten'],
    exit: 2,
    code: 'PRUNER_USAGE',
    names: /--limit.*"ten"/,
  },
  {
    name: 'exponent --limit',
    args: ['status', '--limit', '1e3'],
    exit: 2,
    code: 'PRUNER_USAGE',
    names: /--limit/,
  },
  {
    name: 'huge --limit',
    args: ['status', '--limit', '99999999999999999999'],
    exit: 2,
    code: 'PRUNER_USAGE',
    names: /--limit/,
  },
  {
    name: 'negative --keep-tag-revisions',
    args: ['run', '--keep-tag-revisions', '-1'],
    exit: 2,
    code: 'PRUNER_USAGE',
    names: /--keep-tag-revisions must be a whole number of 0 or more/,
  },
  {
    name: 'bad --keep-younger-than',
    args: ['run', '--keep-younger-than', '-5m'],
    exit: 2,
    code: 'PRUNER_USAGE',
    names: /--keep-younger-than.*duration/,
  },
  {
    name: 'bad --keep-younger-than unit',
    args: ['run', '--keep-younger-than', '3 days'],
    exit: 2,
    code: 'PRUNER_USAGE',
    names: /--keep-younger-than/,
  },
  {
    name: 'negative --timeout',
    args: ['enqueue', '--wait', '--timeout', '-5m'],
    exit: 2,
    code: 'PRUNER_USAGE',
    names: /--timeout.*positive duration/,
  },
  {
    name: 'zero --timeout',
    args: ['enqueue', '--wait', '--timeout', '0'],
    exit: 2,
    code: 'PRUNER_USAGE',
    names: /--timeout/,
  },
  {
    name: 'bad --output',
    args: ['status', '--output', 'yaml'],
    exit: 2,
    code: 'PRUNER_USAGE',
    names: /--output.*table or json/,
  },
  {
    name: 'bad --mode',
    args: ['run', '--mode', 'partial'],
    exit: 2,
    code: 'PRUNER_USAGE',
    names: /--mode.*auto, metadata or full/,
  },
  {
    name: 'bad --http-port',
    args: ['worker', '--http-port', '-1'],
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /PRUNER_HTTP_PORT.*0 to 65535/,
  },
  {
    name: 'unknown option',
    args: ['status', '--bogus'],
    exit: 2,
    code: 'PRUNER_USAGE',
    names: /"--bogus".*registry-pruner status --help/,
  },
  {
    name: 'missing value',
    args: ['status', '--limit'],
    exit: 2,
    code: 'PRUNER_USAGE',
    names: /--limit needs a value.*--help/,
  },
  {
    name: 'option as value',
    args: ['run', '--kubeconfig', '--confirm'],
    exit: 2,
    code: 'PRUNER_USAGE',
    names: /--kubeconfig needs a value/,
  },
  {
    name: 'value for a flag',
    args: ['run', '--confirm=yes'],
    exit: 2,
    code: 'PRUNER_USAGE',
    names: /--confirm takes no value/,
  },
  { name: 'extra argument', args: ['status', 'now'], exit: 2, code: 'PRUNER_USAGE', names: /"now"/ },
  {
    name: 'unknown command',
    args: ['prune'],
    exit: 2,
    code: 'PRUNER_USAGE',
    names: /"prune".*registry-pruner --help/,
  },
  // Settings (exit 1), checked before anything is contacted.
  {
    name: 'REDIS_URL garbage',
    args: ['status'],
    env: { REDIS_URL: 'garbage' },
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /REDIS_URL is not a URL/,
  },
  {
    name: 'REDIS_URL scheme',
    args: ['enqueue'],
    env: { REDIS_URL: 'http://redis:6379' },
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /REDIS_URL must start with redis:\/\//,
  },
  {
    name: 'REDIS_SENTINELS port',
    args: ['status'],
    env: { REDIS_SENTINELS: 'a:99999' },
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /REDIS_SENTINELS/,
  },
  {
    name: 'REDIS_CLUSTER_NODES',
    args: ['status'],
    env: { REDIS_CLUSTER_NODES: 'a' },
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /REDIS_CLUSTER_NODES/,
  },
  {
    name: 'missing CA file',
    args: ['run'],
    env: { PRUNER_REGISTRY_CA_FILE: '/nonexistent/ca.crt' },
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /PRUNER_REGISTRY_CA_FILE.*\/nonexistent\/ca\.crt.*no such file/,
  },
  {
    name: 'missing CA file (worker)',
    args: ['worker'],
    env: { PRUNER_REGISTRY_CA_FILE: '/nonexistent/ca.crt' },
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /PRUNER_REGISTRY_CA_FILE/,
  },
  {
    name: 'CA file not PEM',
    args: ['worker'],
    env: { PRUNER_REGISTRY_CA_FILE: notPem },
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /no PEM certificate.*PRUNER_REGISTRY_CA_FILE/,
  },
  {
    name: 'CA file a directory',
    args: ['run'],
    env: { PRUNER_REGISTRY_CA_FILE: unreadable },
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /PRUNER_REGISTRY_CA_FILE.*directory/,
  },
  {
    name: 'missing policy file',
    args: ['run'],
    env: { PRUNER_POLICY_FILE: '/nonexistent/policy.json' },
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /PRUNER_POLICY_FILE.*no such file/,
  },
  {
    name: 'policy not JSON',
    args: ['run'],
    env: { PRUNER_POLICY: '{tag' },
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /PRUNER_POLICY/,
  },
  {
    name: 'negative number',
    args: ['worker'],
    env: { PRUNER_CONCURRENCY: '-2' },
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /PRUNER_CONCURRENCY.*of 1 or more/,
  },
  {
    name: 'hex number',
    args: ['worker'],
    env: { PRUNER_BATCH_SIZE: '0x10' },
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /PRUNER_BATCH_SIZE/,
  },
  {
    name: 'timer overflow',
    args: ['worker'],
    env: { PRUNER_CONFIG_POLL_MS: '9999999999' },
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /PRUNER_CONFIG_POLL_MS.*2147483647/,
  },
  {
    name: 'port out of range',
    args: ['worker'],
    env: { PRUNER_HTTP_PORT: '70000' },
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /PRUNER_HTTP_PORT.*0 to 65535/,
  },
  {
    name: 'min rate above rate',
    args: ['run'],
    env: { PRUNER_RATE: '5', PRUNER_MIN_RATE: '10' },
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /PRUNER_MIN_RATE.*PRUNER_RATE/,
  },
  {
    name: 'API rate under both names, disagreeing',
    args: ['worker'],
    env: { PRUNER_API_RATE: '40', PRUNER_RATE: '30' },
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /PRUNER_API_RATE \(40\) and PRUNER_RATE \(30\), its old name, disagree/,
  },
  {
    name: 'registry min rate above registry rate',
    args: ['worker'],
    env: { PRUNER_REGISTRY_RATE: '100', PRUNER_REGISTRY_MIN_RATE: '200' },
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /PRUNER_REGISTRY_MIN_RATE \(200\) must not be above PRUNER_REGISTRY_RATE \(100\)/,
  },
  {
    name: 'bad boolean',
    args: ['enqueue'],
    env: { PRUNER_CONFIRM: 'maybe' },
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /PRUNER_CONFIRM.*true or false/,
  },
  {
    name: 'bad mode',
    args: ['run'],
    env: { PRUNER_MODE: 'partial' },
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /PRUNER_MODE.*auto, metadata or full/,
  },
  {
    name: 'bad log level',
    args: ['worker'],
    env: { PRUNER_LOG_LEVEL: 'loud' },
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /PRUNER_LOG_LEVEL.*"loud"/,
  },
  {
    name: 'bad HTTP host',
    args: ['worker'],
    env: { PRUNER_HTTP_HOST: 'everywhere' },
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /PRUNER_HTTP_HOST.*IP address/,
  },
  {
    name: 'bad --http-host',
    args: ['worker', '--http-host', 'localhost'],
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /PRUNER_HTTP_HOST/,
  },
  {
    name: 'bad failpoint',
    args: ['worker'],
    env: { PRUNER_FAILPOINT: 'nowhere' },
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /PRUNER_FAILPOINT.*"nowhere"/,
  },
  {
    name: 'bad queue name',
    args: ['status'],
    env: { PRUNER_QUEUE: 'a:b' },
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /PRUNER_QUEUE/,
  },
  {
    name: 'bad events namespace',
    args: ['worker'],
    env: { PRUNER_EVENTS_NAMESPACE: 'Not_A_Namespace' },
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /PRUNER_EVENTS_NAMESPACE/,
  },
  {
    name: 'bad registry host',
    args: ['run'],
    env: { PRUNER_REGISTRY_HOST: 'https://registry/v2' },
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /PRUNER_REGISTRY_HOST.*host\[:port\]/,
  },
  {
    name: 'bad connect-to',
    args: ['run'],
    env: { PRUNER_REGISTRY_CONNECT_TO: '10.0.0.1' },
    exit: 1,
    code: 'PRUNER_SETTING_INVALID',
    names: /PRUNER_REGISTRY_CONNECT_TO.*ip:port/,
  },
];

function expectOneCodedLine(result: { code: number; stderr: string }, expected: Case): void {
  const lines = result.stderr.split('\n').filter((line) => line !== '');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^registry-pruner.*\\[${expected.code}\\]$`));
  expect(lines[0]).toMatch(expected.names);
  expect(result.stderr).not.toMatch(/^\s+at /m);
  expect(result.stderr).not.toContain('usage:');
  expect(result.code).toBe(expected.exit);
}

// The same mistakes through the built binary: what a user sees, stack traces and help dumps included. Each
// process takes seconds on a loaded machine, so one case of each kind goes this way, a few at a time.
const THROUGH_THE_BINARY = [
  'negative --limit',
  'negative --keep-tag-revisions',
  'unknown option',
  'missing value',
  'unknown command',
  'REDIS_URL garbage',
  'missing CA file (worker)',
  'timer overflow',
  'bad log level',
];

describe('registry-pruner with bad input', () => {
  it('ends every bad option and setting with one coded line and a non-zero exit', async () => {
    const { main } = await import('../src/main.js');
    const failures: string[] = [];
    for (const entry of cases()) {
      const stderr: string[] = [];
      const code = await main(entry.args, {
        stdout: () => undefined,
        stderr: (text) => void stderr.push(text),
        env: { KUBECONFIG: kubeconfig, REDIS_URL: redis.url, PRUNER_HTTP_PORT: '0', ...entry.env },
        // A worker that wrongly accepted its input stops at once instead of running until the timeout.
        stopSignal: Promise.resolve('SIGTERM'),
      });
      const result = { code, stderr: stderr.map((text) => `${text}\n`).join('') };
      try {
        expectOneCodedLine(result, entry);
      } catch (error) {
        failures.push(
          `${entry.name} (${entry.args.join(' ')}): ${(error as Error).message.split('\n')[0]}\n${result.stderr}`,
        );
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it('does the same as the registry-pruner binary', async () => {
    const chosen = cases().filter((entry) => THROUGH_THE_BINARY.includes(entry.name));
    expect(chosen).toHaveLength(THROUGH_THE_BINARY.length);
    const failures: string[] = [];
    for (let i = 0; i < chosen.length; i += 3) {
      await Promise.all(
        chosen.slice(i, i + 3).map(async (entry) => {
          const result = await runCli(
            entry.args,
            { KUBECONFIG: kubeconfig, REDIS_URL: redis.url, PRUNER_HTTP_PORT: '0', ...entry.env },
            120_000,
          );
          try {
            expectOneCodedLine(result, entry);
          } catch (error) {
            failures.push(`${entry.name}: ${(error as Error).message.split('\n')[0]}\n${result.stderr}`);
          }
        }),
      );
    }
    expect(failures).toEqual([]);
  }, 600_000);

  it('names the setting when the HTTP port is in use', async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const result = await runCli(['worker'], {
        KUBECONFIG: kubeconfig,
        REDIS_URL: redis.url,
        PRUNER_HTTP_PORT: String(port),
      });
      expectOneCodedLine(result, {
        name: 'port in use',
        args: [],
        exit: 1,
        code: 'PRUNER_HTTP_BIND_FAILED',
        names: new RegExp(`127\\.0\\.0\\.1:${port}: port ${port} is already in use.*PRUNER_HTTP_PORT`),
      });
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  }, 120_000);
});

function healthz(host: string, port: number): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: '/healthz', timeout: 10_000 }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    req.end();
  });
}

describe('the worker HTTP endpoints', () => {
  const started: WorkerProcess[] = [];
  afterAll(async () => {
    for (const w of started) {
      w.kill('SIGTERM');
      await w.exited;
    }
  });

  // Every 127/8 address is this machine's loopback: a server bound to 127.0.0.1 is not reachable on
  // 127.0.0.2, one bound to all interfaces is.
  it('listen on 127.0.0.1 outside a pod unless PRUNER_HTTP_HOST says otherwise', async () => {
    const env = { KUBECONFIG: kubeconfig, REDIS_URL: redis.url, PRUNER_HTTP_PORT: '0' };
    const plain = startWorkerProcess('http-default', env);
    started.push(plain);
    const plainPort = await plain.port();
    expect(await healthz('127.0.0.1', plainPort)).toBe(200);
    expect(await healthz('127.0.0.2', plainPort)).toBe('ECONNREFUSED');

    const told = startWorkerProcess('http-told', { ...env, PRUNER_HTTP_HOST: '127.0.0.2' });
    started.push(told);
    const toldPort = await told.port();
    expect(await healthz('127.0.0.2', toldPort)).toBe(200);
    expect(await healthz('127.0.0.1', toldPort)).toBe('ECONNREFUSED');

    const flag = startWorkerProcess('http-flag', env, ['--http-host', '0.0.0.0']);
    started.push(flag);
    const flagPort = await flag.port();
    expect(await healthz('127.0.0.2', flagPort)).toBe(200);
    for (const w of [plain, told, flag]) expect(w.stderr).toEqual([]);
  }, 180_000);
});
