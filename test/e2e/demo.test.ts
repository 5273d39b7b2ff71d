// The first Quick start command ends in this program; keep it working end to end.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const demo = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'demo.js');

describe('demo', () => {
  it('pushes four builds through the action bundle, then the pruner worker plans and prunes them', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [demo], { timeout: 240_000 });
    expect(stdout).toMatch(
      /==> CI run 1: .* as kubeadmin \(exposes the registry\)\n {4}registry \S+ \((default-route|explicit)\)/,
    );
    expect(stdout.match(/^ {4}digest {3}sha256:[0-9a-f]{64}$/gm)).toHaveLength(4);
    expect(stdout).toMatch(/Prune run of plan [0-9a-f]+ \(full, dry run: nothing was changed\)/);
    expect(stdout).toMatch(/succeeded full: \d+ changed, [1-9][\d.]* [KM]iB freed/);
    expect(stdout).toMatch(/demo\/app:latest -> sha256:[0-9a-f]{64}/);
    expect(stdout).toContain('==> ok: pushed by the action, pruned by the worker, the kept image pulls');
    expect(stdout).toContain('stopped the worker, Redis and the cluster');
    // As long as the demo itself is given: about 30 s on a quiet machine, more than a minute on a busy one.
  }, 240_000);
});
