/**
 * Carrying out a plan. Every unit is idempotent (a 404 is "already done"), re-reads what it changes right
 * before changing it, and can run on its own, so a queue can spread units over workers and a crashed run can
 * simply run the same plan again. Dry run (the default) makes no call at all.
 */
import { isRegistryPushError, RegistryPushError } from '../errors.js';
import { systemErrorCode } from '../system-errors.js';
import type { PruneCluster } from './cluster-port.js';
import { blobsOf, toSnapshotImage, type ImageStreamObject } from './objects.js';
import type { PruneRegistry, RegistryDeleteOutcome } from './registry.js';
import {
  PLAN_SCHEMA,
  RESULT_SCHEMA,
  type HistoryRemoval,
  type ImageUnit,
  type ItemOutcome,
  type ItemResult,
  type PlanItemKind,
  type PruneMode,
  type PrunePlan,
  type PruneRunResult,
  type RunSummary,
  type SnapshotImage,
  type StreamUnit,
  type UnitResult,
  type UnitStatus,
  type WorkUnit,
} from './types.js';

/** How failed calls are tried again. */
export interface RetryOptions {
  /** Tries per call, the first included. Default 4. */
  attempts?: number;
  /** First pause, doubled each time. Default 200 ms. */
  baseDelayMs?: number;
  /** Longest pause. Default 5 s. */
  maxDelayMs?: number;
}

/** Progress of a run. */
export type PruneProgress =
  | { type: 'phase'; phase: 'history' | 'images'; units: number }
  | { type: 'unit'; unit: string; status: UnitStatus; done: number; total: number }
  | { type: 'item'; result: ItemResult };

/** Options of {@link executePlan} and {@link executeUnit}. */
export interface ExecuteOptions {
  cluster: PruneCluster;
  /** Required to confirm a `full` plan; never used in `metadata` mode or in a dry run. */
  registry?: PruneRegistry;
  /** Make the changes. Default false: a dry run that touches nothing. */
  confirm?: boolean;
  /** Units run at the same time. Default 5. */
  concurrency?: number;
  retry?: RetryOptions;
  /** Tries of a stream status update that meets 409 Conflict, each after a fresh read. Default 5. */
  conflictAttempts?: number;
  /**
   * How old (ms) the cluster-wide view of Images and streams may be when an image unit checks that nothing
   * new uses its blobs. Default 0: a fresh list before every image unit, which is exact but costs one list of
   * all Images per unit; large runs trade a few seconds of staleness for far fewer lists.
   */
  freshnessMs?: number;
  /**
   * Asked before each unit's registry deletes: the mode the registry allows now (for instance from its
   * current managementState). When it says `metadata`, registry deletes are skipped.
   */
  checkMode?: () => Promise<PruneMode>;
  onProgress?: (event: PruneProgress) => void;
  /** Stops starting new units; running ones finish. */
  signal?: AbortSignal;
}

/** The plan facts a unit needs besides itself (so a queue job can carry just these). */
export interface UnitPlanContext {
  mode: PruneMode;
  protectAnnotation: string;
}

/** State shared by the units of one run (or one worker process). */
export class ExecutionState {
  /** Stream units that did not complete, so images relying on them must stay. */
  readonly unsettledStreams = new Set<string>();
  /** Images whose unit did not delete them (blocked, skipped or failed): they still use their blobs. */
  readonly keptImages = new Set<string>();
  /** Image facts read during the run, by digest (null: no such Image). */
  readonly images = new Map<string, SnapshotImage | null>();
  private view: { startedAt: number; promise: Promise<FreshView> } | undefined;

  /** A cluster-wide view that started loading no earlier than `maxAgeMs` ago. */
  freshView(load: () => Promise<FreshView>, maxAgeMs: number): Promise<FreshView> {
    const now = Date.now();
    if (this.view === undefined || this.view.startedAt < now - maxAgeMs) {
      const promise = load();
      this.view = { startedAt: now, promise };
      promise.catch(() => {
        if (this.view?.promise === promise) this.view = undefined;
      });
    }
    return this.view.promise;
  }
}

