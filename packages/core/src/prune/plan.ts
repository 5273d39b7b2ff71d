/**
 * The plan: a pure function of a snapshot, a policy, a mode and a time. It follows `oc adm prune images`
 * (tag history first, then Image objects, reference counted blobs) with stricter protection: digest
 * references protect the Image wherever it is, invalid references protect their namespace, protect
 * annotations, tag filters and per-namespace overrides. Nothing here reads a clock or the network.
 */
import { createHash } from 'node:crypto';
import { RegistryPushError } from '../errors.js';
import { policyFor, type EffectivePolicy } from './policy.js';
import { compileRules, selects, signatureSubject, type CompiledRule } from './rules.js';
import {
  PLAN_SCHEMA,
  SNAPSHOT_SCHEMA,
  type BlobDeletion,
  type HistoryRemoval,
  type ImageUnit,
  type ImageUse,
  type PlanItem,
  type PlanItemKind,
  type PlanRule,
  type PlanSummary,
  type PruneMode,
  type PrunePlan,
  type PrunePolicy,
  type PruneSnapshot,
  type PruneWarning,
  type SnapshotImage,
  type SnapshotStream,
  type SnapshotTagEvent,
  type StreamUnit,
  type UnknownPart,
  type WorkUnit,
} from './types.js';

/** Inputs of {@link planPrune} besides the snapshot and policy. */
export interface PlanOptions {
  mode: PruneMode;
  /** The time ages are measured against. */
  now: Date;
  /**
   * `all` (default) lists every decision, keeps included; `changes` lists only deletes and updates, which
   * keeps very large plans small; `summary` lists none (`items` is empty) for callers that need only the
   * units and the counts. The summary always counts every decision.
   */
  detail?: 'all' | 'changes' | 'summary';
}

/**
 * A frozen empty list, shared by every unit field and blob record with nothing in it (a plan of 100k images
 * has hundreds of thousands of them). The plan's JSON is the same; the lists must not be changed in place.
 */
const NONE: never[] = Object.freeze([]) as never[];
const none = <T = string>(): T[] => NONE;

/**
 * A list as a unit keeps it: the shared empty list, or a copy of exactly its length (a list grown by `push`
 * has room for 17 entries or more, most of it empty in units that hold one or two).
 */
const exact = <T>(list: T[]): T[] => (list.length === 0 ? none<T>() : list.slice());

/**
 * Text joined into one flat string. The prefixes shared by many ids are built this way: concatenation
 * would make each a chain of pieces, several times the size of the text.
 */
const flat = (...parts: string[]): string => parts.join('');

/** The item with its referrer, when there is one (last, as in the plan's JSON). */
function withReferrer(item: PlanItem, referrer: string | undefined): PlanItem {
  if (referrer !== undefined) item.referrer = referrer;
  return item;
}

/**
 * Counts every decision and keeps the ones the plan lists. Keep decisions that the plan does not list
 * (`detail: 'changes'`) are only counted, never built.
 */
class ItemSink {
  readonly items: PlanItem[] = [];
  private readonly counts: PlanSummary['counts'] = {};
  /**
   * Reasons in the order they first occurred, keyed by rule (each rule goes with one action); a rule seen
   * with a second action gets an `action rule` key of its own.
   */
  private readonly reasons = new Map<string, PlanSummary['reasons'][number]>();

  constructor(
    private readonly keepAll: boolean,
    private readonly listChanges: boolean,
  ) {}

  private count(kind: PlanItemKind, action: PlanItem['action'], rule: PlanRule): void {
    const byAction = (this.counts[kind] ??= {});
    byAction[action] = (byAction[action] ?? 0) + 1;
    let key: string = rule;
    let entry = this.reasons.get(key);
    if (entry !== undefined && entry.action !== action) {
      key = `${action} ${rule}`;
      entry = this.reasons.get(key);
    }
    if (entry === undefined) this.reasons.set(key, { rule, action, count: 1 });
    else entry.count++;
  }

  add(item: PlanItem): void {
    this.count(item.kind, item.action, item.rule);
    if (this.keepAll || (this.listChanges && item.action !== 'keep')) this.items.push(item);
  }

  /**
   * Counts a keep decision when the plan does not list keeps.
   *
   * @returns true when it was counted and nothing else is to be done; false when the caller adds the item.
   */
  countedKeep(kind: PlanItemKind, rule: PlanRule): boolean {
    if (this.keepAll) return false;
    this.count(kind, 'keep', rule);
    return true;
  }

  /** History items kept by each retention rule, by the rule's text. */
  private readonly retention = new Map<string, number>();

  /** Counts a history item a retention rule kept. */
  retained(text: string): void {
    this.retention.set(text, (this.retention.get(text) ?? 0) + 1);
  }

