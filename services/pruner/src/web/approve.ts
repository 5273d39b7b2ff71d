/**
 * Approving a dry run's plan: a confirmed run that carries out that plan and nothing else. It is planned
 * afresh like any confirmed run, and only the changes both plans hold are carried out — so everything is
 * re-checked against the cluster of now (a workload that started using an image since keeps it), and what
 * changed since the dry run is reported in the run's notes instead of being acted on blindly.
 */
import type { ImageUnit, PlanItemKind, PrunePlan, StreamUnit, WorkUnit } from '@registry-push/core';
import { PrunerError } from '../errors.js';
import type { RunRecord, RunStore } from '../store/run-store.js';

/** The changes of an approved plan, as keys (see {@link changeKeys}). */
export type ApprovedChanges = Set<string>;

const removalKey = (unit: StreamUnit, r: StreamUnit['removals'][number]): string =>
  `h|${unit.uid}|${r.tag}|${r.image}|${r.created}`;
const linkKey = (unit: StreamUnit, kind: 'm' | 'l', digest: string): string =>
  `${kind}|${unit.namespace}/${unit.name}|${digest}`;

/** Every change of some units, one key each (history removal, link, Image, blob of an Image). */
export function changeKeys(units: Iterable<WorkUnit>, into: ApprovedChanges = new Set()): ApprovedChanges {
  for (const unit of units) {
    if (unit.type === 'stream') {
      for (const removal of unit.removals) into.add(removalKey(unit, removal));
      for (const digest of unit.manifestLinks) into.add(linkKey(unit, 'm', digest));
      for (const digest of unit.layerLinks) into.add(linkKey(unit, 'l', digest));
    } else {
      into.add(`i|${unit.digest}`);
      for (const blob of unit.blobs) into.add(`b|${unit.digest}|${blob.digest}`);
    }
  }
  return into;
}

/** What an approved run does compared with the plan it was approved from. */
export interface ApprovalReport {
  /** Changes of the approved plan. */
  approved: number;
  /** Of those, carried out by this run (the fresh plan holds them too). */
  kept: number;
  /** Approved changes a fresh plan no longer makes: left alone. */
  dropped: number;
  /** Changes a fresh plan makes that the approved plan did not hold: not carried out. */
  added: number;
  /** A few of the dropped and added changes, in words. */
  examples: string[];
}

function describeKey(key: string): string {
  const [kind = '', a, b, c] = key.split('|');
  switch (kind) {
    case 'h':
      return `history item ${b ?? ''} → ${c ?? ''}`;
    case 'm':
      return `manifest link ${a ?? ''}@${b ?? ''}`;
    case 'l':
      return `layer link ${a ?? ''}@${b ?? ''}`;
    case 'i':
      return `image ${a ?? ''}`;
    default:
      return `blob ${b ?? ''} of image ${a ?? ''}`;
  }
}

interface StreamOutcome {
  unit?: StreamUnit;
  /** Images whose history removal here is not carried out: they stay in a history. */
  heldImages: string[];
}

function restrictStream(unit: StreamUnit, approved: ApprovedChanges): StreamOutcome {
  const removals = unit.removals.filter((r) => approved.has(removalKey(unit, r)));
  const heldImages = unit.removals.filter((r) => !approved.has(removalKey(unit, r))).map((r) => r.image);
  // A history left longer than the fresh plan assumed may still need the links it would delete: with any
  // removal held back, no link of the stream is deleted.
  const links = heldImages.length === 0;
  const manifestLinks = links ? unit.manifestLinks.filter((d) => approved.has(linkKey(unit, 'm', d))) : [];
  const layerLinks = links ? unit.layerLinks.filter((d) => approved.has(linkKey(unit, 'l', d))) : [];
  if (removals.length === 0 && manifestLinks.length === 0 && layerLinks.length === 0) return { heldImages };
  return { unit: { ...unit, removals, manifestLinks, layerLinks }, heldImages };
}

function restrictImage(unit: ImageUnit, approved: ApprovedChanges, held: Set<string>): ImageUnit | undefined {
  if (held.has(unit.digest) || !approved.has(`i|${unit.digest}`)) return undefined;
  return { ...unit, blobs: unit.blobs.filter((blob) => approved.has(`b|${unit.digest}|${blob.digest}`)) };
}

