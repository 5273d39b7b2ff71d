// Helpers of the undo-window tests: a confirmed run through the CLI, a byte-for-byte pull of an image by
// digest (and tag), and the Events that name a run.
import type { BuiltImage } from '@registry-push/testkit';
import type { KubeObject } from '@registry-push/core';
import { expect } from 'vitest';
import { runCli } from './processes.js';
import type { World } from './world.js';

/** Runs `enqueue --confirm --wait` and returns the run id once it succeeded. */
export async function prune(env: Record<string, string>): Promise<string> {
  const run = await runCli(['enqueue', '--confirm', '--wait'], env, 180_000);
  expect(run.code, run.stderr + run.stdout).toBe(0);
  const runId = /^(\S+) succeeded/.exec(run.stdout)?.[1];
  expect(runId, run.stdout).toBeDefined();
  return runId!;
}

/** Pulls `<namespace>/app@<digest>` (and `:tag`) with skopeo and expects it equal to `image` byte for byte. */
export async function pulls(world: World, namespace: string, image: BuiltImage, tag?: string): Promise<void> {
  expect(
    await world.pullDiff(`${namespace}/app@${image.digest}`, image),
    `${namespace}@${image.digest}`,
  ).toEqual([]);
  if (tag !== undefined) expect(await world.pullDiff(`${namespace}/app:${tag}`, image)).toEqual([]);
}

/** The reasons of the Events on the ImagePruner that name `runId`. */
export async function eventReasons(world: World, runId: string): Promise<string[]> {
  const events = await world.admin.list<KubeObject & { reason?: string; message?: string }>(
    { apiVersion: 'v1', kind: 'Event', plural: 'events', namespaced: true },
    { namespace: 'default' },
  );
  return events.filter((e) => e.message?.includes(runId) === true).map((e) => e.reason ?? '');
}
