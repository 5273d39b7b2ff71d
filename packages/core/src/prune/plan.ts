/**
 * The plan: a pure function of a snapshot, a policy, a mode and a time. It follows `oc adm prune images`
 * (tag history first, then Image objects, reference counted blobs) with stricter protection: digest
 * references protect the Image wherever it is, invalid references protect their namespace, protect
 * annotations, tag filters and per-namespace overrides. Nothing here reads a clock or the network.
 */
import { createHash } from 'node:crypto';
import { RegistryPushError } from '../errors.js';
import { blobsOf } from './objects.js';
import { policyFor, type EffectivePolicy } from './policy.js';
import {
  PLAN_SCHEMA,
  SNAPSHOT_SCHEMA,
  type BlobDeletion,
  type HistoryRemoval,
  type ImageUnit,
  type ImageUse,
  type PlanItem,
  type PlanRule,
  type PlanSummary,
  type PruneMode,
  type PrunePlan,
  type PrunePolicy,
  type PruneSnapshot,
  type SnapshotImage,
  type SnapshotStream,
  type StreamUnit,
  type WorkUnit,
} from './types.js';

/** Inputs of {@link planPrune} besides the snapshot and policy. */
export interface PlanOptions {
  mode: PruneMode;
  /** The time ages are measured against. */
  now: Date;
  /**
   * `all` (default) lists every decision, keeps included; `changes` lists only deletes and updates, which
   * keeps very large plans small (the summary still counts every decision).
   */
  detail?: 'all' | 'changes';
}

/** Counts every decision and keeps the ones the plan lists. */
class ItemSink {
  readonly items: PlanItem[] = [];
  private readonly counts: PlanSummary['counts'] = {};
  private readonly reasons = new Map<string, PlanSummary['reasons'][number]>();

  constructor(private readonly keepAll: boolean) {}

  add(item: PlanItem): void {
    const byAction = (this.counts[item.kind] ??= {});
    byAction[item.action] = (byAction[item.action] ?? 0) + 1;
    const key = `${item.action} ${item.rule}`;
    const entry = this.reasons.get(key);
    if (entry === undefined) this.reasons.set(key, { rule: item.rule, action: item.action, count: 1 });
    else entry.count++;
    if (this.keepAll || item.action !== 'keep') this.items.push(item);
  }

  summary(bytesFreed: number): PlanSummary {
    const reasons = [...this.reasons.values()].sort(
      (a, b) => b.count - a.count || (a.rule < b.rule ? -1 : 1),
    );
    return { counts: this.counts, bytesFreed, reasons };
  }
}

interface UseIndex {
  tags: Map<string, string>;
  streamImages: Map<string, string>;
  digests: Map<string, string>;
}

const time = (text: string): number => {
  const value = Date.parse(text);
  return Number.isNaN(value) ? Number.NEGATIVE_INFINITY : value;
};

function indexUses(uses: readonly ImageUse[], policy: PrunePolicy, now: number): UseIndex {
  const index: UseIndex = { tags: new Map(), streamImages: new Map(), digests: new Map() };
  for (const use of uses) {
    if (use.finishedPodCreated !== undefined) {
      // A finished pod uses its image only while it is young, as in oc.
      const limit = now - policyFor(policy, use.namespace ?? '').keepYoungerThanMs;
      if (time(use.finishedPodCreated) < limit) continue;
    }
    if (use.namespace !== undefined && use.name !== undefined) {
      const repo = `${use.namespace}/${use.name}`;
      if (use.tag !== undefined && !index.tags.has(`${repo}:${use.tag}`))
        index.tags.set(`${repo}:${use.tag}`, use.referrer);
      if (use.digest !== undefined && !index.streamImages.has(`${repo}@${use.digest}`)) {
        index.streamImages.set(`${repo}@${use.digest}`, use.referrer);
      }
    }
    if (use.digest !== undefined && !index.digests.has(use.digest))
      index.digests.set(use.digest, use.referrer);
  }
  return index;
}

/** Manifests and blobs that a set of images holds in one repository (children of lists included). */
function repositoryContents(
  digests: Iterable<string>,
  images: ReadonlyMap<string, SnapshotImage>,
): { manifests: Set<string>; blobs: Set<string> } {
  const manifests = new Set<string>();
  const blobs = new Set<string>();
  const visit = (digest: string): void => {
    if (manifests.has(digest)) return;
    manifests.add(digest);
    const image = images.get(digest);
    if (image === undefined) return;
    for (const blob of blobsOf(image)) blobs.add(blob.digest);
    for (const child of image.manifests) visit(child);
  };
  for (const digest of digests) visit(digest);
  return { manifests, blobs };
}

