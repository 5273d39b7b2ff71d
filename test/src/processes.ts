// Running the repository's own programs from the demo and the e2e tests: the action's bundle through its
// local runner, and the pruner's CLI, as child processes that never block this one (the simulator serves
// its API from this process, so a synchronous spawn would starve it).
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The action's local runner: main then post of the committed bundle, as a GitHub runner does. */
export const localRun = join(root, 'actions', 'registry-push', 'scripts', 'local-run.mjs');
/** `registry-pruner`, built. */
export const prunerCli = join(root, 'services', 'pruner', 'dist', 'cli.js');

/** How a child process ended. */
export interface NodeResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a node script to its end without blocking this process. */
export function runNode(args: string[], env: NodeJS.ProcessEnv): Promise<NodeResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The environment a child gets: PATH and HOME only, nothing of this process's secrets. */
export const baseEnv = (): NodeJS.ProcessEnv => ({
  PATH: process.env['PATH'] ?? '',
  HOME: process.env['HOME'] ?? '/tmp',
});
