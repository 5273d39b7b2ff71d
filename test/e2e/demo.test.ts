// The first Quick start command ends in this program; keep it working end to end.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const demo = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'demo.js');

describe('demo', () => {
  it('exposes the simulated registry, pushes a multi-arch image and finds it recorded in the cluster', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [demo], { timeout: 120_000 });
    expect(stdout).toMatch(
      /==> route admitted: https:\/\/default-route-openshift-image-registry\.apps\.sim-[0-9a-f]{6}\.test/,
    );
    expect(stdout).toMatch(/==> ImageStream demo\/app: tag v1 -> sha256:[0-9a-f]{64}/);
    expect(stdout).toContain('==> ok: the push is in the registry and recorded in the cluster');
    expect(stdout).toContain('stopped the cluster and removed its files');
  });
});
