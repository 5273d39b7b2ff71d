/**
 * Carrying out a plan. Every unit is idempotent (a 404 is "already done"), re-reads what it changes right
 * before changing it, and can run on its own, so a queue can spread units over workers and a crashed run can
 * simply run the same plan again. Dry run (the default) makes no call at all.
 */
import { isRegistryPushError, RegistryPushError } from '../errors.js';
import { systemErrorCode } from '../system-errors.js';
import type { PruneCluster } from './cluster-port.js';
import { linkedGroups } from './groups.js';
import type { ImageStreamObject } from './image-objects.js';
import type { JsonPatchOperation } from '../ports/cluster-api.js';
import type { PruneRegistry, RegistryDeleteOutcome } from './registry-port.js';
import type { RemovalRecord, RemovedHistoryItem } from './undo.js';
import { catchUpRepository, ListedView, type PruneView } from './view.js';
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
   * What decides each registry delete and each Image deletion: caught up with the cluster right before the
   * decision. Default: a {@link ListedView} over `cluster` (one full list of Images and streams per
   * catch-up, shared by concurrent ones); a worker passes a {@link LiveView}.
   */
  view?: PruneView;
  /** Registry deletes in flight at once within a unit. Default 8. */
  registryConcurrency?: number;
  /**
   * Awaited before each registry delete is decided (a rate limiter's slot): whatever waiting it takes
   * happens before the view catches up, so the decision is as fresh as the call that follows it. The
   * registry port itself should then not wait.
   */
  registrySlot?: () => Promise<void>;
  /** Told of each layer link deleted, so a watcher can restore it if a push needs it again. */
  onLayerLinkDeleted?: (repository: string, digest: string) => void;
  /**
   * Asked before each unit's registry deletes: the mode the registry allows now (for instance from its
   * current managementState). When it says `metadata`, registry deletes are skipped.
   */
  checkMode?: () => Promise<PruneMode>;
  onProgress?: (event: PruneProgress) => void;
  /** Stops starting new units; running ones finish. */
  signal?: AbortSignal;
  /**
   * Which side of a confirmed unit runs. `all` (the default): the metadata, then the registry deletes.
   * `metadata`: the history items and the Image only; the registry deletes are reported `skipped`
   * (`undo-window`), left for a later `registry` phase. `registry`: only the registry deletes, each decided
   * on the view as in `all`; an image unit whose Image exists again (restored) keeps every blob.
   */
  phase?: ExecutePhase;
  /**
   * Awaited with what a unit is about to remove, right before each removal (the run's undo record): the
   * items of a status write with their places, the Image whole before its deletion. When it fails, the
   * removal does not happen and the unit fails.
   */
  recordRemoval?: (record: RemovalRecord) => Promise<void>;
}

/** The sides of a confirmed unit: see {@link ExecuteOptions.phase}. */
export type ExecutePhase = 'all' | 'metadata' | 'registry';

/** The reason of registry deletes left for the registry phase after the undo window. */
export const UNDO_WINDOW_REASON = 'undo-window';

/** The plan facts a unit needs besides itself (so a queue job can carry just these). */
export interface UnitPlanContext {
  mode: PruneMode;
  protectAnnotation: string;
}

/** State shared by the units of one run (or one worker process). */
export class ExecutionState {
  /** Stream units that did not complete, so images relying on them must stay. */
  readonly unsettledStreams = new Set<string>();
  #view: PruneView | undefined;

