import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterClient, RegistryNames, Resources, type ImageConfig } from '@registry-push/core';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type Run } from './run.js';

let cluster: RunningCluster;
let scratch: string;
let caFile: string;
let admin: ClusterClient;

const run = (argv: string[]): Promise<Run> => runCli(argv, scratch);
const as = (user: string): string[] => ['--kubeconfig', cluster.users[user]!.kubeconfig];
const NS = RegistryNames.openshiftConfigNamespace;

interface ConfigMap {
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
}

async function configMap(name: string): Promise<ConfigMap | undefined> {
  return admin.find<ConfigMap>(Resources.configMap, name, NS);
}

async function referenced(): Promise<string | undefined> {
  const image = await admin.get<ImageConfig>(Resources.imageConfig, 'cluster');
  return image.spec.additionalTrustedCA?.name;
}

/** The PEM of a private key (PKCS#8, or PKCS#1 for "BEGIN RSA PRIVATE KEY"). */
function privateKeyPem(type: 'pkcs8' | 'pkcs1'): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return privateKey.export({ type, format: 'pem' }).toString();
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'cli-trusted-ca-'));
  cluster = await startCluster({ routerMode: 'port' });
  admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
  caFile = join(scratch, 'corp-ca.crt');
  await writeFile(caFile, cluster.ingressCaPem);
});

afterAll(async () => {
  await cluster.stop();
  await rm(scratch, { recursive: true, force: true });
});

