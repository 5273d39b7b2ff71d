/**
 * The queue's vocabulary: job names, their data (references only — run ids and unit ids, never tokens or
 * plans), job ids, and the options each kind of job gets.
 *
 * A run is a flow:
 *
 * ```
 * plan (trigger)              takes the lock, snapshots, plans, stores the plan, adds the flow below
 * finalize <run>.finalize     summary, history, lock release           (runs after its child)
 *   └ images <run>.images     fans out the image batches once every stream unit is through
 *       ├ stream <run>.s<n>   one per trimmed imagestream (phase 1)
 *       └ batch <run>.b<n>    image units, linked ones together (phase 2, added by images)
 * registry <run>.registry     with an undo window: the registry deletes, delayed until the window ends
 * ```
 */
import type { JobsOptions } from 'bullmq';
import type { Settings } from './settings.js';
import type { RunTrigger } from './store/run-store.js';

/** Names of the jobs in the pruner queue. */
export const JobNames = {
  plan: 'plan',
  stream: 'stream',
  images: 'images',
  batch: 'batch',
  finalize: 'finalize',
  registry: 'registry',
} as const;

/** A trigger: from the schedule or from `enqueue`. */
export interface PlanJobData {
  trigger: RunTrigger;
  /** Carry out the run (otherwise a dry run). */
  confirm: boolean;
  /** The dry run whose plan was approved: the run carries out that plan's changes only (see web/approve.ts). */
  approve?: string;
}

/** Phase 1: one stream unit. */
export interface StreamJobData {
  runId: string;
  unit: string;
}

/** The images step, which adds phase 1's stream jobs and then phase 2's batches; `step` records how far. */
export interface ImagesJobData {
  runId: string;
  /** Unset: nothing added yet; `streams`: the stream units added; `waiting`: the image batches added. */
  step?: 'streams' | 'waiting';
}

/** Phase 2: image units that run in order in one process. */
export interface BatchJobData {
  runId: string;
  units: string[];
}

/** The end of a run. */
export interface FinalizeJobData {
  runId: string;
}

/** The registry phase of a run with an undo window (added by finalize, delayed by the window). */
export interface RegistryJobData {
  runId: string;
}

/** The data of any pruner job. */
export type PrunerJobData =
  PlanJobData | StreamJobData | ImagesJobData | BatchJobData | FinalizeJobData | RegistryJobData;

/** What the plan job returns: the run it started, or why it did not start one. */
export type PlanJobResult =
  | { status: 'started'; runId: string; planId: string; units: number }
  | { status: 'rejected'; runId: string; activeRun: string };

/** The id of the scheduler that produces the scheduled triggers. */
export const SCHEDULER_ID = 'registry-pruner-schedule';

/**
 * The run id of a trigger: the scheduled time for scheduled triggers (so a schedule slot is one run however
 * many replicas see it), the job id for manual ones.
 */
export function runIdOf(job: { id?: string | undefined; timestamp: number }): string {
  const id = job.id ?? `manual-${job.timestamp}`;
  const scheduled = /^repeat:.*:(\d+)$/.exec(id);
  return scheduled !== null ? `scheduled-${scheduled[1]}` : id;
}

/** A fresh run id for a manual trigger (job ids may not contain `:`). */
export function newManualRunId(now = Date.now()): string {
  return `manual-${now}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Job ids inside a run. */
export const jobIds = {
  finalize: (runId: string): string => `${runId}.finalize`,
  images: (runId: string): string => `${runId}.images`,
  stream: (runId: string, index: number): string => `${runId}.s${index}`,
  batch: (runId: string, index: number): string => `${runId}.b${index}`,
  registry: (runId: string): string => `${runId}.registry`,
};

function retried(settings: Settings): JobsOptions {
  return { attempts: settings.attempts, backoff: { type: 'exponential', delay: settings.backoffMs } };
}

/** Triggers: retried on transient failures (the lock keeps other triggers out meanwhile). */
export function planJobOptions(settings: Settings): JobsOptions {
  return { ...retried(settings), removeOnComplete: { count: 200 }, removeOnFail: { count: 200 } };
}

/** Units and the images step: a unit that fails for good does not stop the run; finalize reports it. */
export function unitJobOptions(settings: Settings): JobsOptions {
  return {
    ...retried(settings),
    ignoreDependencyOnFailure: true,
    removeOnComplete: { age: 24 * 3600, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  };
}

/** The finalize job. */
export function finalizeJobOptions(settings: Settings): JobsOptions {
  return { ...retried(settings), removeOnComplete: { count: 200 }, removeOnFail: { count: 200 } };
}

/** The registry phase: delayed by the run's undo window; retried; kept a while to show how it ended. */
export function registryJobOptions(settings: Settings, delayMs: number): JobsOptions {
  return {
    ...retried(settings),
    delay: delayMs,
    removeOnComplete: { age: 7 * 24 * 3600 },
    removeOnFail: { age: 7 * 24 * 3600 },
  };
}