  /** The view the options give, or one listed view for the whole state. */
  viewFor(options: ExecuteOptions, plan: UnitPlanContext): PruneView {
    if (options.view !== undefined) return options.view;
    this.#view ??= new ListedView(options.cluster, plan.protectAnnotation);
    return this.#view;
  }
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

/** The pause after the `attempt`-th failure: doubling from the base, capped, with jitter. */
function backOff(attempt: number, retry: Required<RetryOptions>): Promise<void> {
  const delay = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
  return sleep(delay / 2 + Math.random() * (delay / 2));
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
      await backOff(attempt, retry);
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

/** The items a status write removes, with their places in the stream as read, for the undo record. */
function streamRecord(unit: StreamUnit, stream: ImageStreamObject, removed: Set<string>): RemovalRecord {
  const items: RemovedHistoryItem[] = [];
  const before: Record<string, string[]> = {};
  for (const entry of stream.status?.tags ?? []) {
    const list = entry.items ?? [];
    let touched = false;
    list.forEach((item, position) => {
      if (!removed.has(removalKey(entry.tag, item.image, item.created))) return;
      touched = true;
      items.push({ tag: entry.tag, position, item });
    });
    if (touched) before[entry.tag] = list.map((item) => `${item.image}@${item.created}`);
  }
  return { type: 'stream', unit, items, before };
}

/** Catches the view up for one decision; undefined (and the reason recorded by the caller) when it cannot. */
async function caughtUp(
  catchUp: () => Promise<void>,
): Promise<{ error: { code: string; message: string } } | undefined> {
  try {
    await catchUp();
    return undefined;
  } catch (error) {
    return { error: errorOf(error) };
  }
}

async function registryAllowed(options: ExecuteOptions, plan: UnitPlanContext): Promise<boolean> {
  if (plan.mode !== 'full') return false;
  if (options.checkMode === undefined) return true;
  return (await options.checkMode()) === 'full';
}

/**
 * One registry delete, decided right before each attempt: wait for the slot, catch the view up, ask
 * `keep` (a reason to keep it, or undefined), then call. A retryable failure backs off and starts over with
 * a fresh decision, so no attempt acts on a view older than itself.
 *
 * @returns Whether the registry deleted it (or it was already gone).
 */
async function decidedDelete(
  recorder: UnitRecorder,
  what: { kind: PlanItemKind; target: string; bytes?: number },
  context: { options: ExecuteOptions; catchUp: () => Promise<void> },
  keep: () => string | undefined,
  call: () => Promise<RegistryDeleteOutcome>,
): Promise<boolean> {
  const { options, catchUp } = context;
  const retry = { ...DEFAULT_RETRY, ...options.retry };
  for (let attempt = 1; ; attempt++) {
    await options.registrySlot?.();
    const stale = await caughtUp(catchUp);
    if (stale !== undefined) {
      // Failed, not skipped: the next plan may not know this item any more, so the unit must run again.
      recorder.record(what.kind, what.target, 'failed', { attempts: attempt, error: stale.error });
      return false;
    }
    const reason = keep();
    if (reason !== undefined) {
      recorder.record(what.kind, what.target, 'skipped', { reason });
      return false;
    }
    try {
      const value = await call();
      recorder.record(what.kind, what.target, value, {
        attempts: attempt,
        bytes: value === 'deleted' ? (what.bytes ?? 0) : 0,
      });
      return true;
    } catch (error) {
      if (attempt >= retry.attempts || !isRetryable(error)) {
        recorder.record(what.kind, what.target, 'failed', { attempts: attempt, error: errorOf(error) });
        return false;
      }
      await backOff(attempt, retry);
    }
  }
}

/**
 * The unit's removals as one JSON patch of the stream's status, guarded by `test`s: the stream is still the
 * one planned (uid) and unchanged since (resourceVersion), and each removed item is the planned one. Items
 * go from the last to the first so that earlier indexes hold; a tag whose every item goes is removed whole,
 * as the read-and-replace path does. Undefined when the plan did not give every item's place.
 */
function historyPatch(unit: StreamUnit): JsonPatchOperation[] | undefined {
  if (unit.resourceVersion === undefined || unit.resourceVersion === '' || unit.uid === '') return undefined;
  const byTag = new Map<number, { name: string; size: number; items: Map<number, HistoryRemoval> }>();
  for (const removal of unit.removals) {
    if (removal.position === undefined) return undefined;
    const [tag, item, size] = removal.position;
    const entry = byTag.get(tag) ?? { name: removal.tag, size, items: new Map<number, HistoryRemoval>() };
    // Places that do not add up (a plan written by hand, or by a bug): the read-and-replace decides.
    if (entry.name !== removal.tag || entry.size !== size || entry.items.has(item)) return undefined;
    entry.items.set(item, removal);
    byTag.set(tag, entry);
  }
  const operations: JsonPatchOperation[] = [
    { op: 'test', path: '/metadata/uid', value: unit.uid },
    { op: 'test', path: '/metadata/resourceVersion', value: unit.resourceVersion },
  ];
  for (const tag of [...byTag.keys()].sort((a, b) => b - a)) {
    const { name, size, items } = byTag.get(tag)!;
    const base = `/status/tags/${tag}`;
    operations.push({ op: 'test', path: `${base}/tag`, value: name });
    for (const item of [...items.keys()].sort((a, b) => b - a)) {
      const removal = items.get(item)!;
      operations.push(
        { op: 'test', path: `${base}/items/${item}/image`, value: removal.image },
        { op: 'test', path: `${base}/items/${item}/created`, value: removal.created },
      );
      if (items.size < size) operations.push({ op: 'remove', path: `${base}/items/${item}` });
    }
    if (items.size === size) operations.push({ op: 'remove', path: base });
  }
  return operations;
}

/**
 * Ports whose server refused the patch (403: the operator's `system:image-pruner` role grants `update` of
 * `imagestreams/status`, not `patch`): asked once, then read-and-replace for the rest of the process.
 */
const patchRefused = new WeakSet<PruneCluster>();

/**
 * The removals as one guarded patch (see {@link historyPatch}) when nothing needs the stream as it was read
 * (no undo record) and the stream has not changed since it was planned: one call instead of a read and a
 * write. Whether it was done; anything else (the stream changed, a server without JSON patch) goes on to
 * the read-and-replace path, which decides again on what it reads.
 */
async function patchedHistory(
  unit: StreamUnit,
  recorder: UnitRecorder,
  options: ExecuteOptions,
): Promise<boolean> {
  const cluster = options.cluster;
  if (cluster.patchImageStreamStatus === undefined || patchRefused.has(cluster)) return false;
  if (options.recordRemoval !== undefined || unit.removals.length === 0) return false;
  const operations = historyPatch(unit);
  if (operations === undefined) return false;
  try {
    await cluster.patchImageStreamStatus(unit.namespace, unit.name, operations);
  } catch (error) {
    if (isRegistryPushError(error, 'FORBIDDEN')) patchRefused.add(cluster);
    return false;
  }
  const repo = `${unit.namespace}/${unit.name}`;
  for (const r of unit.removals)
    recorder.record('tag-history', `${repo}:${r.tag}@${r.image}`, 'deleted', { attempts: 1 });
  recorder.record('stream-update', repo, 'updated', { attempts: 1 });
  return true;
}

/** Reads, trims and writes back the stream, retrying on conflict; false when the unit must stop. */
async function updateHistory(
  unit: StreamUnit,
  recorder: UnitRecorder,
  options: ExecuteOptions,
): Promise<boolean> {
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
        return true;
      }
      if (stream.metadata.uid !== unit.uid) {
        for (const r of unit.removals) {
          recorder.record('tag-history', `${repo}:${r.tag}@${r.image}`, 'skipped', {
            reason: 'stream-replaced',
          });
        }
        recorder.record('stream-update', repo, 'skipped', { reason: 'stream-replaced' });
        return false;
      }
      const { next, removed } = withoutItems(stream, unit.removals);
      if (options.recordRemoval !== undefined)
        await options.recordRemoval(streamRecord(unit, stream, removed));
      if (removed.size > 0)
        await retrying(() => options.cluster.replaceImageStreamStatus(next), options.retry);
      for (const r of unit.removals) {
        const gone = removed.has(removalKey(r.tag, r.image, r.created));
        recorder.record('tag-history', `${repo}:${r.tag}@${r.image}`, gone ? 'deleted' : 'absent', {
          attempts: attempt,
        });
      }
      recorder.record('stream-update', repo, removed.size === 0 ? 'absent' : 'updated', {
        attempts: attempt,
      });
      return true;
    } catch (error) {
      if (isRegistryPushError(error, 'CONFLICT') && attempt < tries) {
        await sleep(10 * attempt + Math.random() * 10);
        continue;
      }
      recorder.record('stream-update', repo, 'failed', { attempts: attempt, error: errorOf(error) });
      return false;
    }
  }
  return false;
}