/** Images and stream histories as they are now. */
interface FreshView {
  images: Map<string, SnapshotImage>;
  /** Digests in any stream history, with the children of the lists among them. */
  inHistory: Set<string>;
  /** Blob or manifest digest → images that need it. */
  users: Map<string, string[]>;
  /** Images whose layers, or config, could not be read: any layer (config) blob could be theirs. */
  unknownLayers: string[];
  unknownConfig: string[];
}

const DEFAULT_RETRY: Required<RetryOptions> = { attempts: 4, baseDelayMs: 200, maxDelayMs: 5000 };
const RETRYABLE_SYSTEM_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
]);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function isRetryable(error: unknown): boolean {
  // A conflict needs a fresh read, not the same write again; the stream update loop handles it.
  if (error instanceof RegistryPushError) return error.retryable && error.code !== 'CONFLICT';
  const code = systemErrorCode(error);
  return code !== undefined && RETRYABLE_SYSTEM_CODES.has(code);
}

function errorOf(error: unknown): { code: string; message: string } {
  if (error instanceof RegistryPushError) return { code: error.code, message: error.message };
  return {
    code: systemErrorCode(error) ?? 'UNEXPECTED',
    message: error instanceof Error ? error.message : String(error),
  };
}

/** Runs `call`, retrying retryable failures with exponential backoff and jitter. */
async function retrying<T>(
  call: () => Promise<T>,
  options: RetryOptions | undefined,
): Promise<{ value: T; attempts: number }> {
  const retry = { ...DEFAULT_RETRY, ...options };
  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await call(), attempts: attempt };
    } catch (error) {
      if (attempt >= retry.attempts || !isRetryable(error)) {
        throw Object.assign(error instanceof Error ? error : new Error(String(error)), { attempts: attempt });
      }
      const delay = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
      await sleep(delay / 2 + Math.random() * (delay / 2));
    }
  }
}

const attemptsOf = (error: unknown): number => (error as { attempts?: number }).attempts ?? 1;

let lastMs = -1;
let lastIso = '';

/**
 * The time now as RFC 3339. Items recorded in the same millisecond share one string: a dry run of a large
 * plan records hundreds of thousands of items in a few seconds.
 */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

class UnitRecorder {
  readonly items: ItemResult[] = [];

  constructor(
    private readonly unit: string,
    private readonly emit: ((event: PruneProgress) => void) | undefined,
  ) {}

  record(kind: PlanItemKind, target: string, outcome: ItemOutcome, extra: Partial<ItemResult> = {}): void {
    const result: ItemResult = {
      unit: this.unit,
      kind,
      target,
      outcome,
      attempts: 0,
      bytes: 0,
      at: isoNow(),
      ...extra,
    };
    this.items.push(result);
    this.emit?.({ type: 'item', result });
  }

  status(): UnitStatus {
    if (this.items.some((item) => item.outcome === 'failed')) return 'failed';
    if (this.items.length > 0 && this.items.every((item) => item.outcome === 'dry-run')) return 'dry-run';
    if (this.items.some((item) => item.outcome === 'blocked')) return 'blocked';
    if (this.items.some((item) => item.outcome === 'skipped')) return 'skipped';
    return 'done';
  }
}

const removalKey = (tag: string, image: string, created: string): string => `${tag}\n${image}\n${created}`;

/** The stream without the planned items (and without tags left empty); which planned items were there. */
function withoutItems(
  stream: ImageStreamObject,
  removals: readonly HistoryRemoval[],
): { next: ImageStreamObject; removed: Set<string> } {
  const wanted = new Set(removals.map((r) => removalKey(r.tag, r.image, r.created)));
  const removed = new Set<string>();
  const tags = (stream.status?.tags ?? [])
    .map((entry) => ({
      ...entry,
      items: (entry.items ?? []).filter((item) => {
        const key = removalKey(entry.tag, item.image, item.created);
        if (!wanted.has(key)) return true;
        removed.add(key);
        return false;
      }),
    }))
    .filter((entry) => entry.items.length > 0);
  return { next: { ...stream, status: { ...stream.status, tags } }, removed };
}

