/**
 * The data the prune engine passes between its steps: the snapshot of the cluster, the plan, the work units
 * and the results. Every type here is plain JSON (strings, numbers, booleans, arrays, records), so a plan
 * can be stored, sent to a queue and read back by another process without loss. The `schema` strings are
 * the compatibility promise: a reader refuses a document whose schema it does not know.
 */

/** Schema identifier of a {@link PruneSnapshot}. */
export const SNAPSHOT_SCHEMA = 'registry-push.prune-snapshot/v1';
/** Schema identifier of a {@link PrunePlan}. */
export const PLAN_SCHEMA = 'registry-push.prune-plan/v1';
/** Schema identifier of a {@link PruneRunResult}. */
export const RESULT_SCHEMA = 'registry-push.prune-result/v1';

/** `full`: API objects and registry storage. `metadata`: Images and ImageStreams only; the registry is never contacted. */
export type PruneMode = 'full' | 'metadata';

// ---------------------------------------------------------------------------------------------- snapshot

/** One blob an image needs, with its compressed size in bytes. */
export interface SnapshotBlob {
  digest: string;
  size: number;
}

/** What the engine needs to know about one Image object. */
export interface SnapshotImage {
  /** The Image name, which is its manifest digest. */
  digest: string;
  /** `metadata.creationTimestamp` (RFC 3339). */
  created: string;
  /** Annotated `openshift.io/image.managed=true`: pushed to the integrated registry. */
  managed: boolean;
  /** Carries the protect annotation of the policy; never deleted, nor its history items. */
  protected: boolean;
  mediaType: string;
  /** Layer blobs, base first; empty for manifest lists. */
  layers: SnapshotBlob[];
  /** The config blob of a schema 2 or OCI manifest; absent for manifest lists and schema 1. */
  config?: SnapshotBlob;
  /** Digests of the child manifests of a manifest list or OCI index. */
  manifests: string[];
  /** `dockerImageMetadata.Size`: config plus unique layers, in bytes (0 when unknown). */
  size: number;
  /**
   * The digest in the manifest's `subject` field (an OCI referrer: a signature, attestation or SBOM
   * attached to another image), when the snapshot could read it. Such an Image follows its subject.
   */
  subject?: string;
  /**
   * Set when the Image may be an OCI referrer whose `subject` cannot be read (an artifact pushed by digest:
   * the API dropped its manifest). Such an Image is kept unless a list or history accounts for it.
   */
  subjectHidden?: true;
  /**
   * Why the Image could not be read completely (absent when it could). Such an Image is kept and reported
   * (see {@link PruneWarning}); what could be read of it still counts.
   */
  problem?: string;
  /** What of it is unknown because of {@link problem}; the plan keeps whatever that could be. */
  unknown?: UnknownPart[];
}

/**
 * A part of an Image that could not be read: `layers` (a layer digest, or the whole list, is missing),
 * `config` (the config blob's digest is missing, or the media type that says whether there is one),
 * `children` (a child manifest digest of a manifest list is missing).
 */
export type UnknownPart = 'layers' | 'config' | 'children';

/** An Image the plan could not read completely: kept, with what that holds back and the fix. */
export interface PruneWarning {
  /** The Image name. */
  image: string;
  /** What is wrong with it. */
  reason: string;
  /** What is unknown because of it. */
  unknown: UnknownPart[];
  /** What the run keeps because of it, in words. */
  effect: string;
  /** What to do. */
  fix: string;
}

/** One entry of `status.tags[].items`. */
export interface SnapshotTagEvent {
  created: string;
  /** The image digest. */
  image: string;
  dockerImageReference: string;
}

/** The history of one tag, newest item first (item index = revision). */
export interface SnapshotTag {
  tag: string;
  items: SnapshotTagEvent[];
}

/** What the engine needs to know about one ImageStream. */
export interface SnapshotStream {
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
  created: string;
  /** Carries the protect annotation of the policy: none of its history is removed. */
  protected: boolean;
  tags: SnapshotTag[];
}

/**
 * One image reference found in the cluster, already resolved to what it can protect: a tag of a stream
 * (`namespace/name:tag`), an image of a stream (`namespace/name@digest`) and, for any digest reference, the
 * Image object of that digest wherever it is.
 */