async function runStreamUnit(
  unit: StreamUnit,
  plan: UnitPlanContext,
  options: ExecuteOptions,
  state: ExecutionState,
  recorder: UnitRecorder,
): Promise<void> {
  const repo = `${unit.namespace}/${unit.name}`;
  const phase = options.phase ?? 'all';
  if (phase !== 'registry') {
    const written =
      (await patchedHistory(unit, recorder, options)) || (await updateHistory(unit, recorder, options));
    if (!written) {
      state.unsettledStreams.add(unit.id);
      return;
    }
  }
  if (unit.manifestLinks.length + unit.layerLinks.length === 0) return;
  if (phase === 'metadata' && plan.mode === 'full') {
    for (const d of unit.manifestLinks)
      recorder.record('manifest-link', `${repo}@${d}`, 'skipped', { reason: UNDO_WINDOW_REASON });
    for (const d of unit.layerLinks)
      recorder.record('layer-link', `${repo}@${d}`, 'skipped', { reason: UNDO_WINDOW_REASON });
    return;
  }
  if (!(await registryAllowed(options, plan))) {
    for (const d of unit.manifestLinks)
      recorder.record('manifest-link', `${repo}@${d}`, 'skipped', { reason: 'registry-not-managed' });
    for (const d of unit.layerLinks)
      recorder.record('layer-link', `${repo}@${d}`, 'skipped', { reason: 'registry-not-managed' });
    return;
  }
  const registry = requireRegistry(options);
  const view = state.viewFor(options, plan);
  const links = [
    ...unit.manifestLinks.map((digest) => ({ kind: 'manifest-link' as const, digest })),
    ...unit.layerLinks.map((digest) => ({ kind: 'layer-link' as const, digest })),
  ];
  // Each link is decided on the view caught up right before its delete: the history as written by this
  // unit, and anything pushed since (a push may have brought a digest back into this repository).
  await pool(links, options.registryConcurrency ?? 8, undefined, async ({ kind, digest }) => {
    const deleted = await decidedDelete(
      recorder,
      { kind, target: `${repo}@${digest}` },
      { options, catchUp: () => catchUpRepository(view, unit.namespace, unit.name) },
      () => {
        const use = view.index.repositoryUse(unit.namespace, unit.name);
        // An Image of the remaining history that cannot be read fully could need any link of that kind.
        const unknown =
          kind === 'manifest-link'
            ? use.unknown.has('children')
            : use.unknown.has('layers') || use.unknown.has('config');
        if (unknown) return 'history-image-unreadable';
        const needed = kind === 'manifest-link' ? use.needsManifest(digest) : use.needsBlob(digest);
        return needed ? 'still-referenced' : undefined;
      },
      () =>
        kind === 'manifest-link'
          ? registry.deleteManifest(repo, digest)
          : registry.deleteLayerLink(repo, digest),
    );
    if (deleted && kind === 'layer-link') options.onLayerLinkDeleted?.(repo, digest);
  });
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

/**
 * Deletes the unit's blobs that no other Image references now (its own Image is gone already). A blob
 * another Image of this plan shares goes with the last of them (the plan gives it to that unit), after the
 * others are gone: if one of them is kept after all, so is the blob.
 */
async function deleteBlobs(
  unit: ImageUnit,
  view: PruneView,
  context: {
    plan: UnitPlanContext;
    options: ExecuteOptions;
    own: SnapshotImage | undefined;
    repeated: boolean;
  },
  recorder: UnitRecorder,
): Promise<void> {
  const { plan, options, own, repeated } = context;
  if (unit.blobs.length === 0) return;
  if (!(await registryAllowed(options, plan))) {
    for (const blob of unit.blobs)
      recorder.record('blob', blob.digest, 'skipped', { reason: 'registry-not-managed' });
    return;
  }
  const registry = requireRegistry(options);
  // An Image that cannot be read fully: a blob of the kind it hides could be its own.
  const kindOf = (digest: string): 'config' | 'layers' =>
    own?.config?.digest === digest ? 'config' : 'layers';
  await pool(unit.blobs, options.registryConcurrency ?? 8, undefined, async (blob) => {
    await decidedDelete(
      recorder,
      { kind: 'blob', target: blob.digest, bytes: blob.size },
      // A blob's referrers are Images: the streams need not be caught up for it.
      { options, catchUp: () => view.catchUp('images') },
      () => {
        const user = view.index.referrersOf(blob.digest).find((digest) => digest !== unit.digest);
        if (user !== undefined) return `used by ${user}`;
        if (blob.digest === unit.digest) return undefined;
        // The registry phase has no view of its own Image (it is gone): either kind could be the blob's.
        const kinds: ('config' | 'layers')[] =
          own === undefined && options.phase === 'registry' ? ['config', 'layers'] : [kindOf(blob.digest)];
        const holders = kinds.flatMap((kind) => [...view.index.unknownHolders(kind)]);
        const holder = holders.find((digest) => digest !== unit.digest);
        return holder === undefined ? undefined : `identity unknown: Image ${holder}`;
      },
      async () => {
        const outcome = await registry.deleteBlob(blob.digest);
        return repeated ? 'absent' : outcome;
      },
    );
  });
}

async function runImageUnit(
  unit: ImageUnit,
  plan: UnitPlanContext,
  options: ExecuteOptions,
  state: ExecutionState,
  recorder: UnitRecorder,
): Promise<void> {
  if (options.phase === 'registry') return runImageRegistryPhase(unit, plan, options, state, recorder);
  const unsettled = unit.dependsOn.find((id) => state.unsettledStreams.has(id));
  if (unsettled !== undefined) {
    return skipImage(unit, recorder, 'blocked', `${unsettled} did not complete`);
  }
  const view = state.viewFor(options, plan);
  const stale = await caughtUp(() => view.catchUp('all'));
  if (stale !== undefined) {
    for (const blob of unit.blobs)
      recorder.record('blob', blob.digest, 'skipped', { reason: 'no-fresh-view' });
    recorder.record('image', unit.digest, 'failed', { error: stale.error });
    return;
  }
  const keep = reasonToKeep(unit, view);
  if (keep !== undefined) {
    return skipImage(unit, recorder, 'skipped', keep);
  }
  const own = view.index.image(unit.digest);
  // The Image goes first, its blobs after: an Image whose deletion fails keeps every blob it needs and still
  // pulls. A blob whose deletion then fails is reported, and the unit run again retries it.
  let imageOutcome: 'deleted' | 'absent';
  try {
    if (options.recordRemoval !== undefined) await recordImage(unit, options, options.recordRemoval);
    const { value, attempts } = await retrying(() => options.cluster.deleteImage(unit.digest), options.retry);
    recorder.record('image', unit.digest, value, { attempts });
    imageOutcome = value;
  } catch (error) {
    recorder.record('image', unit.digest, 'failed', { attempts: attemptsOf(error), error: errorOf(error) });
    for (const blob of unit.blobs)
      recorder.record('blob', blob.digest, 'skipped', { reason: 'image-deletion-failed' });
    return;
  }
  if (options.phase === 'metadata' && plan.mode === 'full') {
    for (const blob of unit.blobs)
      recorder.record('blob', blob.digest, 'skipped', { reason: UNDO_WINDOW_REASON });
    return;
  }
  // The registry answers a blob delete with 204 whether or not the blob was there. When the Image was gone
  // already, this unit (or another) has run before and its blobs are most likely gone too: they are
  // reported as absent, so a repeated run does not count storage it did not free.
  await deleteBlobs(unit, view, { plan, options, own, repeated: imageOutcome === 'absent' }, recorder);
}

/** Reads the Image whole and records it before its deletion (undefined when it is gone already). */
async function recordImage(
  unit: ImageUnit,
  options: ExecuteOptions,
  record: (removal: RemovalRecord) => Promise<void>,
): Promise<void> {
  const { value: image } = await retrying(() => options.cluster.getImage(unit.digest), options.retry);
  await record(image === undefined ? { type: 'image', unit } : { type: 'image', unit, image });
}

/**
 * The registry side of an image unit whose Image the metadata phase deleted: its blobs, each decided on
 * the view as in a one-phase run. An Image that exists again (restored, or pushed again) keeps them all.
 */
async function runImageRegistryPhase(
  unit: ImageUnit,
  plan: UnitPlanContext,
  options: ExecuteOptions,
  state: ExecutionState,
  recorder: UnitRecorder,
): Promise<void> {
  const view = state.viewFor(options, plan);
  const stale = await caughtUp(() => view.catchUp('all'));
  if (stale !== undefined) {
    for (const blob of unit.blobs) recorder.record('blob', blob.digest, 'failed', { error: stale.error });
    return;
  }
  const back = view.index.image(unit.digest) !== undefined ? 'image-present' : reasonToKeep(unit, view);
  if (back !== undefined) {
    for (const blob of unit.blobs) recorder.record('blob', blob.digest, 'skipped', { reason: back });
    return;
  }
  await deleteBlobs(unit, view, { plan, options, own: undefined, repeated: false }, recorder);
}

/** Why the view says the image must stay now, if it does. */
function reasonToKeep(unit: ImageUnit, view: PruneView): string | undefined {
  const index = view.index;
  if (index.inHistory(unit.digest)) return 'in-stream-history-again';
  const image = index.image(unit.digest);
  if (image?.protected === true) return 'image-protected';
  // It became unreadable since the plan: what it needs is no longer known, so it stays.
  if (image?.problem !== undefined) return 'image-unreadable';
  // A manifest list that still exists names it (the plan runs lists before their children).
  const parent = index.parentsOf(unit.digest)[0];
  if (parent !== undefined) return `child of ${parent}`;
  return undefined;
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
      recorder.record('image', unit.digest, 'failed', { error: errorOf(error) });
    }
  }
  return { unit: unit.id, status: recorder.status(), items: recorder.items };
}

