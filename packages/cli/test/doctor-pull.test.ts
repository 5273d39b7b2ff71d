import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type RunningCluster } from '@registry-push/openshift-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './run.js';

let cluster: RunningCluster;
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'cli-doctor-pull-'));
  cluster = await startCluster({
    routerMode: 'port',
    defaultRoute: true,
    users: [{ name: 'puller', roles: [{ role: 'system:image-puller', namespace: 'demo' }] }],
  });
});

afterAll(async () => {
  await cluster.stop();
  await rm(scratch, { recursive: true, force: true });
});

describe('registry-push doctor: pull rights', () => {
  const doctor = (user: string): ReturnType<typeof runCli> =>
    runCli(['doctor', '-n', 'demo', '--kubeconfig', cluster.users[user]!.kubeconfig], scratch);

  it('prints the failed pull check of a viewer with the role binding to add', async () => {
    const result = await doctor('viewer');
    expect(result.code).toBe(1);
    const lines = result.stdout.split('\n');
    const at = lines.findIndex((line) => line.includes('pull permission in demo'));
    expect(lines[at]).toBe(
      '[FAIL] pull permission in demo: User "viewer" cannot pull from project "demo": pulling needs the system:image-puller role (or registry-viewer, registry-editor, edit, admin) there.',
    );
    expect(lines[at + 1]?.trim()).toBe(
      'fix: Ask a project admin to run `oc policy add-role-to-user system:image-puller viewer -n demo`.',
    );
  });

  it('passes the pull check of a system:image-puller', async () => {
    const result = await doctor('puller');
    expect(result.stdout).toMatch(
      /^\[ok {2}\] pull permission in demo: may pull from demo \(get imagestreams\/layers\)$/m,
    );
  });
});