function summaryOf(units: readonly WorkUnit[], fresh: PrunePlan): PrunePlan['summary'] {
  const counts: PrunePlan['summary']['counts'] = {};
  const add = (kind: PlanItemKind, action: 'delete' | 'update', n: number): void => {
    if (n === 0) return;
    const byAction = (counts[kind] ??= {});
    byAction[action] = (byAction[action] ?? 0) + n;
  };
  let bytesFreed = 0;
  for (const unit of units) {
    if (unit.type === 'stream') {
      add('tag-history', 'delete', unit.removals.length);
      add('stream-update', 'update', unit.removals.length > 0 ? 1 : 0);
      add('manifest-link', 'delete', unit.manifestLinks.length);
      add('layer-link', 'delete', unit.layerLinks.length);
    } else {
      add('image', 'delete', 1);
      add('blob', 'delete', unit.blobs.length);
      for (const blob of unit.blobs) bytesFreed += blob.size;
    }
  }
  // What the fresh plan keeps is kept here too.
  for (const [kind, byAction] of Object.entries(fresh.summary.counts)) {
    if (byAction?.keep !== undefined) (counts[kind as PlanItemKind] ??= {}).keep = byAction.keep;
  }
  return { counts, bytesFreed, reasons: [] };
}

/**
 * The fresh plan restricted to the approved changes, with the report of what differs.
 *
 * @param fresh A plan made now (its items are not needed).
 * @param approved The approved plan's changes ({@link changeKeys} of its units).
 * @param approvedPlanId The approved plan's id, which the run carries.
 */
export function restrictToApproved(
  fresh: PrunePlan,
  approved: ApprovedChanges,
  approvedPlanId: string,
): { plan: PrunePlan; report: ApprovalReport } {
  const streams: StreamUnit[] = [];
  const held = new Set<string>();
  for (const unit of fresh.units) {
    if (unit.type !== 'stream') continue;
    const outcome = restrictStream(unit, approved);
    if (outcome.unit !== undefined) streams.push(outcome.unit);
    for (const image of outcome.heldImages) held.add(image);
  }
  const images: ImageUnit[] = [];
  for (const unit of fresh.units) {
    if (unit.type !== 'image') continue;
    const kept = restrictImage(unit, approved, held);
    if (kept !== undefined) images.push(kept);
  }
  const streamIds = new Set(streams.map((unit) => unit.id));
  for (const unit of images) unit.dependsOn = unit.dependsOn.filter((id) => streamIds.has(id));
  const units: WorkUnit[] = [...streams, ...images];
  const carried = changeKeys(units);
  const proposed = changeKeys(fresh.units);
  const dropped = [...approved].filter((key) => !carried.has(key));
  const added = [...proposed].filter((key) => !approved.has(key));
  const report: ApprovalReport = {
    approved: approved.size,
    kept: carried.size,
    dropped: dropped.length,
    added: added.length,
    examples: [
      ...dropped.slice(0, 5).map((key) => `no longer planned, left alone: ${describeKey(key)}`),
      ...added.slice(0, 5).map((key) => `newly planned, not carried out: ${describeKey(key)}`),
    ],
  };
  const note =
    `Approved plan ${approvedPlanId}: ${report.kept} of its ${report.approved} changes carried out after a fresh check; ` +
    `${report.dropped} changed since and left alone; ${report.added} new change(s) not in it were not carried out.`;
  return {
    plan: {
      ...fresh,
      id: approvedPlanId,
      items: [],
      units,
      summary: summaryOf(units, fresh),
      notes: [note, ...report.examples, ...fresh.notes],
    },
    report,
  };
}

/** A dry run that cannot be approved, and why. */
function notApprovable(what: string, hint: string): PrunerError {
  return new PrunerError('PRUNER_PLAN_NOT_APPROVABLE', what, { hint });
}

/**
 * The dry run `ref` names (its run id, or its plan id among the last runs), checked to be approvable: a
 * dry run that succeeded and whose plan is still stored.
 *
 * @throws PrunerError `PRUNER_PLAN_NOT_APPROVABLE` naming what is wrong.
 */
export async function approvableRun(store: RunStore, ref: string): Promise<RunRecord> {
  const record = (await store.getRun(ref)) ?? (await store.listRuns(1000)).find((run) => run.planId === ref);
  if (record === undefined)
    throw notApprovable(
      `No run or plan "${ref.slice(0, 100)}" is in the history.`,
      'Name a dry run by its run id or plan id (`registry-pruner status`).',
    );
  if (!record.dryRun)
    throw notApprovable(
      `Run ${record.runId} is not a dry run; only a dry run's plan can be approved.`,
      'Approve the plan of a dry run.',
    );
  if (record.status !== 'succeeded')
    throw notApprovable(
      `Dry run ${record.runId} is ${record.status}; only a dry run that succeeded can be approved.`,
      'Wait for it to end, or start a new dry run.',
    );
  if ((await store.getPlanHead(record.runId)) === undefined)
    throw notApprovable(
      `The plan of dry run ${record.runId} is no longer stored (plans are kept 24 h).`,
      'Start a new dry run and approve its plan.',
    );
  return record;
}

/** The approved plan's changes, read from its stored units page by page. */
export async function approvedChanges(store: RunStore, runId: string): Promise<ApprovedChanges> {
  const keys: ApprovedChanges = new Set();
  for await (const page of store.unitPages(runId)) changeKeys(page, keys);
  return keys;
}