  summary(bytesFreed: number): PlanSummary {
    const reasons = [...this.reasons.values()].sort(
      (a, b) => b.count - a.count || (a.rule < b.rule ? -1 : 1),
    );
    const summary: PlanSummary = { counts: this.counts, bytesFreed, reasons };
    if (this.retention.size > 0) {
      summary.retention = Object.fromEntries(
        [...this.retention.entries()].sort(([a], [b]) => (a < b ? -1 : 1)),
      );
    }
    return summary;
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
): { manifests: Set<string>; blobs: Set<string>; unknown: Set<UnknownPart> } {
  const manifests = new Set<string>();
  const blobs = new Set<string>();
  const unknown = new Set<UnknownPart>();
  const visit = (digest: string): void => {
    if (manifests.has(digest)) return;
    manifests.add(digest);
    const image = images.get(digest);
    if (image === undefined) return;
    for (const layer of image.layers) blobs.add(layer.digest);
    if (image.config !== undefined) blobs.add(image.config.digest);
    for (const part of image.unknown ?? NONE) unknown.add(part);
    for (const child of image.manifests) visit(child);
  };
  for (const digest of digests) visit(digest);
  return { manifests, blobs, unknown };
}

/** Every image digest in a stream's history, in order. */
function* historyImages(stream: SnapshotStream): Generator<string> {
  for (const tag of stream.tags) for (const item of tag.items) yield item.image;
}

/** Where one stream's decisions go: `repo` is `namespace/name`, `unit` the id of its work unit. */
interface StreamTarget {
  repo: string;
  unit: string;
  sink: ItemSink;
  /** Image digest → the first kept history item (`namespace/name:tag#revision`) that holds it. */
  history: Map<string, string>;
}

interface StreamDecision {
  removals: HistoryRemoval[];
  /** Digests of the kept history items. */
  kept: string[];
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
  /** The cluster's retention rules. */
  rules: readonly CompiledRule[];
  /** Each namespace's own rules. */
  namespaceRules: ReadonlyMap<string, readonly CompiledRule[]>;
  /**
   * Digests kept in any stream's history by a regular (not signature) tag: known before the streams are
   * decided only when a signature tag's subject is outside its own stream (see {@link regularKept}).
   */
  keptAnywhere?: ReadonlySet<string>;
}

interface RuleChoice {
  rule: PlanRule;
  referrer?: string;
}

function streamKeepRule(
  stream: SnapshotStream,
  effective: EffectivePolicy,
  ctx: StreamContext,
): RuleChoice | undefined {
  if (effective.exclude) return { rule: 'namespace-excluded' };
  const invalid = ctx.protectedNamespaces.get(stream.namespace) ?? ctx.protectedNamespaces.get('');
  if (invalid !== undefined) return { rule: 'namespace-invalid-reference', referrer: invalid };
  if (stream.protected) return { rule: 'stream-protected' };
  if (time(stream.created) > ctx.now - effective.keepYoungerThanMs) return { rule: 'stream-young' };
  return undefined;
}

/** The rule for one history item, and whether it is deleted. */
interface ItemChoice extends RuleChoice {
  drop: boolean;
}

/** The retention rules that apply to one stream, with the items each `keepLast` rule keeps. */
class StreamRules {
  /** `keepLast` rule → `tagIndex#revision` of the items it keeps. */
  private readonly last = new Map<CompiledRule, Set<string>>();

  constructor(
    readonly cluster: readonly CompiledRule[],
    readonly own: readonly CompiledRule[],
    private readonly now: number,
  ) {}

  /**
   * Works out what each `keepLast` rule keeps in a stream: of the items of the tags it selects (tags the
   * tag filters leave out and items whose Image is gone do not count), the N with the newest `created`.
   */
  static of(stream: SnapshotStream, regular: readonly number[], ctx: StreamContext): StreamRules | undefined {
    const selecting = (rules: readonly CompiledRule[]): CompiledRule[] =>
      rules.filter((rule) =>
        regular.some((t) => selects(rule, stream.namespace, stream.name, stream.tags[t]!.tag)),
      );
    const cluster = selecting(ctx.rules);
    const own = selecting(ctx.namespaceRules.get(stream.namespace) ?? NONE);
    if (cluster.length === 0 && own.length === 0) return undefined;
    const rules = new StreamRules(cluster, own, ctx.now);
    for (const rule of [...cluster, ...own]) {
      if (rule.rule.keepLast === undefined) continue;
      const candidates: { key: string; at: number; t: number; revision: number }[] = [];
      for (const t of regular) {
        const tag = stream.tags[t]!;
        if (!ctx.tags.selects(tag.tag) || !selects(rule, stream.namespace, stream.name, tag.tag)) continue;
        tag.items.forEach((item, revision) => {
          if (!ctx.images.has(item.image)) return;
          candidates.push({ key: `${t}#${revision}`, at: time(item.created), t, revision });
        });
      }
      candidates.sort((a, b) => b.at - a.at || a.t - b.t || a.revision - b.revision);
      rules.last.set(rule, new Set(candidates.slice(0, rule.rule.keepLast).map((c) => c.key)));
    }
    return rules;
  }

  /** The first of `rules` that selects the tag. */
  static anySelects(rules: readonly CompiledRule[], stream: SnapshotStream, tag: string): boolean {
    return rules.some((rule) => selects(rule, stream.namespace, stream.name, tag));
  }

