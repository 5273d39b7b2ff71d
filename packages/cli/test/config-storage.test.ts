// `registry-push config set storage.…` with `--storage-credential KEY=FILE`, against the simulator.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ClusterClient,
  RegistryNames,
  Resources,
  type KubeObject,
  type RegistryConfig,
} from '@registry-push/core';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/main.js';
import type { Run } from './run.js';

let cluster: RunningCluster;
let scratch: string;
let admin: ClusterClient;

const SECRET = 'image-registry-private-configuration-user';
const as = (user: string): string[] => ['--kubeconfig', cluster.users[user]!.kubeconfig];

/** Run the CLI as the binary does, with `stdin` as standard input. */
async function run(argv: string[], stdin?: string): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, {
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    env: { HOME: scratch },
    ...(stdin === undefined ? {} : { readStdin: () => stdin }),
  });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

async function storage(): Promise<Record<string, unknown>> {
  const config = await admin.get<RegistryConfig>(Resources.registryConfig, RegistryNames.operatorConfig);
  return config.spec.storage as Record<string, unknown>;
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'cli-config-storage-'));
  cluster = await startCluster({ routerMode: 'port', registryRolloutDelayMs: 50 });
  admin = ClusterClient.fromOptions({ kubeconfig: cluster.kubeconfig });
});

afterAll(async () => {
  await cluster.stop();
  await rm(scratch, { recursive: true, force: true });
});

