import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ClusterClient, RegistryNames, Resources } from '@registry-push/core';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBinary } from './binary.js';
import { runCli, type Run } from './run.js';

let cluster: RunningCluster;
let scratch: string;

const run = (argv: string[]): Promise<Run> => runCli(argv, scratch);
const as = (user: string): string[] => ['--kubeconfig', cluster.users[user]!.kubeconfig];

async function resourceVersion(): Promise<string | undefined> {
  const admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
  const config = await admin.get(Resources.registryConfig, RegistryNames.operatorConfig);
  return config.metadata.resourceVersion;
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'cli-config-'));
  cluster = await startCluster({ routerMode: 'port', registryRolloutDelayMs: 50 });
});

afterAll(async () => {
  await cluster.stop();
  await rm(scratch, { recursive: true, force: true });
});

describe('registry-push config', () => {
  it('is listed, and its help names the actions, the fields and the storage rules', async () => {
    expect((await run(['--help'])).stdout).toMatch(
      /\n {2}config +read or change the registry operator's spec/,
    );
    const help = await run(['config', '--help']);
    expect(help.stdout).toMatch(/usage: registry-push config \[options\] \[get\|set\|diff\|undo\]/);
    expect(help.stdout).toMatch(/logLevel=Normal\|Debug\|Trace\|TraceAll/);
    expect(help.stdout).toMatch(/replicas > 1 is refused on emptyDir/);
  });

  it('bash completion offers the actions and the options', async () => {
    const env = { HOME: scratch, PATH: process.env.PATH ?? '' };
    const script = join(scratch, 'completion.bash');
    await writeFile(script, (await runBinary(['completion', 'bash'], env)).stdout);
    const complete = async (words: string[]): Promise<string[]> => {
      const quoted = words.map((word) => `'${word}'`).join(' ');
      const { stdout } = await promisify(execFile)(
        'bash',
        [
          '-c',
          `source '${script}' && COMP_WORDS=(${quoted}) && COMP_CWORD=${words.length - 1} && _registry_push && printf '%s\\n' "\${COMPREPLY[@]}"`,
        ],
        { env },
      );
      return stdout.split('\n').filter((line) => line !== '');
    };
    expect(await complete(['registry-push', 'con'])).toEqual(['config']);
    expect((await complete(['registry-push', 'config', ''])).slice(0, 4)).toEqual([
      'get',
      'set',
      'diff',
      'undo',
    ]);
    expect(await complete(['registry-push', 'config', '--dr'])).toEqual(['--dry-run']);
  });

  it('get prints the spec as JSON, and a field as a plain value', async () => {
    const spec = await run(['config', 'get', ...as('kubeadmin')]);
    expect(spec.code).toBe(0);
    const parsed = JSON.parse(spec.stdout) as Record<string, unknown>;
    expect(parsed['replicas']).toBe(1);
    expect(parsed).not.toHaveProperty('httpSecret');
    expect(await run(['config', 'get', 'managementState', ...as('kubeadmin')])).toMatchObject({
      code: 0,
      stdout: 'Managed',
    });
    const json = await run(['config', 'get', 'replicas', '-o', 'json', ...as('kubeadmin')]);
    expect(JSON.parse(json.stdout)).toEqual({ path: 'replicas', value: 1 });
    // A proxy password is not printed, as text or as JSON.
    await run(['config', 'set', 'proxy.https=http://ci:pr0xy-pass@proxy.example:3128', ...as('kubeadmin')]);
    const proxy = await run(['config', 'get', 'proxy', ...as('kubeadmin')]);
    expect(proxy.stdout).toContain('"https": "http://ci:***@proxy.example:3128"');
    const whole = await run(['config', 'get', '-o', 'json', ...as('kubeadmin')]);
    expect(`${proxy.stdout}${whole.stdout}`).not.toContain('pr0xy-pass');
    expect(whole.stdout).toContain('http://ci:***@proxy.example:3128');
    await run(['config', 'undo', ...as('kubeadmin')]);
  });

  it('diff and set --dry-run print the change and the patch and change nothing', async () => {
    const before = await resourceVersion();
    const diff = await run([
      'config',
      'diff',
      'logLevel=Debug',
      'requests.read.maxRunning=8',
      ...as('kubeadmin'),
    ]);
    expect(diff).toMatchObject({ code: 0 });
    expect(diff.stdout.split('\n')).toEqual([
      '- logLevel: Normal',
      '+ logLevel: Debug',
      '+ requests.read.maxRunning: 8',
    ]);
    const dry = await run(['config', 'set', 'logLevel=Debug', '--dry-run', ...as('kubeadmin')]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(
      /^would patch configs\.imageregistry\.operator\.openshift\.io\/cluster \(--type merge\):/,
    );
    expect(dry.stdout).toContain('"logLevel": "Debug"');
    expect(dry.stdout).toContain('registry-push.io/previous-spec');
    expect(await resourceVersion()).toBe(before);
  });

  it('set applies and undo restores, printing the diff each time', async () => {
    const set = await run(['config', 'set', 'logLevel=Trace', 'disableRedirect=true', ...as('kubeadmin')]);
    expect(set.code).toBe(0);
    expect(set.stdout).toContain('+ logLevel: Trace');
    expect(set.stdout).toContain('`registry-push config undo` restores it');
    expect((await run(['config', 'get', 'logLevel', ...as('kubeadmin')])).stdout).toBe('Trace');
    const undo = await run(['config', 'undo', ...as('kubeadmin')]);
    expect(undo.code).toBe(0);
    expect(undo.stdout).toMatch(/^restoring the spec recorded at \d{4}-\d\d-\d\dT/);
    expect(undo.stdout).toContain('- disableRedirect: true');
    expect((await run(['config', 'get', 'logLevel', ...as('kubeadmin')])).stdout).toBe('Normal');
    expect((await run(['config', 'get', 'disableRedirect', ...as('kubeadmin')])).stdout).toBe('');
  });

  it('refusals are one coded line with exit 1; usage mistakes exit 2', async () => {
    const before = await resourceVersion();
    const bad = await run(['config', 'set', 'logLevel=Loud', ...as('kubeadmin')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.split('\n')).toEqual([
      'registry-push config: logLevel must be one of Normal, Debug, Trace, TraceAll, not "Loud". Set logLevel=Normal|Debug|Trace|TraceAll. [OPTION_INVALID]',
    ]);
    const rule = await run(['config', 'set', 'replicas=3', ...as('kubeadmin')]);
    expect(rule.code).toBe(1);
    expect(rule.stderr).toMatch(
      /^registry-push config: replicas=3 refused: .*emptyDir.*\[STORAGE_REFUSED\]$/,
    );
    const viewer = await run(['config', 'set', 'logLevel=Debug', ...as('viewer')]);
    expect(viewer.code).toBe(1);
    expect(viewer.stderr).toMatch(/needs cluster-admin.*\[FORBIDDEN\]$/);
    expect((await run(['config', 'frob', ...as('kubeadmin')])).code).toBe(2);
    expect((await run(['config', 'set', ...as('kubeadmin')])).stderr).toMatch(
      /config set needs PATH=VALUE settings/,
    );
    expect(await resourceVersion()).toBe(before);
  });

  it('the built binary exits with the same codes and prints JSON errors on request', async () => {
    const env = { HOME: scratch, PATH: process.env.PATH ?? '' };
    const ok = await runBinary(['config', 'get', 'rolloutStrategy', ...as('kubeadmin')], env);
    expect(ok).toMatchObject({ code: 0 });
    const refused = await runBinary(['config', 'set', 'replicas=2', '-o', 'json', ...as('kubeadmin')], env);
    expect(refused.code).toBe(1);
    expect((JSON.parse(refused.stdout) as { error: { code: string } }).error.code).toBe('STORAGE_REFUSED');
    expect(refused.stderr).not.toMatch(/\n\s+at /);
  });
});
