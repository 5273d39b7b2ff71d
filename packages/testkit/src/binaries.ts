import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { TestkitError } from './errors.js';

/** The system programs the testkit runs, with the Debian package that provides each. */
export const SYSTEM_BINARIES = {
  'redis-server': 'redis-server',
  'docker-registry': 'docker-registry',
  skopeo: 'skopeo',
  kubectl: 'kubernetes-client',
} as const;

export type SystemBinary = keyof typeof SYSTEM_BINARIES;

/** Returns the absolute path of `name` on PATH, or undefined. */
export function findOnPath(name: string, path = process.env['PATH'] ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

/**
 * Resolves a system binary or throws one message naming the Debian package to install.
 */
export function requireBinary(name: SystemBinary): string {
  const found = findOnPath(name);
  if (found !== undefined) return found;
  const pkg = SYSTEM_BINARIES[name];
  throw new TestkitError(
    'missing-binary',
    `${name} was not found on PATH. Install the Debian package "${pkg}" ` +
      `(sudo apt-get install -y ${pkg}), or run scripts/install-system-deps.sh, then run the tests again.`,
  );
}
