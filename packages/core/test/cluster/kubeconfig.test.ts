// Kubeconfig values that are not files: refused before any request, and never quoted unless plainly a path.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadClusterAccess, type ClusterAccessOptions } from '../../src/cluster/kubeconfig.js';
import { RegistryPushError } from '../../src/errors.js';

let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'core-kubeconfig-'));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

function refusal(options: ClusterAccessOptions): RegistryPushError {
  try {
    loadClusterAccess(options);
  } catch (error) {
    if (error instanceof RegistryPushError) return error;
    throw error;
  }
  throw new Error('expected the kubeconfig to be refused');
}

const token = 'sha256~coreOneLineToken0123456789abcdefghijk';
const oneLine = `apiVersion: v1 kind: Config clusters: - name: c cluster: server: https://127.0.0.1:1 users: - name: u user: token: ${token} contexts: - name: x context: cluster: c user: u current-context: x`;

describe('a kubeconfig value that names no file', () => {
  it('content on one line is neither a file nor content, and is not repeated', () => {
    const error = refusal({ kubeconfig: oneLine, kubeconfigName: '--kubeconfig', env: { HOME: scratch } });
    expect(error.code).toBe('KUBECONFIG_INVALID');
    expect(error.message).toMatch(
      /^The --kubeconfig value is neither a readable file nor kubeconfig content/,
    );
    expect(JSON.stringify(error.toJSON())).not.toContain(token);
    expect(`${error.message} ${error.hint}`).not.toContain('coreOneLineToken');
  });

  it('content in $KUBECONFIG is taken whole, not split on its colons, and not repeated', () => {
    const error = refusal({ env: { KUBECONFIG: oneLine, HOME: scratch } });
    expect(error.message).toMatch(
      /^The \$KUBECONFIG value is neither a readable file nor kubeconfig content/,
    );
    expect(JSON.stringify(error.toJSON())).not.toContain(token);
  });

  it('a bare token is not repeated either', () => {
    const error = refusal({ kubeconfig: token, env: { HOME: scratch } });
    expect(error.message).not.toContain(token);
  });

  it('a plain path is named, with where it came from', () => {
    const path = join(scratch, 'nope');
    const error = refusal({ kubeconfig: path, kubeconfigName: '--kubeconfig', env: { HOME: scratch } });
    expect(error.message).toBe(`The kubeconfig file ${path} does not exist.`);
    expect(error.hint).toMatch(/--kubeconfig/);
  });
});