interface StreamDecision {
  items: PlanItem[];
  removals: HistoryRemoval[];
  kept: { digest: string; label: string }[];
}

class TagFilter {
  private readonly include: RegExp | undefined;
  private readonly exclude: RegExp | undefined;

  constructor(policy: PrunePolicy) {
    this.include = policy.tagInclude !== undefined ? new RegExp(policy.tagInclude, 'u') : undefined;
    this.exclude = policy.tagExclude !== undefined ? new RegExp(policy.tagExclude, 'u') : undefined;
  }

  selects(tag: string): boolean {
    if (this.include !== undefined && !this.include.test(tag)) return false;
    return this.exclude === undefined || !this.exclude.test(tag);
  }
}

interface StreamContext {
  policy: PrunePolicy;
  uses: UseIndex;
  images: ReadonlyMap<string, SnapshotImage>;
  protectedNamespaces: ReadonlyMap<string, string>;
  sizeLimits: Readonly<Record<string, number>>;
  tags: TagFilter;
  now: number;
}

function streamKeepRule(
  stream: SnapshotStream,
  effective: EffectivePolicy,
  ctx: StreamContext,
): { rule: PlanRule; referrer?: string } | undefined {
  if (effective.exclude) return { rule: 'namespace-excluded' };
  const invalid = ctx.protectedNamespaces.get(stream.namespace) ?? ctx.protectedNamespaces.get('');
  if (invalid !== undefined) return { rule: 'namespace-invalid-reference', referrer: invalid };
  if (stream.protected) return { rule: 'stream-protected' };
  if (time(stream.created) > ctx.now - effective.keepYoungerThanMs) return { rule: 'stream-young' };
  return undefined;
}

/** Stage 1 for one stream: decide every history item. */
function decideStream(stream: SnapshotStream, ctx: StreamContext): StreamDecision {
  const repo = `${stream.namespace}/${stream.name}`;
  const effective = policyFor(ctx.policy, stream.namespace);
  const threshold = ctx.now - effective.keepYoungerThanMs;
  const whole = streamKeepRule(stream, effective, ctx);
  const sizeLimit = ctx.sizeLimits[stream.namespace];
  const decision: StreamDecision = { items: [], removals: [], kept: [] };
  for (const tag of stream.tags) {
    const selected = ctx.tags.selects(tag.tag);
    tag.items.forEach((item, revision) => {
      const base = {
        id: `tag:${repo}:${tag.tag}#${revision}`,
        kind: 'tag-history' as const,
        bytes: 0,
        stream: repo,
        tag: tag.tag,
        revision,
        digest: item.image,
      };
      const keep = (rule: PlanRule, referrer?: string): void => {
        decision.items.push({
          ...base,
          action: 'keep',
          rule,
          ...(referrer !== undefined ? { referrer } : {}),
        });
        decision.kept.push({ digest: item.image, label: `${repo}:${tag.tag}#${revision}` });
      };
      const drop = (rule: PlanRule): void => {
        decision.items.push({ ...base, action: 'delete', rule, unit: `stream/${repo}` });
        decision.removals.push({ tag: tag.tag, image: item.image, created: item.created });
      };
      if (whole !== undefined) return keep(whole.rule, whole.referrer);
      if (!selected) return keep('tag-not-selected');
      if (time(item.created) > threshold) return keep('young');
      const tagUser = revision === 0 ? ctx.uses.tags.get(`${repo}:${tag.tag}`) : undefined;
      if (tagUser !== undefined) return keep('tag-in-use', tagUser);
      const image = ctx.images.get(item.image);
      if (image === undefined) return drop('dangling');
      if (image.protected) return keep('image-protected');
      let overSize = false;
      if (ctx.policy.pruneOverSizeLimit) {
        overSize = sizeLimit !== undefined && image.size > sizeLimit;
        if (!overSize) return keep('within-size-limit');
      } else if (revision < effective.keepTagRevisions) {
        return keep('within-tag-revisions');
      }
      const imageUser = ctx.uses.streamImages.get(`${repo}@${item.image}`);
      if (imageUser !== undefined) return keep('image-in-use', imageUser);
      return drop(overSize ? 'over-size-limit' : 'beyond-tag-revisions');
    });
  }
  return decision;
}

