import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Creates a private (0700) temporary directory named after its owner. */
export async function makeWorkDir(owner: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `registry-push-${owner}-`));
}

/** Removes a directory made by {@link makeWorkDir}; missing is fine. */
export async function removeWorkDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}