describe('registry-push trusted-ca', () => {
  it('is listed, and its help names the actions and the config map key', async () => {
    expect((await run(['--help'])).stdout).toMatch(/\n {2}trusted-ca +make the cluster trust an external/);
    const help = await run(['trusted-ca', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(
      /usage: registry-push trusted-ca \[options\] \[add\|list\|remove\] \[HOST\[:PORT\]\]/,
    );
    expect(help.stdout).toMatch(/key HOST\.\.PORT/);
    expect(help.stdout).toMatch(/--dry-run/);
  });

  it('lists nothing on a cluster whose image config names no config map', async () => {
    expect(await referenced()).toBe('');
    const listed = await run(['trusted-ca', 'list', ...as('kubeadmin')]);
    expect(listed).toMatchObject({ code: 0 });
    expect(listed.stdout).toBe(
      'images.config.openshift.io/cluster names no additionalTrustedCA config map: the cluster trusts no extra registry CA',
    );
  });

  it('--dry-run prints the config map it would create and the merge patch, and changes nothing', async () => {
    const dry = await run([
      'trusted-ca',
      'add',
      'registry.corp.example:5000',
      '--ca-file',
      caFile,
      '--dry-run',
      ...as('kubeadmin'),
    ]);
    expect(dry.code).toBe(0);
    const lines = dry.stdout.split('\n');
    expect(lines[0]).toBe(
      'would create config map openshift-config/registry-cas with key registry.corp.example..5000',
    );
    expect(lines.slice(-2)).toEqual([
      'would patch images.config.openshift.io/cluster (--type merge):',
      '{"spec":{"additionalTrustedCA":{"name":"registry-cas"}}}',
    ]);
    expect(await configMap('registry-cas')).toBeUndefined();
    expect(await referenced()).toBe('');
  });

  it('add creates the config map under key host..port and points the image config at it', async () => {
    const added = await run([
      'trusted-ca',
      'add',
      'registry.corp.example:5000',
      '--ca-file',
      caFile,
      ...as('kubeadmin'),
    ]);
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(
      /^create config map openshift-config\/registry-cas with key registry\.corp\.example\.\.5000\n/,
    );
    expect(added.stdout).toMatch(/the cluster now trusts registry\.corp\.example:5000 with this CA/);
    expect((await configMap('registry-cas'))?.data).toEqual({
      'registry.corp.example..5000': cluster.ingressCaPem.trim() + '\n',
    });
    expect(await referenced()).toBe('registry-cas');
    const again = await run([
      'trusted-ca',
      'add',
      'registry.corp.example:5000',
      '--ca-file',
      caFile,
      ...as('kubeadmin'),
    ]);
    expect(again.stdout).toBe(
      'nothing to change: openshift-config/registry-cas already holds this CA for registry.corp.example:5000 (key registry.corp.example..5000)',
    );
  });

  it('add to an existing config map keeps its other keys, with a merge patch of the one key', async () => {
    await admin.mergePatch(
      Resources.configMap,
      'registry-cas',
      { data: { 'mirror.example': 'not ours' } },
      NS,
    );
    const dry = await run([
      'trusted-ca',
      'add',
      'quay.corp.example',
      '--ca-file',
      caFile,
      '--dry-run',
      ...as('kubeadmin'),
    ]);
    expect(dry.stdout.split('\n')).toEqual([
      'would patch config map openshift-config/registry-cas (--type merge):',
      '{"data":{"quay.corp.example":"<1 PEM certificate(s)>"}}',
    ]);
    expect(
      (await run(['trusted-ca', 'add', 'quay.corp.example', '--ca-file', caFile, ...as('kubeadmin')])).code,
    ).toBe(0);
    expect(Object.keys((await configMap('registry-cas'))?.data ?? {}).sort()).toEqual([
      'mirror.example',
      'quay.corp.example',
      'registry.corp.example..5000',
    ]);
  });

  it('list names each registry with its certificate, and says when a value is not one', async () => {
    const listed = await run(['trusted-ca', 'list', ...as('kubeadmin')]);
    expect(listed.code).toBe(0);
    const lines = listed.stdout.split('\n');
    expect(lines[0]).toBe('config map openshift-config/registry-cas:');
    expect(lines[1]).toBe('  mirror.example (key mirror.example): mirror.example holds no PEM certificate.');
    expect(lines[2]).toMatch(/^ {2}quay\.corp\.example \(key quay\.corp\.example\): .*valid until \d{4}-/);
    expect(lines[3]).toMatch(/^ {2}registry\.corp\.example:5000 \(key registry\.corp\.example\.\.5000\): /);
    const json = JSON.parse((await run(['trusted-ca', 'list', '-o', 'json', ...as('kubeadmin')])).stdout) as {
      entries: { host: string }[];
    };
    expect(json.entries.map((entry) => entry.host)).toEqual([
      'mirror.example',
      'quay.corp.example',
      'registry.corp.example:5000',
    ]);
  });

  it('remove deletes only that key (dry run first), and is a no-op for a key that is not there', async () => {
    const dry = await run(['trusted-ca', 'remove', 'quay.corp.example', '--dry-run', ...as('kubeadmin')]);
    expect(dry.stdout.split('\n')).toEqual([
      'would patch config map openshift-config/registry-cas (--type merge):',
      '{"data":{"quay.corp.example":null}}',
    ]);
    expect((await configMap('registry-cas'))?.data).toHaveProperty('quay.corp.example');
    const removed = await run(['trusted-ca', 'remove', 'quay.corp.example', ...as('kubeadmin')]);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toMatch(
      /the cluster no longer trusts quay\.corp\.example through openshift-config\/registry-cas$/,
    );
    expect(Object.keys((await configMap('registry-cas'))?.data ?? {}).sort()).toEqual([
      'mirror.example',
      'registry.corp.example..5000',
    ]);
    expect(await referenced()).toBe('registry-cas');
    expect((await run(['trusted-ca', 'remove', 'quay.corp.example', ...as('kubeadmin')])).stdout).toBe(
      'nothing to change: openshift-config/registry-cas holds no CA for quay.corp.example (key quay.corp.example)',
    );
  });

  it('uses the config map the image config already names', async () => {
    await admin.create(Resources.configMap, { metadata: { name: 'corp-cas', namespace: NS }, data: {} });
    await admin.mergePatch(Resources.imageConfig, 'cluster', {
      spec: { additionalTrustedCA: { name: 'corp-cas' } },
    });
    const added = await run([
      'trusted-ca',
      'add',
      'harbor.corp.example:8443',
      '--ca-file',
      caFile,
      ...as('kubeadmin'),
    ]);
    expect(added.code).toBe(0);
    expect(added.stdout).not.toMatch(/images\.config/);
    expect(Object.keys((await configMap('corp-cas'))?.data ?? {})).toEqual(['harbor.corp.example..8443']);
    expect(await referenced()).toBe('corp-cas');
  });
});

describe('registry-push trusted-ca refusals', () => {
  const expectRefusal = (result: Run, code: number, line: RegExp): void => {
    expect(result.code).toBe(code);
    expect(result.stderr.split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(line);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  };

  it.each([
    ['pkcs8', 'BEGIN PRIVATE KEY'],
    ['pkcs1', 'BEGIN RSA PRIVATE KEY'],
  ] as const)('refuses a %s private key given as the CA, without printing it', async (type, header) => {
    const key = privateKeyPem(type);
    expect(key).toContain(header);
    const keyFile = join(scratch, `key-${type}.pem`);
    // With the certificate too: a key sent to a cluster-wide config map would be readable by many.
    await writeFile(keyFile, cluster.ingressCaPem + key);
    const result = await run([
      'trusted-ca',
      'add',
      'keyed.example',
      '--ca-file',
      keyFile,
      '-o',
      'json',
      ...as('kubeadmin'),
    ]);
    expectRefusal(
      result,
      1,
      /^registry-push trusted-ca: the CA holds a private key, not only certificates; it was not sent anywhere\. Give the CA certificate .* \[CA_INVALID\]$/,
    );
    const body = key.split('\n')[1] ?? '';
    expect(body.length).toBeGreaterThan(20);
    expect(result.stderr + result.stdout).not.toContain(body);
    expect(result.stderr + result.stdout).not.toContain('PRIVATE KEY');
    expect(JSON.parse(result.stdout)).toMatchObject({ error: { code: 'CA_INVALID' } });
    expect(Object.keys((await configMap('corp-cas'))?.data ?? {})).not.toContain('keyed.example');
  });

  it('refuses a file with no certificate', async () => {
    const notPem = join(scratch, 'not.pem');
    await writeFile(notPem, 'hello\n');
    expectRefusal(
      await run(['trusted-ca', 'add', 'x.example', '--ca-file', notPem, ...as('kubeadmin')]),
      1,
      /^registry-push trusted-ca: the CA holds no PEM certificate\. .* \[CA_INVALID\]$/,
    );
  });

  it('refuses an IPv6 literal, which no config map key can name', async () => {
    expectRefusal(
      await run(['trusted-ca', 'add', '[fd00::1]:5000', '--ca-file', caFile, ...as('kubeadmin')]),
      1,
      /^registry-push trusted-ca: The registry "\[fd00::1\]:5000" cannot be named in the cluster's additionalTrustedCA config map: .* Name the registry by its DNS name \(and port\)\. \[OPTION_INVALID\]$/,
    );
    expectRefusal(
      await run(['trusted-ca', 'remove', 'fd00::1', ...as('kubeadmin')]),
      1,
      /cannot be named in the cluster's additionalTrustedCA config map.*\[OPTION_INVALID\]$/,
    );
  });

  it('refuses a user who may not change the cluster image config, naming what was forbidden', async () => {
    const result = await run(['trusted-ca', 'add', 'dev.example', '--ca-file', caFile, ...as('developer')]);
    expectRefusal(result, 1, /^registry-push trusted-ca: .*\[FORBIDDEN\]$/);
  });

  it.each([
    [['trusted-ca'], /trusted-ca needs an action: add, list or remove/],
    [['trusted-ca', 'purge'], /trusted-ca action must be add, list or remove, not "purge"/],
    [['trusted-ca', 'add', '--ca-file', 'x'], /trusted-ca add needs the registry HOST\[:PORT\]/],
    [['trusted-ca', 'add', 'a.example'], /trusted-ca add needs the CA certificate: --ca-file FILE \(PEM\)/],
    [['trusted-ca', 'list', 'extra'], /trusted-ca list takes no arguments/],
    [['trusted-ca', 'remove', 'a.example', 'b.example'], /unexpected argument "b.example"/],
  ])('usage mistake %j exits 2 with one line', async (argv, line) => {
    expectRefusal(await run([...argv, ...as('kubeadmin')]), 2, line);
  });
});