/** The registry side of one trimmed stream: links nothing in the remaining history needs. */
function streamLinks(
  stream: SnapshotStream,
  decision: StreamDecision,
  images: ReadonlyMap<string, SnapshotImage>,
): { manifests: string[]; layers: string[]; items: PlanItem[] } {
  const repo = `${stream.namespace}/${stream.name}`;
  const unit = `stream/${repo}`;
  const before = repositoryContents(
    stream.tags.flatMap((tag) => tag.items.map((item) => item.image)),
    images,
  );
  const after = repositoryContents(
    decision.kept.map((entry) => entry.digest),
    images,
  );
  const items: PlanItem[] = [];
  const manifests: string[] = [];
  const layers: string[] = [];
  for (const digest of [...before.manifests].sort()) {
    const gone = !after.manifests.has(digest);
    if (gone) manifests.push(digest);
    items.push({
      id: `manifest-link:${repo}@${digest}`,
      kind: 'manifest-link',
      action: gone ? 'delete' : 'keep',
      rule: gone ? 'link-unreferenced' : 'link-still-referenced',
      bytes: 0,
      stream: repo,
      digest,
      ...(gone ? { unit } : {}),
    });
  }
  for (const digest of [...before.blobs].sort()) {
    const gone = !after.blobs.has(digest);
    if (!gone) continue;
    layers.push(digest);
    items.push({
      id: `layer-link:${repo}@${digest}`,
      kind: 'layer-link',
      action: 'delete',
      rule: 'link-unreferenced',
      bytes: 0,
      stream: repo,
      digest,
      unit,
    });
  }
  return { manifests, layers, items };
}

interface ImageStage {
  items: ItemSink;
  units: ImageUnit[];
  bytes: number;
}

interface ImageContext {
  snapshot: PruneSnapshot;
  policy: PrunePolicy;
  mode: PruneMode;
  now: number;
  uses: UseIndex;
  /** Image digest → a history item that keeps it. */
  history: ReadonlyMap<string, string>;
  /** Image digest → stream units that remove items of it. */
  removedBy: ReadonlyMap<string, Set<string>>;
  sink: ItemSink;
}

type KeepRules = Map<string, { rule: PlanRule; referrer?: string }>;

function imageKeepRules(ctx: ImageContext): KeepRules {
  const threshold = ctx.now - ctx.policy.keepYoungerThanMs;
  const rules: KeepRules = new Map();
  for (const image of ctx.snapshot.images) {
    const inHistory = ctx.history.get(image.digest);
    const byDigest = ctx.uses.digests.get(image.digest);
    if (image.protected) rules.set(image.digest, { rule: 'image-protected' });
    else if (inHistory !== undefined)
      rules.set(image.digest, { rule: 'in-stream-history', referrer: inHistory });
    else if (byDigest !== undefined)
      rules.set(image.digest, { rule: 'referenced-by-digest', referrer: byDigest });
    else if (!image.managed && !ctx.policy.all) rules.set(image.digest, { rule: 'not-managed' });
    else if (time(image.created) > threshold) rules.set(image.digest, { rule: 'young' });
  }
  // A kept manifest list keeps its children (an unused list protects nothing).
  const images = new Map(ctx.snapshot.images.map((image) => [image.digest, image]));
  const pending = [...rules.keys()];
  for (let parent = pending.pop(); parent !== undefined; parent = pending.pop()) {
    for (const child of images.get(parent)?.manifests ?? []) {
      if (rules.has(child)) continue;
      rules.set(child, { rule: 'manifest-list-child', referrer: parent });
      pending.push(child);
    }
  }
  return rules;
}

/** Global reference counts: a kept image that needs each digest, and the deleted images that use it. */
function blobUsers(
  images: readonly SnapshotImage[],
  rules: KeepRules,
): { kept: Map<string, string>; deleted: Map<string, string[]> } {
  const kept = new Map<string, string>();
  const need = (digest: string, user: string): void => {
    if (!kept.has(digest)) kept.set(digest, user);
  };
  for (const image of images) {
    if (!rules.has(image.digest)) continue;
    // A kept list needs its children's manifests too.
    for (const layer of image.layers) need(layer.digest, image.digest);
    if (image.config !== undefined) need(image.config.digest, image.digest);
    need(image.digest, image.digest);
    for (const child of image.manifests) need(child, image.digest);
  }
  // Only blobs no kept image needs are deletion candidates; record which deleted images share them.
  const deleted = new Map<string, string[]>();
  const use = (digest: string, user: string): void => {
    if (kept.has(digest)) return;
    const users = deleted.get(digest);
    if (users === undefined) deleted.set(digest, [user]);
    else if (users[users.length - 1] !== user) users.push(user);
  };
  for (const image of images) {
    if (rules.has(image.digest)) continue;
    for (const layer of image.layers) use(layer.digest, image.digest);
    if (image.config !== undefined) use(image.config.digest, image.digest);
    use(image.digest, image.digest);
  }
  return { kept, deleted };
}