function historyDigests(stream: ImageStreamObject | undefined): string[] {
  return (stream?.status?.tags ?? []).flatMap((entry) => (entry.items ?? []).map((item) => item.image));
}

async function imageFacts(
  digest: string,
  options: ExecuteOptions,
  plan: UnitPlanContext,
  state: ExecutionState,
): Promise<SnapshotImage | null> {
  const known = state.images.get(digest);
  if (known !== undefined) return known;
  const { value } = await retrying(() => options.cluster.getImage(digest), options.retry);
  const facts = value === undefined ? null : toSnapshotImage(value, plan.protectAnnotation);
  state.images.set(digest, facts);
  return facts;
}

/** Manifests and blobs the remaining history of a stream holds in its repository. */
async function repositoryNeeds(
  stream: ImageStreamObject | undefined,
  options: ExecuteOptions,
  plan: UnitPlanContext,
  state: ExecutionState,
): Promise<{ manifests: Set<string>; blobs: Set<string>; unknown: Set<string> }> {
  const manifests = new Set<string>();
  const blobs = new Set<string>();
  const unknown = new Set<string>();
  const pending = historyDigests(stream);
  for (let digest = pending.pop(); digest !== undefined; digest = pending.pop()) {
    if (manifests.has(digest)) continue;
    manifests.add(digest);
    const facts = await imageFacts(digest, options, plan, state);
    if (facts === null) continue;
    for (const blob of blobsOf(facts)) blobs.add(blob.digest);
    for (const part of facts.unknown ?? []) unknown.add(part);
    pending.push(...facts.manifests);
  }
  return { manifests, blobs, unknown };
}

async function registryAllowed(options: ExecuteOptions, plan: UnitPlanContext): Promise<boolean> {
  if (plan.mode !== 'full') return false;
  if (options.checkMode === undefined) return true;
  return (await options.checkMode()) === 'full';
}

async function registryDelete(
  recorder: UnitRecorder,
  what: { kind: PlanItemKind; target: string; bytes?: number },
  call: () => Promise<RegistryDeleteOutcome>,
  options: ExecuteOptions,
): Promise<boolean> {
  try {
    const { value, attempts } = await retrying(call, options.retry);
    recorder.record(what.kind, what.target, value, {
      attempts,
      bytes: value === 'deleted' ? (what.bytes ?? 0) : 0,
    });
    return true;
  } catch (error) {
    recorder.record(what.kind, what.target, 'failed', { attempts: attemptsOf(error), error: errorOf(error) });
    return false;
  }
}

/** Reads, trims and writes back the stream, retrying on conflict; undefined when the unit must stop. */
async function updateHistory(
  unit: StreamUnit,
  recorder: UnitRecorder,
  options: ExecuteOptions,
): Promise<{ stream: ImageStreamObject | undefined } | undefined> {
  const repo = `${unit.namespace}/${unit.name}`;
  const tries = options.conflictAttempts ?? 5;
  for (let attempt = 1; attempt <= tries; attempt++) {
    try {
      const { value: stream } = await retrying(
        () => options.cluster.getImageStream(unit.namespace, unit.name),
        options.retry,
      );
      if (stream === undefined) {
        for (const r of unit.removals)
          recorder.record('tag-history', `${repo}:${r.tag}@${r.image}`, 'absent');
        recorder.record('stream-update', repo, 'absent', { attempts: attempt });
        return { stream: undefined };
      }
      if (stream.metadata.uid !== unit.uid) {
        for (const r of unit.removals) {
          recorder.record('tag-history', `${repo}:${r.tag}@${r.image}`, 'skipped', {
            reason: 'stream-replaced',
          });
        }
        recorder.record('stream-update', repo, 'skipped', { reason: 'stream-replaced' });
        return undefined;
      }
      const { next, removed } = withoutItems(stream, unit.removals);
      const written =
        removed.size === 0
          ? stream
          : (await retrying(() => options.cluster.replaceImageStreamStatus(next), options.retry)).value;
      for (const r of unit.removals) {
        const gone = removed.has(removalKey(r.tag, r.image, r.created));
        recorder.record('tag-history', `${repo}:${r.tag}@${r.image}`, gone ? 'deleted' : 'absent', {
          attempts: attempt,
        });
      }
      recorder.record('stream-update', repo, removed.size === 0 ? 'absent' : 'updated', {
        attempts: attempt,
      });
      return { stream: written };
    } catch (error) {
      if (isRegistryPushError(error, 'CONFLICT') && attempt < tries) {
        await sleep(10 * attempt + Math.random() * 10);
        continue;
      }
      recorder.record('stream-update', repo, 'failed', { attempts: attempt, error: errorOf(error) });
      return undefined;
    }
  }
  return undefined;
}

