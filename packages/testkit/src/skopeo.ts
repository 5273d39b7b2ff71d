import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { requireBinary } from './binaries.js';
import { TestkitError } from './errors.js';
import { makeWorkDir, removeWorkDir } from './workdir.js';

/** Options for {@link runSkopeo}. */
export interface SkopeoOptions {
  /** Kill skopeo after this long. Default 120 s. */
  timeoutMs?: number;
}

/** What skopeo printed. */
export interface SkopeoResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs `skopeo` with the given subcommand arguments, isolated from the machine's container configuration:
 * no signature policy (`--insecure-policy`; tests copy their own images) and an empty auth file, so the
 * user's stored registry credentials are neither used nor changed. Throws with skopeo's stderr on failure.
 */
export async function runSkopeo(args: readonly string[], options: SkopeoOptions = {}): Promise<SkopeoResult> {
  const binary = requireBinary('skopeo');
  const home = await makeWorkDir('skopeo');
  try {
    return await new Promise<SkopeoResult>((resolve, reject) => {
      execFile(
        binary,
        ['--insecure-policy', ...args],
        {
          timeout: options.timeoutMs ?? 120_000,
          maxBuffer: 64 * 1024 * 1024,
          env: {
            ...process.env,
            HOME: home,
            REGISTRY_AUTH_FILE: join(home, 'auth.json'),
            XDG_RUNTIME_DIR: home,
            TMPDIR: home,
          },
        },
        (error, stdout, stderr) => {
          if (error) {
            reject(
              new TestkitError(
                'command-failed',
                `skopeo ${args[0] ?? ''} failed (${error.killed ? 'timed out' : `exit ${String(error.code)}`}): ${stderr.trim()}`,
                { cause: error },
              ),
            );
            return;
          }
          resolve({ stdout, stderr });
        },
      );
    });
  } finally {
    await removeWorkDir(home);
  }
}
