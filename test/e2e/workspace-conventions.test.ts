// Every workspace slots into the same build, lint and test pipeline. These checks catch a package that
// would silently fall out of it (no tests run, stale turbo cache, deep imports into another package).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface PackageJson {
  name: string;
  private?: boolean;
  type?: string;
  exports?: Record<string, unknown>;
  bin?: Record<string, string>;
  scripts?: Record<string, string>;
  workspaces?: string[];
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;
const rootPackage = readJson<PackageJson>(join(root, 'package.json'));

function workspaceDirs(): string[] {
  return (rootPackage.workspaces ?? []).flatMap((pattern) => {
    if (!pattern.endsWith('/*')) return [join(root, pattern)];
    const parent = join(root, pattern.slice(0, -2));
    if (!existsSync(parent)) return [];
    return readdirSync(parent, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && existsSync(join(parent, entry.name, 'package.json')))
      .map((entry) => join(parent, entry.name));
  });
}

describe('workspace conventions', () => {
  const dirs = workspaceDirs();

  it('finds the workspaces', () => {
    expect(dirs.map((d) => readJson<PackageJson>(join(d, 'package.json')).name)).toEqual(
      expect.arrayContaining(['@registry-push/testkit', '@registry-push/e2e']),
    );
  });

  it.each(dirs.map((d) => [d.slice(root.length + 1), d]))('%s follows the conventions', (_label, dir) => {
    const pkg = readJson<PackageJson>(join(dir, 'package.json'));
    expect(pkg.name.startsWith('@registry-push/')).toBe(true);
    expect(pkg.type).toBe('module');
    // "." is the public API; a package may add light subpaths (core's "./push"), each backed by dist files.
    const entries = Object.keys(pkg.exports ?? {});
    expect(entries[0]).toBe('.');
    for (const entry of entries) expect(entry, `${pkg.name} export ${entry}`).toMatch(/^\.(\/[a-z-]+)?$/);
    for (const script of ['build', 'typecheck', 'lint', 'test']) {
      expect(pkg.scripts?.[script], `${pkg.name} has no "${script}" script`).toBeDefined();
    }
    const tsconfig = readJson<{ extends?: string }>(join(dir, 'tsconfig.json'));
    expect(resolve(dir, tsconfig.extends ?? '')).toBe(join(root, 'tsconfig.base.json'));
    const vitestConfig = readFileSync(join(dir, 'vitest.config.ts'), 'utf8');
    expect(vitestConfig).toMatch(/sharedTestConfig/);
    // npm ci links a command only if its file exists, and on a fresh clone dist/ does not yet: a bin must be
    // a committed file (a small launcher of dist/cli.js), or `npx <command>` is not found.
    for (const [command, file] of Object.entries(pkg.bin ?? {})) {
      expect(file, `${pkg.name} bin ${command}`).not.toMatch(/^(\.\/)?dist\//);
      expect(existsSync(join(dir, file)), `${pkg.name} bin ${command}: ${file}`).toBe(true);
    }
  });

  it('keeps the root tsconfig in every turbo task input', () => {
    const turbo = readJson<{ globalDependencies?: string[] }>(join(root, 'turbo.json'));
    expect(turbo.globalDependencies).toContain('tsconfig.base.json');
  });

  it('has a CI entry point that runs the README test command', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const ci = readFileSync(join(root, '.ci', 'run'), 'utf8');
    const quickStart = /## Quick start[\s\S]*?```(?:sh|bash)?\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const commands = quickStart
      .split('\n')
      .map((line) => line.replace(/#.*$/, '').trim())
      .filter(Boolean);
    expect(commands).toHaveLength(2);
    const testCommand = commands.find((c) => c.includes('test'));
    expect(testCommand).toBeDefined();
    expect(ci).toContain(testCommand ?? '<missing>');
  });
});