async function runStreamUnit(
  unit: StreamUnit,
  plan: UnitPlanContext,
  options: ExecuteOptions,
  state: ExecutionState,
  recorder: UnitRecorder,
): Promise<void> {
  const repo = `${unit.namespace}/${unit.name}`;
  const updated = await updateHistory(unit, recorder, options);
  if (updated === undefined) {
    state.unsettledStreams.add(unit.id);
    return;
  }
  if (unit.manifestLinks.length + unit.layerLinks.length === 0) return;
  if (!(await registryAllowed(options, plan))) {
    for (const d of unit.manifestLinks)
      recorder.record('manifest-link', `${repo}@${d}`, 'skipped', { reason: 'registry-not-managed' });
    for (const d of unit.layerLinks)
      recorder.record('layer-link', `${repo}@${d}`, 'skipped', { reason: 'registry-not-managed' });
    return;
  }
  const registry = requireRegistry(options);
  // Re-checked against the history as written: a push since the snapshot may have brought a digest back.
  const needs = await repositoryNeeds(updated.stream, options, plan, state);
  // An Image of the remaining history that cannot be read fully could need any link of that kind.
  const manifestsUnknown = needs.unknown.has('children');
  const blobsUnknown = needs.unknown.has('layers') || needs.unknown.has('config');
  for (const digest of unit.manifestLinks) {
    if (needs.manifests.has(digest) || manifestsUnknown) {
      recorder.record('manifest-link', `${repo}@${digest}`, 'skipped', {
        reason: manifestsUnknown ? 'history-image-unreadable' : 'still-referenced',
      });
      continue;
    }
    await registryDelete(
      recorder,
      { kind: 'manifest-link', target: `${repo}@${digest}` },
      () => registry.deleteManifest(repo, digest),
      options,
    );
  }
  for (const digest of unit.layerLinks) {
    if (needs.blobs.has(digest) || blobsUnknown) {
      recorder.record('layer-link', `${repo}@${digest}`, 'skipped', {
        reason: blobsUnknown ? 'history-image-unreadable' : 'still-referenced',
      });
      continue;
    }
    await registryDelete(
      recorder,
      { kind: 'layer-link', target: `${repo}@${digest}` },
      () => registry.deleteLayerLink(repo, digest),
      options,
    );
  }
}

async function loadView(options: ExecuteOptions, plan: UnitPlanContext): Promise<FreshView> {
  const [imageObjects, streams] = await Promise.all([
    retrying(() => options.cluster.listImages(), options.retry),
    retrying(() => options.cluster.listImageStreams(), options.retry),
  ]);
  const images = new Map<string, SnapshotImage>();
  const users = new Map<string, string[]>();
  const unknownLayers: string[] = [];
  const unknownConfig: string[] = [];
  for (const object of imageObjects.value) {
    const image = toSnapshotImage(object, plan.protectAnnotation);
    images.set(image.digest, image);
    if (image.unknown?.includes('layers') === true) unknownLayers.push(image.digest);
    if (image.unknown?.includes('config') === true) unknownConfig.push(image.digest);
    for (const digest of [...blobsOf(image).map((b) => b.digest), image.digest, ...image.manifests]) {
      const list = users.get(digest);
      if (list === undefined) users.set(digest, [image.digest]);
      else list.push(image.digest);
    }
  }
  const inHistory = new Set<string>();
  const pending = streams.value.flatMap(historyDigests);
  for (let digest = pending.pop(); digest !== undefined; digest = pending.pop()) {
    if (inHistory.has(digest)) continue;
    inHistory.add(digest);
    pending.push(...(images.get(digest)?.manifests ?? []));
  }
  return { images, inHistory, users, unknownLayers, unknownConfig };
}