/** The blobs of a deleted image: deleted when no kept image needs them, each decided once. */
function planBlobs(
  image: SnapshotImage,
  unit: string,
  users: { kept: Map<string, string>; deleted: Map<string, string[]> },
  decided: Set<string>,
  stage: ImageStage,
): BlobDeletion[] {
  const blobs: BlobDeletion[] = [];
  for (const blob of [...blobsOf(image), { digest: image.digest, size: 0 }]) {
    const id = `blob:${blob.digest}`;
    if (decided.has(id)) continue;
    decided.add(id);
    const user = users.kept.get(blob.digest);
    if (user !== undefined) {
      stage.items.add({
        id,
        kind: 'blob',
        action: 'keep',
        rule: 'blob-shared',
        referrer: user,
        bytes: 0,
        digest: blob.digest,
      });
      continue;
    }
    const sharedWith = (users.deleted.get(blob.digest) ?? []).filter((digest) => digest !== image.digest);
    blobs.push({ digest: blob.digest, size: blob.size, sharedWith });
    stage.bytes += blob.size;
    stage.items.add({
      id,
      kind: 'blob',
      action: 'delete',
      rule: 'blob-unreferenced',
      bytes: blob.size,
      digest: blob.digest,
      unit,
    });
  }
  return blobs;
}

/** Stage 2: Image objects and blobs, after every stream's history was decided. */
function decideImages(ctx: ImageContext): ImageStage {
  const rules = imageKeepRules(ctx);
  const users = ctx.mode === 'full' ? blobUsers(ctx.snapshot.images, rules) : undefined;
  const stage: ImageStage = { items: ctx.sink, units: [], bytes: 0 };
  const decided = new Set<string>();
  const parents = new Map<string, string[]>();
  for (const image of ctx.snapshot.images) {
    if (rules.has(image.digest)) continue;
    for (const child of image.manifests) parents.set(child, [...(parents.get(child) ?? []), image.digest]);
  }
  const sorted = [...ctx.snapshot.images].sort((a, b) =>
    a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0,
  );
  for (const image of sorted) {
    const id = `image:${image.digest}`;
    const keep = rules.get(image.digest);
    if (keep !== undefined) {
      stage.items.add({
        id,
        kind: 'image',
        action: 'keep',
        rule: keep.rule,
        bytes: 0,
        digest: image.digest,
        ...(keep.referrer !== undefined ? { referrer: keep.referrer } : {}),
      });
      continue;
    }
    const unit = `image/${image.digest}`;
    stage.items.add({
      id,
      kind: 'image',
      action: 'delete',
      rule: 'unreferenced',
      bytes: 0,
      digest: image.digest,
      unit,
    });
    const blobs = users === undefined ? [] : planBlobs(image, unit, users, decided, stage);
    stage.units.push({
      type: 'image',
      id: unit,
      digest: image.digest,
      dependsOn: [...(ctx.removedBy.get(image.digest) ?? [])].sort(),
      parents: (parents.get(image.digest) ?? []).sort(),
      blobs,
    });
  }
  return stage;
}