export interface ImageUse {
  /** Who refers to it, e.g. `Pod demo/web-1 spec.containers[0].image`. */
  referrer: string;
  /** The stream the reference points at, when it has the `namespace/name` form (the host is ignored, as oc does). */
  namespace?: string;
  name?: string;
  tag?: string;
  digest?: string;
  /** Set for pods that finished (Succeeded or Failed): the use counts only while the pod is young. */
  finishedPodCreated?: string;
}

/** A reference that could not be parsed. */
export interface InvalidReference {
  referrer: string;
  namespace: string;
  reference: string;
  problem: string;
}

/**
 * Everything the plan is computed from: a consistent read of the cluster, taken once. A snapshot from
 * `takeSnapshot` shares equal values (one frozen blob record per layer, one empty child list): read-only.
 */
export interface PruneSnapshot {
  schema: typeof SNAPSHOT_SCHEMA;
  /** When the first list started (RFC 3339). */
  takenAt: string;
  /** A namespace-scoped snapshot prunes tag history only; Image objects are never deleted from it. */
  namespace?: string;
  images: SnapshotImage[];
  streams: SnapshotStream[];
  uses: ImageUse[];
  /**
   * References that could not be parsed, kept because `ignoreInvalidImageReferences` was set: each one
   * protects every stream of its namespace.
   */
  invalidReferences: InvalidReference[];
  /** The smallest `openshift.io/Image` `max.storage` of each namespace's LimitRanges, in bytes. */
  imageSizeLimits: Record<string, number>;
  /** Things worth telling the user (an API group that is not served, for instance). */
  notes: string[];
  /**
   * Each namespace's own retention rules, read from its annotation and ConfigMap when the policy turns
   * them on (see {@link NamespaceRulesSource}); only namespaces with valid rules are listed.
   */
  namespaceRules?: Record<string, RetentionRule[]>;
}

// ---------------------------------------------------------------------------------------------- policy

/** Per-namespace changes to the policy. */
export interface NamespacePolicy {
  /** Leave the namespace's streams alone altogether. */
  exclude?: boolean;
  keepTagRevisions?: number;
  /** Milliseconds. */
  keepYoungerThanMs?: number;
}

/**
 * One retention rule: which history items it is about (regular expressions on the namespace, the stream
 * name and the tag; absent means any), and which of those it keeps. Exactly one `keep…` field is set.
 * Rules that select an item are OR-ed: the item is kept when any of them keeps it.
 */
export interface RetentionRule {
  /** How the plan names the rule: its `name`, else where it was written (`rules[0]`). */
  label: string;
  namespace?: string;
  stream?: string;
  tag?: string;
  /** Keep the N history items of the selected tags pushed last, per stream (newest `created` first). */
  keepLast?: number;
  /** Keep the selected items pushed within this many milliseconds before `now`. */
  keepWithinMs?: number;
  /** Keep the current image (revision 0) of each selected tag whose name matches this expression. */
  keepTags?: string;
}

/** Where namespaces write their own rules (see `resolvePrunePolicy`'s `namespaceRules`). */
export interface NamespaceRulesSource {
  /** Annotation on the Namespace holding a JSON list of rules. */
  annotation: string;
  /** Name of a ConfigMap in the namespace whose {@link key} holds a JSON list of rules. */
  configMap: string;
  key: string;
}

/**
 * A further source of image references: a custom resource kind and the field paths holding pull specs.
 * Served or not: a kind the cluster does not serve (404) is skipped and named in the plan's notes.
 */
export interface ReferenceSource {
  /** The preset it came from (`tekton`, …), absent for one written out. */
  preset?: string;
  group: string;
  version: string;
  /** The plural resource name (`taskruns`). */
  resource: string;
  /** The kind, for the plan's referrers. */
  kind: string;
  namespaced: boolean;
  /** Dot-separated paths; `[]` after a field walks a list (`spec.steps[].image`). */
  paths: string[];
}