function skipImage(
  unit: ImageUnit,
  recorder: UnitRecorder,
  outcome: 'blocked' | 'skipped',
  reason: string,
): void {
  for (const blob of unit.blobs) recorder.record('blob', blob.digest, outcome, { reason });
  recorder.record('image', unit.digest, outcome, { reason });
}

/** A manifest list that names the image as a child and is not going away with this plan. */
function liveParent(unit: ImageUnit, view: FreshView, state: ExecutionState): string | undefined {
  const planned = new Set(
    unit.parents.filter((digest) => !state.keptImages.has(digest) && !view.inHistory.has(digest)),
  );
  return (view.users.get(unit.digest) ?? []).find((digest) => digest !== unit.digest && !planned.has(digest));
}

/** Deletes the unit's blobs that no live image needs; returns how many deletions failed. */
async function deleteBlobs(
  unit: ImageUnit,
  view: FreshView,
  context: { plan: UnitPlanContext; options: ExecuteOptions; state: ExecutionState },
  recorder: UnitRecorder,
): Promise<number> {
  const { plan, options, state } = context;
  if (unit.blobs.length === 0) return 0;
  if (!(await registryAllowed(options, plan))) {
    for (const blob of unit.blobs)
      recorder.record('blob', blob.digest, 'skipped', { reason: 'registry-not-managed' });
    return 0;
  }
  const registry = requireRegistry(options);
  const own = view.images.get(unit.digest);
  let failures = 0;
  for (const blob of unit.blobs) {
    // Other images of this plan that share the blob (or list this image) count as going only while nothing keeps them.
    const going = new Set(
      [...blob.sharedWith, ...unit.parents].filter(
        (digest) =>
          !state.keptImages.has(digest) &&
          !view.inHistory.has(digest) &&
          view.images.get(digest)?.protected !== true,
      ),
    );
    going.add(unit.digest);
    const user = (view.users.get(blob.digest) ?? []).find((digest) => !going.has(digest));
    if (user !== undefined) {
      recorder.record('blob', blob.digest, 'skipped', { reason: `used by ${user}` });
      continue;
    }
    // An Image that became unreadable since the plan: a blob of the kind it hides could be its own.
    const isConfig = own?.config?.digest === blob.digest;
    const holder =
      blob.digest === unit.digest
        ? undefined
        : (isConfig ? view.unknownConfig : view.unknownLayers).find((digest) => !going.has(digest));
    if (holder !== undefined) {
      recorder.record('blob', blob.digest, 'skipped', { reason: `identity unknown: Image ${holder}` });
      continue;
    }
    const deleted = await registryDelete(
      recorder,
      { kind: 'blob', target: blob.digest, bytes: blob.size },
      () => registry.deleteBlob(blob.digest),
      options,
    );
    if (!deleted) failures++;
  }
  return failures;
}

async function runImageUnit(
  unit: ImageUnit,
  plan: UnitPlanContext,
  options: ExecuteOptions,
  state: ExecutionState,
  recorder: UnitRecorder,
): Promise<void> {
  const unsettled = unit.dependsOn.find((id) => state.unsettledStreams.has(id));
  if (unsettled !== undefined) {
    state.keptImages.add(unit.digest);
    return skipImage(unit, recorder, 'blocked', `${unsettled} did not complete`);
  }
  let view: FreshView;
  try {
    view = await state.freshView(() => loadView(options, plan), options.freshnessMs ?? 0);
  } catch (error) {
    state.keptImages.add(unit.digest);
    for (const blob of unit.blobs)
      recorder.record('blob', blob.digest, 'skipped', { reason: 'no-fresh-view' });
    recorder.record('image', unit.digest, 'failed', { error: errorOf(error) });
    return;
  }
  if (view.inHistory.has(unit.digest)) {
    state.keptImages.add(unit.digest);
    return skipImage(unit, recorder, 'skipped', 'in-stream-history-again');
  }
  if (view.images.get(unit.digest)?.protected === true) {
    state.keptImages.add(unit.digest);
    return skipImage(unit, recorder, 'skipped', 'image-protected');
  }
  if (view.images.get(unit.digest)?.problem !== undefined) {
    // It became unreadable since the plan: what it needs is no longer known, so it stays.
    state.keptImages.add(unit.digest);
    return skipImage(unit, recorder, 'skipped', 'image-unreadable');
  }
  const parent = liveParent(unit, view, state);
  if (parent !== undefined) {
    state.keptImages.add(unit.digest);
    return skipImage(unit, recorder, 'skipped', `child of ${parent}`);
  }
  const blobFailures = await deleteBlobs(unit, view, { plan, options, state }, recorder);
  if (blobFailures > 0) {
    // Keep the Image so the next run plans these blobs again instead of orphaning them.
    state.keptImages.add(unit.digest);
    recorder.record('image', unit.digest, 'skipped', { reason: 'blob-deletion-failed' });
    return;
  }
  try {
    const { value, attempts } = await retrying(() => options.cluster.deleteImage(unit.digest), options.retry);
    recorder.record('image', unit.digest, value, { attempts });
  } catch (error) {
    state.keptImages.add(unit.digest);
    recorder.record('image', unit.digest, 'failed', { attempts: attemptsOf(error), error: errorOf(error) });
  }
}

