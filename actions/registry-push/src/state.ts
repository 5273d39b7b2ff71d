import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getState, saveState } from '@actions/core';
import type { AuthEntry, ExposeChange, TrustInstallation } from '@registry-push/core';

/**
 * What the main step hands to the post step. It holds paths and descriptions only, never a secret: the runner
 * keeps it in a file and passes it back as `STATE_registry-push`.
 */
export interface PostState {
  /** The private directory under `RUNNER_TEMP` that holds the auth file and the cert dir. */
  stateDir: string;
  /** Whether the post step removes the auth file (the `logout` input). */
  logout: boolean;
  /** The auth entry written by the login, described without the secret. */
  login?: AuthEntry;
  /** The CA files written by the trust phase. */
  trust?: TrustInstallation;
  /** Cluster changes to undo; only kept when `revert-expose` is true. */
  exposeChanges?: ExposeChange[];
}

const STATE_KEY = 'registry-push';

/**
 * A new private directory (0700) for this run's files, under `RUNNER_TEMP` so that concurrent jobs on one
 * self-hosted runner never share an auth file, and the runner empties it after the job in any case.
 */
export async function createStateDir(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const root = env.RUNNER_TEMP !== undefined && env.RUNNER_TEMP !== '' ? env.RUNNER_TEMP : tmpdir();
  return mkdtemp(join(root, 'registry-push-'));
}

/** Record the state so far; called after every phase, so a failing main step still gets cleaned up. */
export function recordState(state: PostState): void {
  saveState(STATE_KEY, JSON.stringify(state));
}

/** The state the main step left, or undefined when it stopped before recording any. */
export function loadState(): PostState | undefined {
  const text = getState(STATE_KEY);
  if (text === '') return undefined;
  const state = JSON.parse(text) as PostState;
  return typeof state.stateDir === 'string' ? state : undefined;
}
