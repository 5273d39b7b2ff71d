// The first Quick start command ends in this program; keep it working end to end.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const demo = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'demo.js');

describe('demo', () => {
  it('pushes a multi-arch image to a TLS registry and reads it back by digest', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [demo], { timeout: 120_000 });
    expect(stdout).toMatch(/==> ok: 127\.0\.0\.1:\d+\/demo\/app@sha256:[0-9a-f]{64} matches what was built/);
    expect(stdout).toContain('stopped the registry and removed its files');
  });
});
