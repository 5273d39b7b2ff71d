import { rmSync } from 'node:fs';

/**
 * The private temporary directories this process created and has not removed yet (the auth directory of
 * a login, the cert dir of a trust), so that a run cut short by SIGINT/SIGTERM — a cancelled CI job —
 * can still remove them: the auth directory holds base64 `user:token`.
 */
const held = new Set<string>();

/** Note a temporary directory that must not outlive an interrupted run. */
export function holdTemporary(path: string): void {
  held.add(path);
}

/** The directory was removed, or handed over to the user on purpose. */
export function releaseTemporary(path: string): void {
  held.delete(path);
}

/**
 * Remove every held temporary directory now, synchronously (a signal handler may have no later turn of
 * the event loop), and return their paths.
 */
export function removeHeldTemporaries(): string[] {
  const removed: string[] = [];
  for (const path of held) {
    try {
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
    } catch {
      // Keep going: removing the others matters more than reporting this one.
    }
    held.delete(path);
  }
  return removed;
}