function requireRegistry(options: ExecuteOptions): PruneRegistry {
  if (options.registry === undefined) {
    throw new RegistryPushError(
      'PRUNE_REGISTRY_REQUIRED',
      'A full prune needs access to the registry, and none was given.',
      {
        hint: 'Pass a registry client, or run in metadata mode.',
      },
    );
  }
  return options.registry;
}

function dryRun(unit: WorkUnit, recorder: UnitRecorder): void {
  if (unit.type === 'stream') {
    const repo = `${unit.namespace}/${unit.name}`;
    for (const r of unit.removals) recorder.record('tag-history', `${repo}:${r.tag}@${r.image}`, 'dry-run');
    recorder.record('stream-update', repo, 'dry-run');
    for (const d of unit.manifestLinks) recorder.record('manifest-link', `${repo}@${d}`, 'dry-run');
    for (const d of unit.layerLinks) recorder.record('layer-link', `${repo}@${d}`, 'dry-run');
    return;
  }
  for (const blob of unit.blobs) recorder.record('blob', blob.digest, 'dry-run', { bytes: blob.size });
  recorder.record('image', unit.digest, 'dry-run');
}

/**
 * Runs one work unit: a stream unit updates the history through the `status` subresource (retrying on
 * conflict with a fresh read), then deletes the repository links the written history no longer needs; an
 * image unit checks a fresh cluster-wide view (the image is not back in a history, no Image outside this
 * plan's deletions needs a blob), deletes the blobs and then the Image. Safe to run again at any point.
 *
 * @param unit The unit, as in the plan.
 * @param plan The plan's mode and protect annotation.
 * @param options Where and how to run.
 * @param state Shared by the units of one run; image units must see the state of the stream units before them.
 * @returns The per-item results.
 */
export async function executeUnit(
  unit: WorkUnit,
  plan: UnitPlanContext,
  options: ExecuteOptions,
  state: ExecutionState = new ExecutionState(),
): Promise<UnitResult> {
  const recorder = new UnitRecorder(unit.id, options.onProgress);
  try {
    if (options.confirm !== true) dryRun(unit, recorder);
    else if (unit.type === 'stream') await runStreamUnit(unit, plan, options, state, recorder);
    else await runImageUnit(unit, plan, options, state, recorder);
  } catch (error) {
    // Anything unexpected (a mode check that failed, an Image that cannot be read) stops this unit only.
    if (unit.type === 'stream') {
      state.unsettledStreams.add(unit.id);
      recorder.record('stream-update', `${unit.namespace}/${unit.name}`, 'failed', { error: errorOf(error) });
    } else {
      state.keptImages.add(unit.digest);
      recorder.record('image', unit.digest, 'failed', { error: errorOf(error) });
    }
  }
  return { unit: unit.id, status: recorder.status(), items: recorder.items };
}

