import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** The relative imports of one source file (type-only ones too: a cycle of types is still a cycle). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/\bfrom\s+'(\.{1,2}\/[^']+)'/g)].map((m) => m[1] ?? '');
  return specifiers.map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts')));
}

/** Every source file `start` reaches through its imports, `start` itself only if a cycle leads back. */
function reachableFrom(start: string): Set<string> {
  const seen = new Set<string>();
  const queue = importsOf(start);
  while (queue.length > 0) {
    const file = queue.pop() ?? '';
    if (seen.has(file)) continue;
    seen.add(file);
    queue.push(...importsOf(file));
  }
  return seen;
}

describe('login and registry layering', () => {
  it('the registry login check does not depend on the login flow that calls it', () => {
    const reached = [...reachableFrom(join(SRC, 'registry/login-check.ts'))].map((f) => relative(SRC, f));
    expect(reached.filter((f) => f.startsWith('login/'))).toEqual([]);
  });

  it('login/login.ts is on no import cycle', () => {
    const login = join(SRC, 'login/login.ts');
    expect(reachableFrom(login).has(login)).toBe(false);
  });
});
