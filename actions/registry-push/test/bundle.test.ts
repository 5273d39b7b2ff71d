// The committed bundle is what the runner executes: ES modules Node 24 loads by themselves, with the licenses
// of what is inside. (scripts/check-action-dist.sh checks that it matches the sources.)
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ACTION_DIR } from './runner.js';

describe('dist/', () => {
  it('holds main.js and post.js as ES modules, whatever package.json is above them', async () => {
    const dist = join(ACTION_DIR, 'dist');
    expect(JSON.parse(await readFile(join(dist, 'package.json'), 'utf8'))).toEqual({ type: 'module' });
    for (const entry of ['main.js', 'post.js']) {
      const text = await readFile(join(dist, entry), 'utf8');
      expect(text.startsWith("import { createRequire as __createRequire } from 'node:module';\n")).toBe(true);
    }
  });

  it('ships the license of every bundled package', async () => {
    const licenses = await readFile(join(ACTION_DIR, 'dist', 'licenses.txt'), 'utf8');
    for (const name of ['@actions/core@', '@kubernetes/client-node@', 'undici@', 'js-yaml@']) {
      expect(licenses).toContain(name);
    }
    expect(licenses).not.toMatch(/no license file in the package; package.json says nothing/);
  });

  it('runs on the Node the runner uses (node24)', () => {
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(24);
  });
});