/** Stage 1 over every stream, in a stable order: items, units and what the remaining history holds. */
function decideStreams(
  snapshot: PruneSnapshot,
  ctx: StreamContext,
  mode: PruneMode,
  sink: ItemSink,
): { streamUnits: StreamUnit[]; history: Map<string, string>; removedBy: Map<string, Set<string>> } {
  const streamUnits: StreamUnit[] = [];
  const history = new Map<string, string>();
  const removedBy = new Map<string, Set<string>>();
  const streams = [...snapshot.streams].sort((a, b) =>
    a.namespace === b.namespace ? (a.name < b.name ? -1 : 1) : a.namespace < b.namespace ? -1 : 1,
  );
  for (const stream of streams) {
    const decision = decideStream(stream, ctx);
    for (const item of decision.items) sink.add(item);
    for (const entry of decision.kept) if (!history.has(entry.digest)) history.set(entry.digest, entry.label);
    if (decision.removals.length === 0) continue;
    const repo = `${stream.namespace}/${stream.name}`;
    const id = `stream/${repo}`;
    for (const removal of decision.removals) {
      const set = removedBy.get(removal.image);
      if (set === undefined) removedBy.set(removal.image, new Set([id]));
      else set.add(id);
    }
    sink.add({
      id: `stream-update:${repo}`,
      kind: 'stream-update',
      action: 'update',
      rule: 'history-removed',
      bytes: 0,
      stream: repo,
      unit: id,
    });
    const links =
      mode === 'full' ? streamLinks(stream, decision, ctx.images) : { manifests: [], layers: [], items: [] };
    for (const item of links.items) sink.add(item);
    streamUnits.push({
      type: 'stream',
      id,
      namespace: stream.namespace,
      name: stream.name,
      uid: stream.uid,
      removals: decision.removals,
      manifestLinks: links.manifests,
      layerLinks: links.layers,
    });
  }
  return { streamUnits, history, removedBy };
}

/**
 * Computes what a prune would do and why. Pure: the same inputs give the same plan, byte for byte.
 *
 * Stage 1 decides each history item (first matching rule wins): the namespace is excluded or protected by
 * an invalid reference, the stream is protected or young, the tag is not selected, the item is young,
 * revision 0 of a used tag, dangling (its Image is gone), the Image is protected, within the kept
 * revisions (or, in over-size mode, within the size limit), used by digest through this stream; otherwise
 * it is deleted. Stage 2 keeps Images that are protected, still in a history, referenced by digest anywhere,
 * not managed (unless `all`), young, or children of a kept manifest list; the rest are deleted along with
 * the blobs no kept image needs. Each delete belongs to a work unit: stream units first, image units after.
 *
 * @param snapshot The cluster as read by `takeSnapshot`.
 * @param policy The validated policy.
 * @param options Mode and time.
 * @returns The plan.
 */
export function planPrune(snapshot: PruneSnapshot, policy: PrunePolicy, options: PlanOptions): PrunePlan {
  const schema: unknown = (snapshot as { schema?: unknown }).schema;
  if (schema !== SNAPSHOT_SCHEMA) {
    throw new RegistryPushError(
      'PRUNE_PLAN_INVALID',
      `The snapshot has schema ${JSON.stringify(schema) ?? 'none'}, not ${SNAPSHOT_SCHEMA}.`,
      {
        hint: 'Take a new snapshot with this version.',
      },
    );
  }
  const now = options.now.getTime();
  const images = new Map(snapshot.images.map((image) => [image.digest, image]));
  const uses = indexUses(snapshot.uses, policy, now);
  const protectedNamespaces = new Map<string, string>();
  for (const invalid of snapshot.invalidReferences) {
    if (!protectedNamespaces.has(invalid.namespace))
      protectedNamespaces.set(invalid.namespace, invalid.referrer);
  }
  const ctx: StreamContext = {
    policy,
    uses,
    images,
    protectedNamespaces,
    sizeLimits: snapshot.imageSizeLimits,
    tags: new TagFilter(policy),
    now,
  };
  const sink = new ItemSink(options.detail !== 'changes');
  const { streamUnits, history, removedBy } = decideStreams(snapshot, ctx, options.mode, sink);
  let imageStage: ImageStage = { items: sink, units: [], bytes: 0 };
  if (snapshot.namespace === undefined) {
    imageStage = decideImages({ snapshot, policy, mode: options.mode, now, uses, history, removedBy, sink });
  }
  const units: WorkUnit[] = [...streamUnits, ...imageStage.units];
  const notes = [...snapshot.notes];
  if (snapshot.namespace !== undefined) {
    notes.push(
      `Namespace-scoped run (${snapshot.namespace}): tag history only, no Image object or blob is deleted.`,
    );
  }
  const hash = createHash('sha256').update(
    JSON.stringify([options.mode, options.now.toISOString(), snapshot.takenAt, policy]),
  );
  for (const unit of units) hash.update(JSON.stringify(unit));
  const id = hash.digest('hex').slice(0, 16);
  return {
    schema: PLAN_SCHEMA,
    id,
    mode: options.mode,
    now: options.now.toISOString(),
    snapshotTakenAt: snapshot.takenAt,
    ...(snapshot.namespace !== undefined ? { namespace: snapshot.namespace } : {}),
    policy,
    items: sink.items,
    units,
    summary: sink.summary(imageStage.bytes),
    notes,
  };
}