/** The validated policy the plan applies (see `resolvePrunePolicy`). */
export interface PrunePolicy {
  /** History items kept per tag, counting from the newest (revision 0). */
  keepTagRevisions: number;
  /** Anything created less than this many milliseconds before `now` is kept. */
  keepYoungerThanMs: number;
  ignoreInvalidImageReferences: boolean;
  /** Delete history items whose image exceeds its namespace's LimitRange instead of counting revisions. */
  pruneOverSizeLimit: boolean;
  /** Also delete Image objects that the integrated registry does not manage (imported ones). */
  all: boolean;
  /** Only tags whose name matches this regular expression are pruned (source text; all when absent). */
  tagInclude?: string;
  /** Tags whose name matches this regular expression are never pruned (source text). */
  tagExclude?: string;
  /** Annotation key that protects an Image or an ImageStream when set to `"true"`. */
  protectAnnotation: string;
  namespaces: Record<string, NamespacePolicy>;
  /**
   * Cluster retention rules; absent or empty: the ImagePruner's `keepTagRevisions` alone decides. For the
   * items a rule selects, the rules replace the revision count.
   */
  rules?: RetentionRule[];
  /** When set, namespaces may add rules of their own here, which can only keep more. */
  namespaceRules?: NamespaceRulesSource;
  /** Custom resources whose image references count as uses. */
  referenceSources?: ReferenceSource[];
}

// ---------------------------------------------------------------------------------------------- plan

/** What a plan item is about. */
export type PlanItemKind =
  'tag-history' | 'stream-update' | 'manifest-link' | 'layer-link' | 'blob' | 'image';

/** The rule that decided an item (stable identifiers, documented in the README). */
export type PlanRule =
  // keep
  | 'namespace-excluded'
  | 'namespace-invalid-reference'
  | 'stream-protected'
  | 'stream-young'
  | 'tag-not-selected'
  | 'young'
  | 'tag-in-use'
  | 'image-protected'
  | 'within-tag-revisions'
  | 'within-size-limit'
  | 'image-in-use'
  | 'in-stream-history'
  | 'manifest-list-child'
  | 'referenced-by-digest'
  | 'not-managed'
  | 'namespace-scoped-run'
  | 'blob-shared'
  | 'link-still-referenced'
  | 'image-unreadable'
  | 'blob-identity-unknown'
  | 'possible-list-child'
  | 'retention-rule'
  | 'namespace-retention-rule'
  | 'subject-kept'
  | 'subject-unknown'
  // delete
  | 'dangling'
  | 'beyond-tag-revisions'
  | 'over-size-limit'
  | 'unreferenced'
  | 'history-removed'
  | 'link-unreferenced'
  | 'blob-unreferenced'
  | 'beyond-retention-rules'
  | 'subject-pruned';

/** One decision of the plan. */
export interface PlanItem {
  /** Stable identifier, e.g. `tag:demo/web:latest#2`, `blob:sha256:…`. */
  id: string;
  kind: PlanItemKind;
  /** `update` is used only by `stream-update` items. */
  action: 'keep' | 'delete' | 'update';
  rule: PlanRule;
  /** Who or what made the rule apply (a pod, a tag, a parent manifest list), when there is one. */
  referrer?: string;
  /** Bytes of registry storage freed if the item is deleted (blobs only; 0 otherwise). */
  bytes: number;
  /** `namespace/name` of the stream (history items, stream updates, links). */
  stream?: string;
  tag?: string;
  revision?: number;
  /** The image, manifest or blob digest. */
  digest?: string;
  /** Work unit that carries out a delete or update. */
  unit?: string;
}

/** One tag event to remove from a stream. */
export interface HistoryRemoval {
  tag: string;
  image: string;
  /** The item's `created`, so a later event for the same image is never removed by mistake. */
  created: string;
  /**
   * Where the item was when planned: the tag's index in `status.tags`, the item's index in its history,
   * and how many items that history had. With the stream's {@link StreamUnit.resourceVersion} it lets the
   * executor remove the items with one guarded patch instead of a read and a replace.
   */
  position?: [tag: number, item: number, itemsInTag: number];
}

/** A blob deletion, with the other planned image deletions that use the same blob. */
export interface BlobDeletion {
  digest: string;
  size: number;
  /** Other images this plan deletes that reference the blob too. */
  sharedWith: string[];
}