describe('registry-push config set storage', () => {
  it('help lists the storage paths, the credential keys and the rules', async () => {
    const help = await run(['config', '--help']);
    expect(help.stdout).toMatch(/--storage-credential KEY=FILE/);
    expect(help.stdout).toMatch(/storage\.s3 \.bucket \.region \.regionEndpoint/);
    expect(help.stdout).toMatch(/REGISTRY_STORAGE_S3_ACCESSKEY/);
    expect(help.stdout).toMatch(/exactly one backend \(switch with storage\.OLD=null\)/);
  });

  it('--dry-run prints the secret keys and the patch, never the values, and changes nothing', async () => {
    const keyFile = join(scratch, 'access-key');
    await writeFile(keyFile, 'AKIA-DRY-ACCESS\n');
    const before = await storage();
    const dry = await run(
      [
        'config',
        'set',
        'storage.emptyDir=null',
        'storage.s3.bucket=dry-bucket',
        '--storage-credential',
        `REGISTRY_STORAGE_S3_ACCESSKEY=${keyFile}`,
        '--storage-credential',
        'REGISTRY_STORAGE_S3_SECRETKEY=-',
        '--dry-run',
        ...as('kubeadmin'),
      ],
      'dry-secret-from-stdin\n',
    );
    expect(dry.code).toBe(0);
    expect(dry.stdout.split('\n')[0]).toBe(
      `would create secret openshift-image-registry/${SECRET} (keys REGISTRY_STORAGE_S3_ACCESSKEY, REGISTRY_STORAGE_S3_SECRETKEY)`,
    );
    expect(dry.stdout).toContain('"bucket": "dry-bucket"');
    expect(dry.stdout).toContain('"emptyDir": null');
    expect(`${dry.stdout}${dry.stderr}`).not.toMatch(/AKIA-DRY-ACCESS|dry-secret-from-stdin/);
    expect(await storage()).toEqual(before);
    expect(await admin.find(Resources.secret, SECRET, RegistryNames.namespace)).toBeUndefined();
  });

  it('sets the storage and the secret (one key from stdin), then undo restores the previous storage', async () => {
    const keyFile = join(scratch, 'access-key');
    await writeFile(keyFile, 'AKIA-REAL-ACCESS\n');
    const set = await run(
      [
        'config',
        'set',
        'storage.emptyDir=null',
        'storage.s3.bucket=real-bucket',
        'storage.s3.region=us-east-1',
        'storage.s3.encrypt=true',
        '--storage-credential',
        `REGISTRY_STORAGE_S3_ACCESSKEY=${keyFile}`,
        '--storage-credential',
        'REGISTRY_STORAGE_S3_SECRETKEY=-',
        ...as('kubeadmin'),
      ],
      'real-secret-from-stdin\n',
    );
    expect(set.code).toBe(0);
    expect(set.stdout).toContain(`create secret openshift-image-registry/${SECRET}`);
    expect(set.stdout).toContain('+ storage.s3.bucket: real-bucket');
    expect(set.stdout).toContain('- storage.emptyDir: {}');
    expect(set.stderr).toMatch(/Storage moves from emptyDir to s3/);
    expect(`${set.stdout}${set.stderr}`).not.toMatch(/AKIA-REAL-ACCESS|real-secret-from-stdin/);
    expect(await storage()).toMatchObject({
      s3: { bucket: 'real-bucket', region: 'us-east-1', encrypt: true },
    });
    const secret = await admin.get<KubeObject & { data?: Record<string, string> }>(
      Resources.secret,
      SECRET,
      RegistryNames.namespace,
    );
    const plain = (key: string): string => Buffer.from(secret.data?.[key] ?? '', 'base64').toString();
    expect(plain('REGISTRY_STORAGE_S3_ACCESSKEY')).toBe('AKIA-REAL-ACCESS');
    expect(plain('REGISTRY_STORAGE_S3_SECRETKEY')).toBe('real-secret-from-stdin');

    const undo = await run(['config', 'undo', ...as('kubeadmin')]);
    expect(undo.code).toBe(0);
    expect(undo.stdout).toContain('+ storage.emptyDir: {}');
    expect(undo.stdout).toContain('- storage.s3.bucket: real-bucket');
    const after = await storage();
    expect(after['s3']).toBeUndefined();
    expect(after['emptyDir']).toEqual({});
  });

  it('refusals: one coded line, exit 1; a malformed --storage-credential is a usage error, exit 2', async () => {
    const two = await run(['config', 'set', 'storage.gcs.bucket=b', ...as('kubeadmin')]);
    expect(two.code).toBe(1);
    expect(two.stderr.split('\n')).toEqual([
      'registry-push config: storage refused: it would configure emptyDir and gcs, and the rule is exactly one storage backend (the operator reports an error when more than one is set). To switch backends, also set storage.emptyDir=null. [STORAGE_REFUSED]',
    ]);
    const cloud = await run(['config', 'set', 'storage.azure.cloudName=AzureMoon', ...as('kubeadmin')]);
    expect(cloud.code).toBe(1);
    expect(cloud.stderr).toMatch(
      /storage\.azure\.cloudName must be one of AzurePublicCloud, AzureUSGovernmentCloud/,
    );
    const keyFile = join(scratch, 'wrong-key');
    await writeFile(keyFile, 'not-for-gcs');
    const wrong = await run([
      'config',
      'set',
      'storage.emptyDir=null',
      'storage.gcs.bucket=b',
      '--storage-credential',
      `REGISTRY_STORAGE_S3_ACCESSKEY=${keyFile}`,
      ...as('kubeadmin'),
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(
      /REGISTRY_STORAGE_S3_ACCESSKEY is not a credential of gcs storage.*\[OPTION_INVALID\]$/,
    );
    expect(wrong.stderr).not.toContain('not-for-gcs');
    const malformed = await run(['config', 'set', 'storage.s3.bucket=b', '--storage-credential', 'KEYONLY']);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/--storage-credential takes KEY=FILE/);
    const twice = await run(
      [
        'config',
        'set',
        'storage.s3.bucket=b',
        '--storage-credential',
        'A=-',
        '--storage-credential',
        'B=-',
        ...as('kubeadmin'),
      ],
      'x',
    );
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/only one KEY can be read from stdin/);
    expect((await storage())['emptyDir']).toEqual({});
  });
});