async function pool<T>(
  items: readonly T[],
  concurrency: number,
  signal: AbortSignal | undefined,
  run: (item: T) => Promise<void>,
): Promise<T[]> {
  const skipped: T[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      if (signal?.aborted === true) skipped.push(item);
      else await run(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return skipped;
}

/** Counts by kind and outcome, bytes freed and errors by code, over the results of some units. */
export function summariseRun(units: readonly UnitResult[]): RunSummary {
  const summary: RunSummary = { counts: {}, bytesFreed: 0, errors: {} };
  for (const unit of units) {
    for (const item of unit.items) {
      const byOutcome = (summary.counts[item.kind] ??= {});
      byOutcome[item.outcome] = (byOutcome[item.outcome] ?? 0) + 1;
      if (item.outcome === 'deleted') summary.bytesFreed += item.bytes;
      if (item.error !== undefined)
        summary.errors[item.error.code] = (summary.errors[item.error.code] ?? 0) + 1;
    }
  }
  return summary;
}

/**
 * Checks that a document is a plan this version can run.
 *
 * @param value A parsed JSON document.
 * @returns The plan.
 * @throws RegistryPushError `PRUNE_PLAN_INVALID` otherwise.
 */
export function assertPlan(value: unknown): PrunePlan {
  const plan = value as Partial<PrunePlan> | null;
  if (
    typeof plan !== 'object' ||
    plan === null ||
    plan.schema !== PLAN_SCHEMA ||
    !Array.isArray(plan.units)
  ) {
    throw new RegistryPushError('PRUNE_PLAN_INVALID', `This is not a ${PLAN_SCHEMA} document.`, {
      hint: 'Make a new plan with this version.',
    });
  }
  if (plan.mode !== 'full' && plan.mode !== 'metadata') {
    throw new RegistryPushError('PRUNE_PLAN_INVALID', 'The plan has no valid mode.', {
      hint: 'Make a new plan.',
    });
  }
  return plan as PrunePlan;
}

/**
 * Runs a plan: every stream unit (phase 1), then every image unit (phase 2), each phase with bounded
 * concurrency. Without `confirm` nothing is called and every change is reported as `dry-run`.
 *
 * @param plan The plan.
 * @param options Where and how to run it.
 * @returns The result log.
 * @throws RegistryPushError `PRUNE_PLAN_INVALID` for a document that is not a plan, `PRUNE_REGISTRY_REQUIRED`
 *   when a confirmed full plan has no registry.
 */
export async function executePlan(plan: PrunePlan, options: ExecuteOptions): Promise<PruneRunResult> {
  assertPlan(plan);
  if (options.confirm === true && plan.mode === 'full') requireRegistry(options);
  const startedAt = new Date().toISOString();
  const context: UnitPlanContext = { mode: plan.mode, protectAnnotation: plan.policy.protectAnnotation };
  const state = new ExecutionState();
  const results: UnitResult[] = [];
  const total = plan.units.length;
  const phases: ['history' | 'images', WorkUnit[]][] = [
    ['history', plan.units.filter((unit) => unit.type === 'stream')],
    ['images', plan.units.filter((unit) => unit.type === 'image')],
  ];
  for (const [phase, units] of phases) {
    options.onProgress?.({ type: 'phase', phase, units: units.length });
    const skipped = await pool(units, options.concurrency ?? 5, options.signal, async (unit) => {
      const result = await executeUnit(unit, context, options, state);
      results.push(result);
      options.onProgress?.({
        type: 'unit',
        unit: unit.id,
        status: result.status,
        done: results.length,
        total,
      });
    });
    for (const unit of skipped) {
      if (unit.type === 'stream') state.unsettledStreams.add(unit.id);
      results.push({ unit: unit.id, status: 'skipped', items: [] });
    }
  }
  const order = new Map(plan.units.map((unit, index) => [unit.id, index]));
  results.sort((a, b) => (order.get(a.unit) ?? 0) - (order.get(b.unit) ?? 0));
  return {
    schema: RESULT_SCHEMA,
    planId: plan.id,
    mode: plan.mode,
    dryRun: options.confirm !== true,
    startedAt,
    finishedAt: new Date().toISOString(),
    units: results,
    summary: summariseRun(results),
  };
}
