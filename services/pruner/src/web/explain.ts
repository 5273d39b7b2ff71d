/**
 * Explain: why a dry run keeps or would delete an image, a tag's history or a blob, in words, from the
 * decisions stored in its explorer index. The dashboard's Explain page and `registry-pruner explain REF`
 * both use it.
 */
import { formatDuration, type PlanRule } from '@registry-push/core';
import { PrunerError } from '../errors.js';
import type { ExplorerHead, ExplorerItem, ExplorerStore } from './explorer.js';

/** What is asked about. */
export type ExplainRef =
  | { type: 'digest'; digest: string }
  | { type: 'tag'; stream: string; tag: string }
  | { type: 'stream-digest'; stream: string; digest: string };

/** One decision, in words. */
export interface ExplainLine {
  kind: ExplorerItem['kind'];
  action: ExplorerItem['action'];
  /** What it is about: `demo/app:latest#2`, `image sha256:…`, `layer link demo/app@sha256:…`. */
  subject: string;
  rule: PlanRule;
  /** Why, as a sentence. */
  reason: string;
}

/** The answer about one reference. */
export interface Explanation {
  ref: string;
  runId: string;
  planId: string;
  lines: ExplainLine[];
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/**
 * Reads `sha256:…`, `namespace/name:tag` or `namespace/name@sha256:…`.
 *
 * @throws PrunerError `PRUNER_USAGE` for anything else.
 */
export function parseExplainRef(text: string): ExplainRef {
  const ref = text.trim();
  if (DIGEST.test(ref)) return { type: 'digest', digest: ref };
  const at = ref.indexOf('@');
  if (at > 0) {
    const stream = ref.slice(0, at);
    const digest = ref.slice(at + 1);
    if (streamName(stream) && DIGEST.test(digest)) return { type: 'stream-digest', stream, digest };
  }
  const colon = ref.lastIndexOf(':');
  if (colon > 0 && at < 0) {
    const stream = ref.slice(0, colon);
    const tag = ref.slice(colon + 1);
    if (streamName(stream) && /^[\w][\w.-]{0,127}$/.test(tag)) return { type: 'tag', stream, tag };
  }
  throw new PrunerError(
    'PRUNER_USAGE',
    `"${ref.slice(0, 200)}" is not an image reference the plan knows: use sha256:<64 hex>, namespace/name:tag or namespace/name@sha256:<64 hex>.`,
  );
}

function streamName(text: string): boolean {
  const parts = text.split('/');
  return parts.length === 2 && parts.every((part) => NAME.test(part));
}

const ago = (ms: number): string => formatDuration(ms);

/** Why one item was decided as it was. */
export function reasonOf(item: ExplorerItem, head: ExplorerHead): string {
  const by = item.referrer ?? 'something';
  const revision = item.revision ?? 0;
  const tag = `tag ${item.stream ?? ''}:${item.tag ?? ''}`;
  const texts: Record<PlanRule, string> = {
    'namespace-excluded': 'kept: the policy leaves this namespace alone',
    'namespace-invalid-reference': `kept: ${by} holds an image reference that cannot be parsed, which protects its whole namespace`,
    'stream-protected': 'kept: the imagestream carries the protect annotation',
    'stream-young': `kept: the imagestream is younger than ${ago(head.keepYoungerThanMs)}`,
    'tag-not-selected': 'kept: the tag filters of the policy do not select this tag',
    young: `kept: too young, created less than ${ago(head.keepYoungerThanMs)} before the plan`,
    'tag-in-use': `kept: the newest revision of a tag that ${by} uses`,
    'image-protected': 'kept: the Image carries the protect annotation',
    'within-tag-revisions': `kept: revision ${revision} of ${tag}, within the ${head.keepTagRevisions} revisions kept per tag`,
    'within-size-limit': 'kept: within the LimitRange size of its namespace',
    'image-in-use': `kept: ${by} uses it by digest through this stream`,
    'in-stream-history': `kept: still in the history of ${by}`,
    'manifest-list-child': `kept: a child of the kept manifest list ${by}`,
    'referenced-by-digest': `kept: ${by} uses it by digest`,
    'not-managed':
      'kept: not pushed to the integrated registry (imported); only the policy `all` prunes such Images',
    'namespace-scoped-run': 'kept: a namespace-scoped run never deletes Images',
    'blob-shared': `kept: the kept Image ${by} uses this blob too`,
    'link-still-referenced': 'kept: an image left in the stream history uses it',
    'image-unreadable': 'kept: the Image cannot be read completely (see the plan warnings)',
    'blob-identity-unknown': `kept: the Image ${by} has a blob of this kind whose digest is unknown; it could be this one`,
    'possible-list-child': `kept: ${by} is a manifest list whose children are unknown; this could be one`,
    'retention-rule': `kept: the retention rule ${by} keeps it`,
    'namespace-retention-rule': `kept: its namespace's own retention rule ${by} keeps it`,
    'subject-kept': `kept: it signs, attests or refers to ${by}, which is kept`,
    'subject-unknown':
      'kept: an OCI artifact pushed by digest only, whose subject cannot be read; it may refer to a kept image (see the plan warnings)',
    dangling: 'deleted: its Image no longer exists',
    'beyond-tag-revisions': `deleted: revision ${revision} of ${tag}, beyond the ${head.keepTagRevisions} revisions kept per tag`,
    'over-size-limit': 'deleted: larger than the LimitRange of its namespace',
    unreferenced: 'deleted: no stream history, workload or kept manifest list refers to it',
    'history-removed': 'updated: history items are removed from it',
    'link-unreferenced': 'deleted: no image left in the stream history uses it',
    'blob-unreferenced': 'deleted: no kept Image uses this blob',
    'beyond-retention-rules': `deleted: revision ${revision} of ${tag}, which none of the retention rules selecting it keeps`,
    'subject-pruned': `deleted: it signs, attests or refers to ${by}, which is pruned`,
  };
  return texts[item.rule];
}

/** What an item is about, in a few words. */
export function subjectOf(item: ExplorerItem): string {
  const stream = item.stream ?? '';
  const digest = item.digest ?? '';
  switch (item.kind) {
    case 'tag-history':
      return `${stream}:${item.tag ?? ''}#${item.revision ?? 0} (${digest})`;
    case 'stream-update':
      return `imagestream ${stream}`;
    case 'manifest-link':
    case 'layer-link':
      return `${item.kind} ${stream}@${digest}`;
    case 'blob':
    case 'image':
      return `${item.kind} ${digest}`;
  }
}

async function itemsFor(store: ExplorerStore, runId: string, ref: ExplainRef): Promise<ExplorerItem[]> {
  if (ref.type === 'digest') return store.digest(runId, ref.digest);
  if (ref.type === 'stream-digest') {
    const items = await store.digest(runId, ref.digest);
    return items.filter((item) => item.stream === undefined || item.stream === ref.stream);
  }
  const history = (await store.items(runId, ref.stream, ref.tag)).filter(
    (item) => item.kind === 'tag-history' && item.tag === ref.tag,
  );
  // Each image of the tag's history with its own decision (kept because still in a history, deleted …).
  const images = await Promise.all(
    [...new Set(history.map((item) => item.digest ?? ''))].map(async (digest) =>
      (await store.digest(runId, digest)).filter((item) => item.kind === 'image'),
    ),
  );
  return [...history, ...images.flat()];
}

/**
 * Explains a reference with the decisions of dry run `runId`.
 *
 * @throws PrunerError `PRUNER_RUN_NOT_FOUND` when the run has no explorer index (not a dry run of this
 *   version, or its data expired).
 */
export async function explain(store: ExplorerStore, runId: string, text: string): Promise<Explanation> {
  const ref = parseExplainRef(text);
  const head = await store.head(runId);
  if (head === undefined) throw noIndex(runId);
  const items = await itemsFor(store, runId, ref);
  return {
    ref: text.trim(),
    runId,
    planId: head.planId,
    lines: items.map((item) => ({
      kind: item.kind,
      action: item.action,
      subject: subjectOf(item),
      rule: item.rule,
      reason: reasonOf(item, head),
    })),
  };
}

/** A run without an explorer index. */
export function noIndex(runId: string): PrunerError {
  return new PrunerError(
    'PRUNER_RUN_NOT_FOUND',
    `Run ${runId} has no plan to explore: it is not a dry run, or its plan expired (kept 24 h) or was trimmed from the history.`,
    { hint: 'Start a dry run (`registry-pruner enqueue --wait`) and ask again.' },
  );
}

/** The explanation as text lines (the CLI's table output). */
export function formatExplanation(explanation: Explanation): string {
  if (explanation.lines.length === 0)
    return `${explanation.ref}: not in the plan of dry run ${explanation.runId} (plan ${explanation.planId}); the plan has no decision about it.`;
  return [
    `${explanation.ref} in the plan of dry run ${explanation.runId} (plan ${explanation.planId}):`,
    ...explanation.lines.map((line) => `  ${line.action.padEnd(6)} ${line.subject}\n         ${line.reason}`),
  ].join('\n');
}