/** Phase 1: trim one stream's history, then (full mode) delete the repository links nothing uses any more. */
export interface StreamUnit {
  type: 'stream';
  id: string;
  namespace: string;
  name: string;
  /** The stream must still have this UID: a stream deleted and created again is left alone. */
  uid: string;
  /** The stream's resourceVersion when planned (see {@link HistoryRemoval.position}). */
  resourceVersion?: string;
  removals: HistoryRemoval[];
  /** Manifest links to delete from the repository after the status update (full mode). */
  manifestLinks: string[];
  /** Layer links to delete from the repository after the status update (full mode). */
  layerLinks: string[];
}

/** Phase 2: delete one Image object, after its blobs (full mode). Runs after every stream unit. */
export interface ImageUnit {
  type: 'image';
  id: string;
  digest: string;
  /** Stream units whose success this image's deletion relies on. */
  dependsOn: string[];
  /** Manifest lists this plan also deletes that name this image as a child. */
  parents: string[];
  blobs: BlobDeletion[];
}

/** A unit of work; JSON, self-contained, safe to run again. Read-only: empty lists are one shared frozen list. */
export type WorkUnit = StreamUnit | ImageUnit;

/** Counts of a plan. */
export interface PlanSummary {
  /** `kind → action → count`. */
  counts: Partial<Record<PlanItemKind, Partial<Record<PlanItem['action'], number>>>>;
  /** Bytes the registry frees when the plan runs (full mode). */
  bytesFreed: number;
  /** Rules by number of items they decided, most first. */
  reasons: { rule: PlanRule; action: PlanItem['action']; count: number }[];
  /**
   * History items each retention rule kept (its `referrer` text → count), cluster and namespace rules;
   * absent when no such rule kept anything.
   */
  retention?: Record<string, number>;
}

/** What a run would do and why. */
export interface PrunePlan {
  schema: typeof PLAN_SCHEMA;
  /** Content hash of the units, mode and time: identifies the plan for queues and result logs. */
  id: string;
  mode: PruneMode;
  /** The `now` the plan was computed for. */
  now: string;
  snapshotTakenAt: string;
  namespace?: string;
  policy: PrunePolicy;
  items: PlanItem[];
  /** Phase 1 (type `stream`) first, then phase 2 (type `image`). */
  units: WorkUnit[];
  summary: PlanSummary;
  notes: string[];
  /**
   * Images that could not be read completely, each kept, with what it holds back and the fix. Absent in
   * plans of earlier versions; every such Image is also named in {@link notes}.
   */
  warnings?: PruneWarning[];
}

// ---------------------------------------------------------------------------------------------- results

/** What happened to one item when a plan ran. */
export type ItemOutcome = 'deleted' | 'updated' | 'absent' | 'skipped' | 'failed' | 'blocked' | 'dry-run';

/** One line of the result log. */
export interface ItemResult {
  unit: string;
  kind: PlanItemKind;
  /** `namespace/name`, a digest, or `namespace/name@digest` for links. */
  target: string;
  outcome: ItemOutcome;
  /** Why it was skipped or blocked. */
  reason?: string;
  error?: { code: string; message: string };
  attempts: number;
  bytes: number;
  at: string;
}

/** How a unit ended. */
export type UnitStatus = 'done' | 'failed' | 'blocked' | 'skipped' | 'dry-run';

/** The outcome of one unit. */
export interface UnitResult {
  unit: string;
  status: UnitStatus;
  items: ItemResult[];
}

/** Counts of a run. */
export interface RunSummary {
  /** `kind → outcome → count`. */
  counts: Partial<Record<PlanItemKind, Partial<Record<ItemOutcome, number>>>>;
  bytesFreed: number;
  /** Error codes by number of failed items. */
  errors: Record<string, number>;
}

/** The log of one run of a plan. */
export interface PruneRunResult {
  schema: typeof RESULT_SCHEMA;
  planId: string;
  mode: PruneMode;
  dryRun: boolean;
  startedAt: string;
  finishedAt: string;
  units: UnitResult[];
  summary: RunSummary;
}