  /** The first of the rules selecting the tag that keeps the item, or undefined. */
  keeper(
    rules: readonly CompiledRule[],
    stream: SnapshotStream,
    at: { t: number; tag: string; revision: number; created: string },
  ): CompiledRule | undefined {
    for (const rule of rules) {
      if (!selects(rule, stream.namespace, stream.name, at.tag)) continue;
      const { keepLast, keepWithinMs } = rule.rule;
      if (keepLast !== undefined) {
        if (this.last.get(rule)?.has(`${at.t}#${at.revision}`) === true) return rule;
      } else if (keepWithinMs !== undefined) {
        if (time(at.created) > this.now - keepWithinMs) return rule;
      } else if (at.revision === 0 && rule.keepTags?.test(at.tag) === true) {
        return rule;
      }
    }
    return undefined;
  }
}

/**
 * Stage 1 for one stream: decide every history item (first matching rule wins). Regular tags come first,
 * then signature tags (`sha256-<hex>.sig` and the like), which follow their subject. Items go straight to
 * the sink, and the first kept item of each image to the history.
 */
function decideStream(stream: SnapshotStream, target: StreamTarget, ctx: StreamContext): StreamDecision {
  const { repo, unit, sink, history } = target;
  const effective = policyFor(ctx.policy, stream.namespace);
  const threshold = ctx.now - effective.keepYoungerThanMs;
  const whole = streamKeepRule(stream, effective, ctx);
  const sizeLimit = ctx.sizeLimits[stream.namespace];
  const decision: StreamDecision = { removals: [], kept: [] };
  const regular: number[] = [];
  const signatures: number[] = [];
  stream.tags.forEach((tag, t) => (signatureSubject(tag.tag) === undefined ? regular : signatures).push(t));
  const rules = whole === undefined ? StreamRules.of(stream, regular, ctx) : undefined;
  /** Digest → the first kept item of a regular tag here that holds it. */
  const keptHere = new Map<string, string>();
  /** The checks every item goes through first; undefined when none decided it. */
  const common = (
    tag: string,
    selected: boolean,
    item: SnapshotTagEvent,
    revision: number,
  ): ItemChoice | undefined => {
    if (whole !== undefined) return { ...whole, drop: false };
    if (!selected) return { rule: 'tag-not-selected', drop: false };
    if (time(item.created) > threshold) return { rule: 'young', drop: false };
    const tagUser = revision === 0 ? ctx.uses.tags.get(`${repo}:${tag}`) : undefined;
    if (tagUser !== undefined) return { rule: 'tag-in-use', referrer: tagUser, drop: false };
    const image = ctx.images.get(item.image);
    if (image === undefined) return { rule: 'dangling', drop: true };
    if (image.protected) return { rule: 'image-protected', drop: false };
    return undefined;
  };
  const inUse = (item: SnapshotTagEvent): ItemChoice | undefined => {
    const imageUser = ctx.uses.streamImages.get(`${repo}@${item.image}`);
    return imageUser !== undefined ? { rule: 'image-in-use', referrer: imageUser, drop: false } : undefined;
  };
  const retained = (rule: 'retention-rule' | 'namespace-retention-rule', by: CompiledRule): ItemChoice => {
    sink.retained(by.text);
    return { rule, referrer: by.text, drop: false };
  };
  const choose = (
    t: number,
    tag: string,
    selected: boolean,
    item: SnapshotTagEvent,
    revision: number,
  ): ItemChoice => {
    const first = common(tag, selected, item, revision);
    if (first !== undefined) return first;
    const image = ctx.images.get(item.image)!;
    let overSize = false;
    const ruled = rules !== undefined && StreamRules.anySelects(rules.cluster, stream, tag);
    const at = { t, tag, revision, created: item.created };
    if (ctx.policy.pruneOverSizeLimit) {
      overSize = sizeLimit !== undefined && image.size > sizeLimit;
      if (!overSize) return { rule: 'within-size-limit', drop: false };
    } else if (!ruled) {
      if (revision < effective.keepTagRevisions) return { rule: 'within-tag-revisions', drop: false };
    } else {
      const by = rules.keeper(rules.cluster, stream, at);
      if (by !== undefined) return retained('retention-rule', by);
    }
    const used = inUse(item);
    if (used !== undefined) return used;
    // A namespace's own rules come last: they can only keep what the cluster's would delete.
    const own = rules?.keeper(rules.own, stream, at);
    if (own !== undefined) return retained('namespace-retention-rule', own);
    return {
      rule: overSize ? 'over-size-limit' : ruled ? 'beyond-retention-rules' : 'beyond-tag-revisions',
      drop: true,
    };
  };
  const chooseSignature = (
    tag: string,
    selected: boolean,
    item: SnapshotTagEvent,
    revision: number,
  ): ItemChoice => {
    const first = common(tag, selected, item, revision);
    if (first !== undefined) return first;
    const subject = signatureSubject(tag)!;
    const here = keptHere.get(subject);
    if (here !== undefined) return { rule: 'subject-kept', referrer: here, drop: false };
    const elsewhere = inHistory.has(subject) ? undefined : subjectKeptElsewhere(subject, ctx);
    if (elsewhere !== undefined) return { rule: 'subject-kept', referrer: elsewhere, drop: false };
    return inUse(item) ?? { rule: 'subject-pruned', referrer: subject, drop: true };
  };
  /** Every image of the regular tags' history before pruning. */
  const inHistory = new Set<string>();
  if (signatures.length > 0)
    for (const t of regular) {
      for (const item of stream.tags[t]!.items) {
        withChildren(item.image, ctx.images, (d) => addNew(inHistory, d));
      }
    }
  for (const t of [...regular, ...signatures]) {
    const tag = stream.tags[t]!;
    const isSignature = signatureSubject(tag.tag) !== undefined;
    const selected = ctx.tags.selects(tag.tag);
    // One prefix per tag: each item's id and label is then the prefix and its revision, not a new text.
    const idPrefix = flat('tag:', repo, ':', tag.tag, '#');
    const labelPrefix = flat(repo, ':', tag.tag, '#');
    tag.items.forEach((item, revision) => {
      const { rule, referrer, drop } = isSignature
        ? chooseSignature(tag.tag, selected, item, revision)
        : choose(t, tag.tag, selected, item, revision);
      const digest = item.image;
      if (drop) {
        sink.add(
          withReferrer(
            {
              id: idPrefix + revision,
              kind: 'tag-history',
              bytes: 0,
              stream: repo,
              tag: tag.tag,
              revision,
              digest,
              action: 'delete',
              rule,
              unit,
            },
            referrer,
          ),
        );
        decision.removals.push({
          tag: tag.tag,
          image: digest,
          created: item.created,
          position: [t, revision, tag.items.length],
        });
        return;
      }
      if (!sink.countedKeep('tag-history', rule)) {
        sink.add(
          withReferrer(
            {
              id: idPrefix + revision,
              kind: 'tag-history',
              bytes: 0,
              stream: repo,
              tag: tag.tag,
              revision,
              digest,
              action: 'keep',
              rule,
            },
            referrer,
          ),
        );
      }
      decision.kept.push(digest);
      // A kept list keeps its platform manifests, which `cosign sign --recursive` signs too.
      if (!isSignature && signatures.length > 0) {
        withChildren(digest, ctx.images, (d) => addNew(keptHere, d, labelPrefix + revision));
      }
      if (!history.has(digest)) history.set(digest, labelPrefix + revision);
    });
  }
  return decision;
}

/** Adds a key not there yet (to a set, or to a map with `value`); false when it was there. */
function addNew(to: Set<string> | Map<string, string>, key: string, value = ''): boolean {
  if (to.has(key)) return false;
  if (to instanceof Set) to.add(key);
  else to.set(key, value);
  return true;
}

/**
 * Visits an image and, through manifest lists, every manifest under it, while `visit` answers true (false:
 * seen already, which stops that branch).
 */
function withChildren(
  digest: string,
  images: ReadonlyMap<string, SnapshotImage>,
  visit: (digest: string) => boolean,
): void {
  if (!visit(digest)) return;
  for (const child of images.get(digest)?.manifests ?? NONE) withChildren(child, images, visit);
}

/**
 * Whether the subject of a signature tag outside its own stream is kept elsewhere: protected, used by
 * digest, kept in a regular tag's history of any stream, not managed (unless `all`) or young.
 *
 * @returns Why, as the plan's referrer; undefined when it is not kept (or gone).
 */
function subjectKeptElsewhere(subject: string, ctx: StreamContext): string | undefined {
  const image = ctx.images.get(subject);
  if (image === undefined) return undefined;
  if (image.protected) return `${subject} (protected)`;
  const user = ctx.uses.digests.get(subject);
  if (user !== undefined) return `${subject} (used by ${user})`;
  if (ctx.keptAnywhere?.has(subject) === true) return `${subject} (in a stream's history)`;
  if (!image.managed && !ctx.policy.all) return `${subject} (not managed)`;
  if (time(image.created) > ctx.now - ctx.policy.keepYoungerThanMs) return `${subject} (young)`;
  return undefined;
}

/** The registry side of one trimmed stream: links nothing in the remaining history needs. */
function streamLinks(
  stream: SnapshotStream,
  kept: readonly string[],
  target: StreamTarget,
  images: ReadonlyMap<string, SnapshotImage>,
): { manifests: string[]; layers: string[] } {
  const { repo, unit, sink } = target;
  const before = repositoryContents(historyImages(stream), images);
  const after = repositoryContents(kept, images);
  const manifests: string[] = [];
  const layers: string[] = [];
  // What the remaining history needs is not fully known when one of its Images could not be read: then no
  // link of that kind is deleted here (an unknown child could be any manifest, an unknown layer or config
  // any blob link).
  const manifestsUnknown = after.unknown.has('children');
  const blobsUnknown = after.unknown.has('layers') || after.unknown.has('config');
  const manifestId = flat('manifest-link:', repo, '@');
  for (const digest of [...before.manifests].sort()) {
    const id = manifestId + digest;
    if (!after.manifests.has(digest) && !manifestsUnknown) {
      manifests.push(digest);
      sink.add({
        id,
        kind: 'manifest-link',
        action: 'delete',
        rule: 'link-unreferenced',
        bytes: 0,
        stream: repo,
        digest,
        unit,
      });
    } else if (!sink.countedKeep('manifest-link', 'link-still-referenced')) {
      sink.add({
        id,
        kind: 'manifest-link',
        action: 'keep',
        rule: 'link-still-referenced',
        bytes: 0,
        stream: repo,
        digest,
      });
    }
  }
  const layerId = flat('layer-link:', repo, '@');
  for (const digest of [...before.blobs].sort()) {
    if (after.blobs.has(digest) || blobsUnknown) continue;
    layers.push(digest);
    sink.add({
      id: layerId + digest,
      kind: 'layer-link',
      action: 'delete',
      rule: 'link-unreferenced',
      bytes: 0,
      stream: repo,
      digest,
      unit,
    });
  }
  return {
    manifests: exact(manifests),
    layers: exact(layers),
  };
}

interface ImageStage {
  units: ImageUnit[];
  bytes: number;
  /** Images kept as possible referrers of an unknown subject (`subject-unknown`), in digest order. */
  hiddenReferrers: string[];
}

interface ImageContext {
  snapshot: PruneSnapshot;
  images: ReadonlyMap<string, SnapshotImage>;
  policy: PrunePolicy;
  mode: PruneMode;
  now: number;
  uses: UseIndex;
  /** Image digest → a history item that keeps it. */
  history: ReadonlyMap<string, string>;
  /** Image digest → the stream unit, or units, that remove items of it (each unit once, in stream order). */
  removedBy: ReadonlyMap<string, string | string[]>;
  sink: ItemSink;
}

type KeepRules = Map<string, RuleChoice>;

/** The keep rules without a referrer, one shared record each. */
const KEEP = {
  protected: { rule: 'image-protected' },
  notManaged: { rule: 'not-managed' },
  young: { rule: 'young' },
  unreadable: { rule: 'image-unreadable' },
  subjectUnknown: { rule: 'subject-unknown' },
} as const satisfies Record<string, RuleChoice>;

function imageKeepRules(ctx: ImageContext): KeepRules {
  const threshold = ctx.now - ctx.policy.keepYoungerThanMs;
  const rules: KeepRules = new Map();
  for (const image of ctx.snapshot.images) {
    const inHistory = ctx.history.get(image.digest);
    const byDigest = ctx.uses.digests.get(image.digest);
    if (image.protected) rules.set(image.digest, KEEP.protected);
    else if (inHistory !== undefined)
      rules.set(image.digest, { rule: 'in-stream-history', referrer: inHistory });
    else if (byDigest !== undefined)
      rules.set(image.digest, { rule: 'referenced-by-digest', referrer: byDigest });
    else if (!image.managed && !ctx.policy.all) rules.set(image.digest, KEEP.notManaged);
    else if (time(image.created) > threshold) rules.set(image.digest, KEEP.young);
    else if (image.problem !== undefined) rules.set(image.digest, KEEP.unreadable);
  }
  keepDependents(ctx, rules);
  keepPossibleChildren(ctx.snapshot.images, rules);
  keepHiddenReferrers(ctx, rules);
  return rules;
}

/**
 * Keeps what may be an OCI referrer whose subject cannot be read (fail-safe: it may belong to a kept image),
 * unless this run removes it from a history (a signature tag that follows its pruned subject) or a manifest
 * list names it (the referrers tag's index: it then goes with that list). Artifacts are rare: the set of
 * list children is built only when there is one.
 */
function keepHiddenReferrers(ctx: ImageContext, rules: KeepRules): void {
  let children: Set<string> | undefined;
  for (const image of ctx.snapshot.images) {
    if (image.subjectHidden !== true || rules.has(image.digest) || ctx.removedBy.has(image.digest)) continue;
    children ??= new Set(ctx.snapshot.images.flatMap((list) => list.manifests));
    if (!children.has(image.digest)) rules.set(image.digest, KEEP.subjectUnknown);
  }
}

/**
 * What kept images keep in turn: a kept manifest list its children (an unused list protects nothing), and a
 * kept image the OCI referrers (signatures, attestations) whose manifest names it as `subject`.
 */
function keepDependents(ctx: ImageContext, rules: KeepRules): void {
  const referrers = new Map<string, string[]>();
  for (const image of ctx.snapshot.images) {
    if (image.subject === undefined) continue;
    const list = referrers.get(image.subject);
    if (list === undefined) referrers.set(image.subject, [image.digest]);
    else list.push(image.digest);
  }
  const keep = (digest: string, choice: RuleChoice, pending: string[]): void => {
    if (rules.has(digest)) return;
    rules.set(digest, choice);
    pending.push(digest);
  };
  const pending = [...rules.keys()];
  for (let parent = pending.pop(); parent !== undefined; parent = pending.pop()) {
    for (const child of ctx.images.get(parent)?.manifests ?? NONE)
      keep(child, { rule: 'manifest-list-child', referrer: parent }, pending);
    for (const referrer of referrers.get(parent) ?? NONE)
      keep(referrer, { rule: 'subject-kept', referrer: parent }, pending);
  }
}

/**
 * A kept list with a child that could not be read could have any single image as that child: none of
 * those is deleted while it is so.
 */
function keepPossibleChildren(images: readonly SnapshotImage[], rules: KeepRules): void {
  const blindList = images.find(
    (image) => image.unknown?.includes('children') === true && rules.has(image.digest),
  );
  if (blindList === undefined) return;
  for (const image of images) {
    if (rules.has(image.digest) || image.manifests.length > 0) continue;
    rules.set(image.digest, { rule: 'possible-list-child', referrer: blindList.digest });
  }
}

/** The first kept Image (by digest) whose blobs of a kind are unknown, in a full plan. */
interface UnknownBlobs {
  layers?: string;
  config?: string;
}

function unknownBlobs(images: readonly SnapshotImage[], rules: KeepRules): UnknownBlobs {
  const found: UnknownBlobs = {};
  for (const image of images) {
    if (image.unknown === undefined || !rules.has(image.digest)) continue;
    if (image.unknown.includes('layers') && (found.layers === undefined || image.digest < found.layers))
      found.layers = image.digest;
    if (image.unknown.includes('config') && (found.config === undefined || image.digest < found.config))
      found.config = image.digest;
  }
  return found;
}

/** A blob decided already (in {@link BlobUsers.deleted}). */
const DECIDED = true;

/**
 * Reference counts for the blobs of deleted images: the deleted images that use each one (a digest, or
 * several in unit order) until it is decided, and the first kept image that needs it, if any.
 */
interface BlobUsers {
  deleted: Map<string, string | string[] | typeof DECIDED>;
  kept: Map<string, string>;
}

function blobUsers(images: readonly SnapshotImage[], rules: KeepRules): BlobUsers {
  const deleted = new Map<string, string | string[] | typeof DECIDED>();
  const use = (digest: string, user: string): void => {
    const users = deleted.get(digest);
    if (users === undefined) deleted.set(digest, user);
    else if (typeof users === 'string') {
      if (users !== user) deleted.set(digest, [users, user]);
    } else if (users !== DECIDED && users[users.length - 1] !== user) users.push(user);
  };
  for (const image of images) {
    if (rules.has(image.digest)) continue;
    for (const layer of image.layers) use(layer.digest, image.digest);
    if (image.config !== undefined) use(image.config.digest, image.digest);
    use(image.digest, image.digest);
  }
  // Only digests a deleted image uses are ever asked about: a kept image needing one keeps it.
  const kept = new Map<string, string>();
  const need = (digest: string, user: string): void => {
    if (deleted.has(digest) && !kept.has(digest)) kept.set(digest, user);
  };
  for (const image of images) {
    if (!rules.has(image.digest)) continue;
    // A kept list needs its children's manifests too.
    for (const layer of image.layers) need(layer.digest, image.digest);
    if (image.config !== undefined) need(image.config.digest, image.digest);
    need(image.digest, image.digest);
    for (const child of image.manifests) need(child, image.digest);
  }
  return { deleted, kept };
}

/** The blobs of a deleted image: deleted when no kept image needs them, each decided once. */
function planBlobs(
  image: SnapshotImage,
  unit: string,
  { users, unknown }: { users: BlobUsers; unknown: UnknownBlobs },
  stage: ImageStage,
  sink: ItemSink,
): BlobDeletion[] {
  const blobs: BlobDeletion[] = [];
  const decide = (digest: string, size: number, holder: string | undefined): void => {
    const others = users.deleted.get(digest);
    if (others === DECIDED) return;
    // A shared blob goes with the last unit that uses it, which runs after the others (see groups.ts).
    if (Array.isArray(others) && others[others.length - 1] !== image.digest) return;
    users.deleted.set(digest, DECIDED);
    const user = users.kept.get(digest);
    // `holder`: a kept Image with a blob of this kind whose digest nobody knows; this could be it.
    const rule: PlanRule | undefined =
      user !== undefined ? 'blob-shared' : holder !== undefined ? 'blob-identity-unknown' : undefined;
    if (rule !== undefined) {
      if (!sink.countedKeep('blob', rule)) {
        sink.add({
          id: `blob:${digest}`,
          kind: 'blob',
          action: 'keep',
          rule,
          referrer: user ?? holder,
          bytes: 0,
          digest,
        });
      }
      return;
    }
    // This image is the last deleted user in unit order; the others share the blob.
    const sharedWith = Array.isArray(others)
      ? exact(others.filter((other) => other !== image.digest))
      : none();
    blobs.push({ digest, size, sharedWith });
    stage.bytes += size;
    sink.add({
      id: `blob:${digest}`,
      kind: 'blob',
      action: 'delete',
      rule: 'blob-unreferenced',
      bytes: size,
      digest,
      unit,
    });
  };
  // A config is a JSON document and a layer an archive, so an unknown config can only be another
  // config and an unknown layer only another layer: each keeps the blobs of its own kind.
  for (const layer of image.layers) decide(layer.digest, layer.size, unknown.layers);
  if (image.config !== undefined) decide(image.config.digest, image.config.size, unknown.config);
  decide(image.digest, 0, undefined);
  return blobs;
}

/** Stage 2: Image objects and blobs, after every stream's history was decided. */
function decideImages(ctx: ImageContext): ImageStage {
  const { sink } = ctx;
  const rules = imageKeepRules(ctx);
  // Unit order: manifest lists first (a child goes only once no list names it), then by digest.
  const sorted = [...ctx.snapshot.images].sort(
    (a, b) =>
      Number(b.manifests.length > 0) - Number(a.manifests.length > 0) ||
      (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0),
  );
  const users = ctx.mode === 'full' ? blobUsers(sorted, rules) : undefined;
  const unknown = unknownBlobs(ctx.snapshot.images, rules);
  const stage: ImageStage = { units: [], bytes: 0, hiddenReferrers: [] };
  const parents = new Map<string, string[]>();
  for (const image of ctx.snapshot.images) {
    if (rules.has(image.digest)) continue;
    for (const child of image.manifests) parents.set(child, [...(parents.get(child) ?? []), image.digest]);
  }
  for (const image of sorted) {
    const digest = image.digest;
    const keep = rules.get(digest);
    if (keep !== undefined) {
      if (keep === KEEP.subjectUnknown) stage.hiddenReferrers.push(digest);
      if (sink.countedKeep('image', keep.rule)) continue;
      sink.add(
        withReferrer(
          { id: `image:${digest}`, kind: 'image', action: 'keep', rule: keep.rule, bytes: 0, digest },
          keep.referrer,
        ),
      );
      continue;
    }
    const unit = `image/${digest}`;
    sink.add({
      id: `image:${digest}`,
      kind: 'image',
      action: 'delete',
      rule: 'unreferenced',
      bytes: 0,
      digest,
      unit,
    });
    const blobs =
      users === undefined
        ? none<BlobDeletion>()
        : exact(planBlobs(image, unit, { users, unknown }, stage, sink));
    const removers = ctx.removedBy.get(digest);
    stage.units.push({
      type: 'image',
      id: unit,
      digest,
      dependsOn:
        removers === undefined ? none() : typeof removers === 'string' ? [removers] : [...removers].sort(),
      parents: parents.get(digest)?.sort() ?? none(),
      blobs,
    });
  }
  return stage;
}

/**
 * What the regular tags of every stream keep, worked out ahead only when a signature tag's subject is
 * not in its own stream's history (cosign's `COSIGN_REPOSITORY`): such a signature follows its subject
 * wherever that is kept. Undefined when no signature needs it (the common case costs nothing).
 */
function regularKept(streams: readonly SnapshotStream[], ctx: StreamContext): Set<string> | undefined {
  const needed = streams.some((stream) => {
    const subjects = stream.tags.map((tag) => signatureSubject(tag.tag)).filter((s) => s !== undefined);
    if (subjects.length === 0) return false;
    const own = new Set<string>();
    for (const tag of stream.tags) {
      if (signatureSubject(tag.tag) === undefined) for (const item of tag.items) own.add(item.image);
    }
    return subjects.some((subject) => !own.has(subject));
  });
  if (!needed) return undefined;
  const kept = new Set<string>();
  const sink = new ItemSink(false, false);
  for (const stream of streams) {
    const repo = flat(stream.namespace, '/', stream.name);
    const history = new Map<string, string>();
    decideStream(stream, { repo, unit: '', sink, history }, ctx);
    for (const [digest, label] of history) {
      if (signatureSubject(label.slice(repo.length + 1, label.lastIndexOf('#'))) !== undefined) continue;
      withChildren(digest, ctx.images, (d) => addNew(kept, d));
    }
  }
  return kept;
}

/** Stage 1 over every stream, in a stable order: items, units and what the remaining history holds. */
function decideStreams(
  snapshot: PruneSnapshot,
  ctx: StreamContext,
  mode: PruneMode,
  sink: ItemSink,
): {
  streamUnits: StreamUnit[];
  history: Map<string, string>;
  removedBy: Map<string, string | string[]>;
} {
  const streamUnits: StreamUnit[] = [];
  const history = new Map<string, string>();
  const removedBy = new Map<string, string | string[]>();
  const streams = [...snapshot.streams].sort((a, b) =>
    a.namespace === b.namespace ? (a.name < b.name ? -1 : 1) : a.namespace < b.namespace ? -1 : 1,
  );
  const anywhere = regularKept(streams, ctx);
  if (anywhere !== undefined) ctx = { ...ctx, keptAnywhere: anywhere };
  for (const stream of streams) {
    const repo = flat(stream.namespace, '/', stream.name);
    const target: StreamTarget = { repo, unit: `stream/${repo}`, sink, history };
    const decision = decideStream(stream, target, ctx);
    if (decision.removals.length === 0) continue;
    const id = target.unit;
    for (const removal of decision.removals) {
      // Streams come one at a time, so a unit already recorded for an image is the last one.
      const units = removedBy.get(removal.image);
      if (units === undefined) removedBy.set(removal.image, id);
      else if (typeof units === 'string') {
        if (units !== id) removedBy.set(removal.image, [units, id]);
      } else if (units[units.length - 1] !== id) units.push(id);
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
      mode === 'full'
        ? streamLinks(stream, decision.kept, target, ctx.images)
        : { manifests: none(), layers: none() };
    streamUnits.push({
      type: 'stream',
      id,
      namespace: stream.namespace,
      name: stream.name,
      uid: stream.uid,
      resourceVersion: stream.resourceVersion,
      removals: exact(decision.removals),
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
 * it is deleted. Retention rules (`policy.rules`) take the place of the revision count for the tags they
 * select (any of them keeping an item keeps it), a namespace's own rules (`snapshot.namespaceRules`) are
 * asked last and can only keep more, and signature tags (`sha256-<hex>.sig` and the like) follow their
 * subject instead of counting revisions. Stage 2 keeps Images that are protected, still in a history, referenced by digest anywhere,
 * not managed (unless `all`), young, children of a kept manifest list or referrers of a kept subject; the rest are deleted along with
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
    rules: compileRules(policy.rules ?? NONE),
    namespaceRules: new Map(
      Object.entries(snapshot.namespaceRules ?? {}).map(([namespace, rules]) => [
        namespace,
        compileRules(rules, namespace),
      ]),
    ),
  };
  const detail = options.detail ?? 'all';
  const sink = new ItemSink(detail === 'all', detail !== 'summary');
  const { streamUnits, history, removedBy } = decideStreams(snapshot, ctx, options.mode, sink);
  let imageStage: ImageStage = { units: [], bytes: 0, hiddenReferrers: [] };
  if (snapshot.namespace === undefined) {
    imageStage = decideImages({
      snapshot,
      images,
      policy,
      mode: options.mode,
      now,
      uses,
      history,
      removedBy,
      sink,
    });
  }
  const units: WorkUnit[] = [...streamUnits, ...imageStage.units];
  const notes = [...snapshot.notes];
  const warnings = unreadableImages(snapshot, options.mode);
  warnings.push(...imageStage.hiddenReferrers.map(hiddenReferrerWarning));
  for (const warning of warnings) {
    notes.push(
      `Image ${warning.image} cannot be read fully (${warning.reason}): ${warning.effect} ${warning.fix}`,
    );
  }
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
    warnings,
  };
}

/** What a run keeps because of an Image with unknown parts, in words. */
function unknownEffect(unknown: readonly UnknownPart[], mode: PruneMode): string {
  const held: string[] = ['the Image is kept'];
  if (unknown.includes('children')) held.push('so is every single image, which could be its unknown child');
  if (mode === 'full') {
    if (unknown.includes('layers')) held.push('no layer blob is deleted, since any could be its unknown one');
    if (unknown.includes('config')) held.push('no config blob is deleted, since any could be its own');
    if (unknown.includes('layers') || unknown.includes('config')) {
      held.push('nor a layer link of a stream whose history holds it');
    }
  }
  return `${held.join('; ')}.`;
}

/** The warning for an Image kept as a possible referrer whose subject is unknown (`subject-unknown`). */
function hiddenReferrerWarning(digest: string): PruneWarning {
  return {
    image: digest,
    reason:
      'an OCI artifact pushed by digest only: the API keeps no manifest for it and the registry serves none, so its subject is unknown',
    unknown: none<UnknownPart>(),
    effect: 'The Image is kept (it may be the signature or attestation of a kept image).',
    fix: `Push referrers with a tag or the referrers tag schema (oras and cosign do when the registry has no referrers API), or delete it once its subject is gone (\`oc delete image ${digest}\`).`,
  };
}

/** One warning per Image that could not be read fully, in digest order. */
function unreadableImages(snapshot: PruneSnapshot, mode: PruneMode): PruneWarning[] {
  const warnings: PruneWarning[] = [];
  for (const image of snapshot.images) {
    if (image.problem === undefined) continue;
    const unknown = image.unknown ?? NONE;
    warnings.push({
      image: image.digest,
      reason: image.problem,
      unknown: unknown.length === 0 ? none<UnknownPart>() : [...unknown],
      effect: unknownEffect(unknown, mode),
      fix: `Inspect it (\`oc get image ${image.digest} -o yaml\`): delete it if no stream or workload uses it (\`oc delete image ${image.digest}\`), or push the image again so the registry records it anew; the next run then prunes as usual.`,
    });
  }
  return warnings.sort((a, b) => (a.image < b.image ? -1 : a.image > b.image ? 1 : 0));
}
