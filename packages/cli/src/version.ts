import { readFileSync } from 'node:fs';

/**
 * Set by a bundler that inlines the CLI into one file (e.g. esbuild `--define:REGISTRY_PUSH_VERSION='"1.2.3"'`
 * for the single-file binary), where no package.json sits next to the code.
 */
declare const REGISTRY_PUSH_VERSION: string | undefined;

/** The version of `@registry-push/cli`: the package.json next to dist/, read when asked. */
export function cliVersion(): string {
  if (typeof REGISTRY_PUSH_VERSION === 'string') return REGISTRY_PUSH_VERSION;
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    // A bundle without the define and without a package.json beside it: say so rather than crash.
    return 'unknown';
  }
}