/** Runs `run` over `items`, at most `concurrency` at a time; once `signal` aborts, the rest come back unrun. */
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
  const streams = plan.units.filter((unit) => unit.type === 'stream');
  const images = plan.units.filter((unit) => unit.type === 'image');
  const concurrency = options.concurrency ?? 5;
  const runOne = async (unit: WorkUnit): Promise<void> => {
    const result = await executeUnit(unit, context, options, state);
    results.push(result);
    options.onProgress?.({ type: 'unit', unit: unit.id, status: result.status, done: results.length, total });
  };
  const skip = (unit: WorkUnit): void => {
    if (unit.type === 'stream') state.unsettledStreams.add(unit.id);
    results.push({ unit: unit.id, status: 'skipped', items: [] });
  };
  options.onProgress?.({ type: 'phase', phase: 'history', units: streams.length });
  for (const unit of await pool(streams, concurrency, options.signal, runOne)) skip(unit);
  options.onProgress?.({ type: 'phase', phase: 'images', units: images.length });
  // Linked units (a shared blob, a list and its children) run one after the other, in plan order.
  const groups = await pool(linkedGroups(images), concurrency, options.signal, async (group) => {
    for (const unit of group) {
      if (options.signal?.aborted === true) skip(unit);
      else await runOne(unit);
    }
  });
  for (const group of groups) for (const unit of group) skip(unit);
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
