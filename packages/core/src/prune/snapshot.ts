/**
 * The snapshot: one paged read of everything the plan depends on. Streams are listed before Images, so every
 * history item that existed when the streams were read finds its Image (an Image is created before its tag
 * event). Workloads come last. If any list fails the snapshot fails: a plan made from a partial view could
 * delete what the missing part uses.
 */
import type { KubeObject, ListOptions } from '../cluster/client.js';
import { Resources, type ResourceType } from '../cluster/resources.js';
import { RegistryPushError, isRegistryPushError } from '../errors.js';
import { Interner } from './intern.js';
import { parseNamespaceRules, MAX_NAMESPACE_RULES } from './policy.js';
import {
  toSnapshotImage,
  toSnapshotStream,
  type ImageObject,
  type ImageStreamObject,
} from './image-objects.js';
import { ReferenceSyntaxError, parsePullSpec, resolveUse } from './references.js';
import {
  SNAPSHOT_SCHEMA,
  type ImageUse,
  type InvalidReference,
  type NamespaceRulesSource,
  type PrunePolicy,
  type PruneSnapshot,
  type ReferenceSource,
  type RetentionRule,
  type SnapshotImage,
  type SnapshotStream,
} from './types.js';
import { parseQuantity } from './quantities.js';

/**
 * A further source of image references, for custom resources: the kind and the field paths that hold pull
 * specs. A path is dot-separated; `[]` after a field walks every element of a list, e.g.
 * `spec.relatedImages[].image` or `spec.template.spec.containers[].image`.
 */
export interface ExtraUseSource {
  type: ResourceType;
  paths: string[];
  /** When the kind is not served (404), go on without it instead of failing. */
  optional?: boolean;
}

/** Progress of {@link takeSnapshot}. */
export interface SnapshotProgress {
  /** `imagestreams.image.openshift.io`, `pods`, … */
  source: string;
  items: number;
  done: boolean;
}

/**
 * What {@link takeSnapshot} reads the cluster through: paged lists. A `ClusterClient` is one; a
 * wrapper that paces or counts the pages (through {@link ListOptions.beforePage}) is another.
 */
export interface SnapshotSource {
  listPages<T extends KubeObject>(
    type: ResourceType,
    options: ListOptions,
    onPage: (items: T[]) => void,
  ): Promise<number>;
}

/** Options of {@link takeSnapshot}. */
export interface SnapshotOptions {
  /** From the policy: turn unparseable references into namespace protection instead of failing. */
  ignoreInvalidImageReferences?: boolean;
  /** From the policy: the annotation that protects Images and ImageStreams. */
  protectAnnotation: string;
  /** Read one namespace only; the plan then prunes tag history but deletes no Image objects. */
  namespace?: string;
  extraSources?: ExtraUseSource[];
  /**
   * From the policy: custom resources whose image references are uses. A kind the cluster does not serve
   * (404) is skipped and named in the notes.
   */
  referenceSources?: ReferenceSource[];
  /**
   * From the policy: read each namespace's own retention rules from this annotation on the Namespace and
   * this ConfigMap in it. Rules that do not parse are ignored, with a note; a list that fails stops the
   * snapshot, as any other.
   */
  namespaceRules?: NamespaceRulesSource;
  /** Items per page. Default 500. */
  pageSize?: number;
  /** Lists read at the same time. Default 4. */
  concurrency?: number;
  onProgress?: (progress: SnapshotProgress) => void;
  /** The clock (for tests). */
  now?: () => Date;
}

interface PodSpecLike {
  containers?: { image?: unknown }[] | null;
  initContainers?: { image?: unknown }[] | null;
  ephemeralContainers?: { image?: unknown }[] | null;
}

interface ObjectReference {
  kind?: string;
  name?: string;
  namespace?: string;
}

/** Where the pod template sits in each workload kind. */
const TEMPLATE_PATHS: [ResourceType, string][] = [
  [Resources.replicationController, 'spec.template.spec'],
  [Resources.deployment, 'spec.template.spec'],
  [Resources.replicaSet, 'spec.template.spec'],
  [Resources.statefulSet, 'spec.template.spec'],
  [Resources.daemonSet, 'spec.template.spec'],
  [Resources.job, 'spec.template.spec'],
  [Resources.cronJob, 'spec.jobTemplate.spec.template.spec'],
  [Resources.deploymentConfig, 'spec.template.spec'],
];

/** API groups a cluster may not serve (MicroShift, disabled capabilities): a 404 there means "none". */
const OPTIONAL_GROUPS = new Set(['apps.openshift.io/v1', 'build.openshift.io/v1']);

function at(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split('.')) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** Every value at a path with `[]` wildcards, with its concrete path (`spec.x[2].image`). */
export function valuesAtPath(value: unknown, path: string): { path: string; value: unknown }[] {
  let current: { path: string; value: unknown }[] = [{ path: '', value }];
  for (const segment of path.split('.')) {
    const walk = segment.endsWith('[]');
    const key = walk ? segment.slice(0, -2) : segment;
    const next: { path: string; value: unknown }[] = [];
    for (const entry of current) {
      if (typeof entry.value !== 'object' || entry.value === null) continue;
      const child = (entry.value as Record<string, unknown>)[key];
      const childPath = entry.path === '' ? key : `${entry.path}.${key}`;
      if (!walk) {
        if (child !== undefined) next.push({ path: childPath, value: child });
      } else if (Array.isArray(child)) {
        child.forEach((element, i) => next.push({ path: `${childPath}[${i}]`, value: element as unknown }));
      }
    }
    current = next;
  }
  return current;
}

/** How a build `from` of each stream kind splits its name: `stream:tag`, `stream@digest`. */
const FROM_SEPARATORS: Record<string, ':' | '@' | undefined> = { ImageStreamTag: ':', ImageStreamImage: '@' };

/** Collects uses and invalid references while the lists are read. */
class UseCollector {
  readonly uses: ImageUse[] = [];
  readonly invalid: InvalidReference[] = [];

  constructor(private readonly intern: Interner) {}

  pullSpec(spec: unknown, referrer: string, namespace: string, finishedPodCreated?: string): void {
    if (spec === undefined || spec === null) return;
    if (typeof spec !== 'string') {
      this.invalid.push({ referrer, namespace, reference: JSON.stringify(spec), problem: 'not a string' });
      return;
    }
    try {
      const resolved = resolveUse(parsePullSpec(spec), namespace);
      // The parts are slices of the pull spec: shared copies let the spec (and its object) go.
      const use: ImageUse = { referrer };
      if (resolved.namespace !== undefined) use.namespace = this.intern.part(resolved.namespace);
      if (resolved.name !== undefined) use.name = this.intern.part(resolved.name);
      if (resolved.tag !== undefined) use.tag = this.intern.part(resolved.tag);
      if (resolved.digest !== undefined) use.digest = this.intern.part(resolved.digest);
      if (finishedPodCreated !== undefined) use.finishedPodCreated = finishedPodCreated;
      this.uses.push(use);
    } catch (error) {
      if (!(error instanceof ReferenceSyntaxError)) throw error;
      this.invalid.push({ referrer, namespace, reference: spec, problem: error.problem });
    }
  }

  podSpec(spec: unknown, path: string, referrer: string, namespace: string, finished?: string): void {
    if (typeof spec !== 'object' || spec === null) return;
    const pod = spec as PodSpecLike;
    for (const list of ['initContainers', 'containers', 'ephemeralContainers'] as const) {
      const containers = pod[list];
      if (!Array.isArray(containers)) continue;
      containers.forEach((container, i) => {
        // Joined rather than concatenated: one flat string per use, not a chain of pieces.
        const by = [referrer, ' ', path, '.', list, '[', i, '].image'].join('');
        this.pullSpec(container?.image, by, namespace, finished);
      });
    }
  }

  /** A build's or build config's `from` (ImageStreamTag, ImageStreamImage or DockerImage). */
  objectReference(from: unknown, referrer: string, namespace: string): void {
    if (typeof from !== 'object' || from === null) return;
    const ref = from as ObjectReference;
    const ns = ref.namespace !== undefined && ref.namespace !== '' ? ref.namespace : namespace;
    const name = ref.name ?? '';
    if (ref.kind === 'DockerImage') {
      this.pullSpec(name, referrer, namespace);
      return;
    }
    const separator = FROM_SEPARATORS[ref.kind ?? ''];
    if (separator === undefined) return;
    const [stream = '', id = '', ...extra] = name.split(separator);
    if (stream === '' || id === '' || extra.length > 0) {
      this.invalid.push({
        referrer,
        namespace,
        reference: name,
        problem: `${ref.kind} name is not <stream>${separator}<id>`,
      });
      return;
    }
    this.uses.push({
      referrer,
      namespace: this.intern.part(ns),
      name: this.intern.part(stream),
      ...(separator === ':' ? { tag: this.intern.part(id) } : { digest: this.intern.part(id) }),
    });
  }

  build(object: KubeObject, referrer: string, namespace: string): void {
    const spec = (object as { spec?: unknown }).spec;
    for (const strategy of ['sourceStrategy', 'dockerStrategy', 'customStrategy']) {
      this.objectReference(
        at(spec, `strategy.${strategy}.from`),
        `${referrer} spec.strategy.${strategy}.from`,
        namespace,
      );
    }
    for (const entry of valuesAtPath(spec, 'source.images[]')) {
      this.objectReference(at(entry.value, 'from'), `${referrer} spec.${entry.path}.from`, namespace);
    }
  }
}

function referrerOf(type: ResourceType, object: KubeObject): string {
  const ns = object.metadata.namespace;
  return `${type.kind} ${ns !== undefined && ns !== '' ? `${ns}/` : ''}${object.metadata.name}`;
}

async function inBatches<T>(tasks: (() => Promise<T>)[], concurrency: number): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < tasks.length) {
      const index = next++;
      try {
        results[index] = await tasks[index]!();
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  if (failure !== undefined) throw failure instanceof Error ? failure : new Error('a list failed');
  return results;
}

function listFailure(source: string, error: unknown): never {
  throw new RegistryPushError(
    'PRUNE_SNAPSHOT_INCOMPLETE',
    `Could not list ${source}, so what uses images is not fully known; nothing was changed.`,
    {
      hint: isRegistryPushError(error, 'FORBIDDEN')
        ? 'Run as a user or service account with the system:image-pruner cluster role.'
        : 'Fix the cause below and run again.',
      cause: error,
      retryable: isRegistryPushError(error) && error.retryable,
      details: {
        resource: source,
        cause: isRegistryPushError(error) ? error.code : undefined,
        reason: error instanceof Error ? error.message : undefined,
      },
    },
  );
}

const asError = (error: unknown): Error =>
  error instanceof Error ? error : new Error('an object could not be converted');

/** What a {@link SnapshotBuilder} needs besides the objects. */
export interface SnapshotBuilderOptions {
  /** When the first list started (RFC 3339). */
  takenAt: string;
  protectAnnotation: string;
  ignoreInvalidImageReferences?: boolean;
  namespace?: string;
}

/**
 * Turns listed objects into a snapshot as they arrive, a list or a page at a time, keeping only what the
 * plan reads: the caller can drop each batch of API objects once it was added. Digests, namespaces, tag
 * names and repository parts are interned across the whole snapshot, so a value mentioned by thousands of
 * objects is held once. Errors keep the precedence of a snapshot converted at the end: unparseable
 * references (when not ignored) first, then the first object whose conversion failed.
 */
export class SnapshotBuilder {
  private readonly intern = new Interner();
  private readonly collector = new UseCollector(this.intern);
  private readonly images: SnapshotImage[] = [];
  private readonly streams: SnapshotStream[] = [];
  private readonly imageSizeLimits: Record<string, number> = {};
  private readonly notes: string[] = [];
  private imageFailure: Error | undefined;
  private streamFailure: Error | undefined;

  constructor(private readonly options: SnapshotBuilderOptions) {}

  /** Adds ImageStreams. */
  addStreams(streams: Iterable<ImageStreamObject>): void {
    if (this.streamFailure !== undefined) return;
    try {
      for (const stream of streams) {
        this.streams.push(toSnapshotStream(stream, this.options.protectAnnotation, this.intern));
      }
    } catch (error) {
      this.streamFailure = asError(error);
    }
  }

  /** Adds Images (one that cannot be read fully is marked, not refused; see `toSnapshotImage`). */
  addImages(images: Iterable<ImageObject>): void {
    if (this.imageFailure !== undefined) return;
    try {
      for (const image of images) {
        this.images.push(toSnapshotImage(image, this.options.protectAnnotation, this.intern));
      }
    } catch (error) {
      this.imageFailure = asError(error);
    }
  }

  /** Adds the image references of pods (init, regular and ephemeral containers). */
  addPods(pods: Iterable<KubeObject & { spec?: unknown; status?: { phase?: string } }>): void {
    for (const pod of pods) {
      const phase = pod.status?.phase;
      const finished =
        phase === 'Succeeded' || phase === 'Failed' ? (pod.metadata.creationTimestamp ?? '') : undefined;
      this.collector.podSpec(
        pod.spec,
        'spec',
        referrerOf(Resources.pod, pod),
        pod.metadata.namespace ?? '',
        finished,
      );
    }
  }

  /**
   * Adds the image references of a workload kind with a pod template (and the image-change triggers of
   * DeploymentConfigs).
   */
  addWorkloads(type: ResourceType, objects: Iterable<KubeObject>): void {
    const path = TEMPLATE_PATHS.find(([known]) => known === type)?.[1];
    if (path === undefined) throw new Error(`${type.kind} has no pod template`);
    for (const object of objects) {
      const ns = object.metadata.namespace ?? '';
      this.collector.podSpec(at(object, path), path, referrerOf(type, object), ns);
      if (type === Resources.deploymentConfig) {
        for (const entry of valuesAtPath(object, 'spec.triggers[].imageChangeParams.from')) {
          this.collector.objectReference(entry.value, `${referrerOf(type, object)} ${entry.path}`, ns);
        }
      }
    }
  }

  /** Adds the image references of Builds or BuildConfigs. */
  addBuilds(type: ResourceType, objects: Iterable<KubeObject>): void {
    for (const object of objects) {
      const ns = object.metadata.namespace ?? '';
      this.collector.build(object, referrerOf(type, object), ns);
      if (type === Resources.buildConfig) {
        for (const entry of valuesAtPath(object, 'spec.triggers[].imageChange.from')) {
          this.collector.objectReference(entry.value, `${referrerOf(type, object)} ${entry.path}`, ns);
        }
      }
    }
  }

  /** Adds the image references at the field paths of an extra source. */
  addExtra(source: ExtraUseSource, objects: Iterable<KubeObject>): void {
    for (const object of objects) {
      const ns = object.metadata.namespace ?? '';
      for (const path of source.paths) {
        for (const entry of valuesAtPath(object, path)) {
          this.collector.pullSpec(entry.value, `${referrerOf(source.type, object)} ${entry.path}`, ns);
        }
      }
    }
  }

  /** Adds the `openshift.io/Image` storage limits of LimitRanges. */
  addLimitRanges(ranges: Iterable<KubeObject & { spec?: { limits?: unknown } }>): void {
    const imageSizeLimits = this.imageSizeLimits;
    for (const range of ranges) {
      const ns = range.metadata.namespace ?? '';
      const limits = Array.isArray(range.spec?.limits) ? (range.spec.limits as unknown[]) : [];
      for (const limit of limits) {
        if (at(limit, 'type') !== 'openshift.io/Image') continue;
        const max = at(limit, 'max.storage');
        const bytes =
          typeof max === 'string' ? parseQuantity(max) : typeof max === 'number' ? max : undefined;
        if (bytes === undefined) continue;
        imageSizeLimits[ns] = Math.min(imageSizeLimits[ns] ?? Number.POSITIVE_INFINITY, bytes);
      }
    }
  }

  /** Adds a note for the user. */
  note(text: string): void {
    this.notes.push(text);
  }

  private readonly ownRules = new Map<
    string,
    { annotation?: RetentionRule[]; configMap?: RetentionRule[] }
  >();

  /** Reads one place of a namespace's own rules; a text that does not parse is a note, never an error. */
  private ownRulesOf(
    namespace: string,
    where: 'annotation' | 'configMap',
    text: string,
    place: string,
  ): void {
    const entry = this.ownRules.get(namespace) ?? {};
    try {
      entry[where] = parseNamespaceRules(text, where === 'annotation' ? 'annotation' : 'configmap');
      this.ownRules.set(namespace, entry);
    } catch (error) {
      const reason = isRegistryPushError(error) ? error.message : String(error);
      this.notes.push(
        `Namespace ${namespace}: its retention rules in ${place} are ignored (${reason}); the cluster's rules apply.`,
      );
    }
  }

  /** Adds the retention rules namespaces set in their annotation. */
  addNamespaceRules(namespaces: Iterable<KubeObject>, source: NamespaceRulesSource): void {
    for (const namespace of namespaces) {
      const text = namespace.metadata.annotations?.[source.annotation];
      const name = namespace.metadata.name;
      if (text !== undefined)
        this.ownRulesOf(name, 'annotation', text, `the annotation ${source.annotation}`);
    }
  }

  /** Adds the retention rules namespaces set in their ConfigMap. */
  addRuleConfigMaps(
    maps: Iterable<KubeObject & { data?: Record<string, string> }>,
    source: NamespaceRulesSource,
  ): void {
    for (const map of maps) {
      if (map.metadata.name !== source.configMap) continue;
      const namespace = map.metadata.namespace ?? '';
      const place = `ConfigMap ${source.configMap} key ${source.key}`;
      const text = map.data?.[source.key];
      if (text === undefined) {
        this.notes.push(`Namespace ${namespace}: ${place} is missing; that ConfigMap sets no rules.`);
        continue;
      }
      this.ownRulesOf(namespace, 'configMap', text, place);
    }
  }

  /** Each namespace's own rules: the annotation's, then the ConfigMap's, within the limit. */
  private namespaceRules(): Record<string, RetentionRule[]> | undefined {
    if (this.ownRules.size === 0) return undefined;
    const result: Record<string, RetentionRule[]> = {};
    for (const namespace of [...this.ownRules.keys()].sort()) {
      const entry = this.ownRules.get(namespace)!;
      const rules = [...(entry.annotation ?? []), ...(entry.configMap ?? [])];
      if (rules.length > MAX_NAMESPACE_RULES) {
        this.notes.push(
          `Namespace ${namespace}: its ${rules.length} retention rules are ignored (at most ${MAX_NAMESPACE_RULES} in the annotation and the ConfigMap together); the cluster's rules apply.`,
        );
        continue;
      }
      if (rules.length > 0) result[namespace] = rules;
    }
    return Object.keys(result).length > 0 ? result : undefined;
  }

  /**
   * The snapshot of everything added.
   *
   * @returns The snapshot.
   * @throws RegistryPushError `PRUNE_REFERENCE_INVALID` when a reference does not parse and invalid
   *   references are not ignored. An Image that cannot be read fully is not an error: it is marked (see
   *   `toSnapshotImage`) and the plan keeps it and reports it.
   */
  finish(): PruneSnapshot {
    const { collector, notes, options } = this;
    if (collector.invalid.length > 0 && options.ignoreInvalidImageReferences !== true) {
      const shown = collector.invalid
        .slice(0, 5)
        .map((entry) => `${entry.referrer}: "${entry.reference}" (${entry.problem})`)
        .join('; ');
      const more = collector.invalid.length > 5 ? ` and ${collector.invalid.length - 5} more` : '';
      throw new RegistryPushError(
        'PRUNE_REFERENCE_INVALID',
        `${collector.invalid.length} image reference(s) cannot be parsed, so what they use is unknown; nothing was changed: ${shown}${more}.`,
        {
          hint: 'Fix the references, or set ignoreInvalidImageReferences to protect every stream in their namespaces instead.',
          details: { count: collector.invalid.length },
        },
      );
    }
    const failure = this.imageFailure ?? this.streamFailure;
    if (failure !== undefined) throw failure;
    for (const entry of collector.invalid) {
      notes.push(
        `Namespace ${entry.namespace} is protected: ${entry.referrer} has an invalid reference "${entry.reference}".`,
      );
    }
    const namespaceRules = this.namespaceRules();
    return {
      schema: SNAPSHOT_SCHEMA,
      takenAt: options.takenAt,
      ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
      images: this.images,
      streams: this.streams,
      uses: collector.uses,
      invalidReferences: collector.invalid,
      imageSizeLimits: this.imageSizeLimits,
      notes,
      ...(namespaceRules !== undefined ? { namespaceRules } : {}),
    };
  }
}

/**
 * The snapshot options a policy's reference sources and namespace rules call for (none when it has
 * neither), to spread into {@link SnapshotOptions}.
 */
export function snapshotSourcesOf(
  policy: Pick<PrunePolicy, 'referenceSources' | 'namespaceRules'>,
): Pick<SnapshotOptions, 'referenceSources' | 'namespaceRules'> {
  return {
    ...(policy.referenceSources !== undefined ? { referenceSources: policy.referenceSources } : {}),
    ...(policy.namespaceRules !== undefined ? { namespaceRules: policy.namespaceRules } : {}),
  };
}

/** A reference source of the policy as the snapshot reads it: optional (a kind not served is skipped). */
export function extraSourceOf(source: ReferenceSource): ExtraUseSource {
  return {
    type: {
      apiVersion: `${source.group}/${source.version}`,
      kind: source.kind,
      plural: source.resource,
      namespaced: source.namespaced,
    },
    paths: source.paths,
    optional: true,
  };
}

type Read = <T extends KubeObject>(
  type: ResourceType,
  add: (items: Iterable<T>) => void,
  optional?: boolean,
  selector?: Pick<ListOptions, 'fieldSelector'>,
) => Promise<void>;

/** The reads of namespaces' own rules: the Namespaces, and the ConfigMaps of the one name. */
function namespaceRuleReads(
  options: SnapshotOptions,
  read: Read,
  builder: SnapshotBuilder,
): (() => Promise<void>)[] {
  const source = options.namespaceRules;
  if (source === undefined) return [];
  return [
    () =>
      read(
        Resources.namespace,
        (page) => builder.addNamespaceRules(page, source),
        false,
        options.namespace !== undefined ? { fieldSelector: `metadata.name=${options.namespace}` } : {},
      ),
    () =>
      read<KubeObject & { data?: Record<string, string> }>(
        Resources.configMap,
        (page) => builder.addRuleConfigMaps(page, source),
        false,
        { fieldSelector: `metadata.name=${source.configMap}` },
      ),
  ];
}

/** Hands out the items of a list one by one, letting go of each as it goes (the list ends up empty). */
function* drain<T>(items: T[]): Generator<T> {
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as T;
    (items as (T | undefined)[])[i] = undefined;
    yield item;
  }
  items.length = 0;
}

/**
 * Reads the cluster for a prune plan: ImageStreams, then Images, then every source of image references
 * (pods with init, regular and ephemeral containers; RCs, Deployments, ReplicaSets, StatefulSets,
 * DaemonSets, Jobs, CronJobs, DeploymentConfigs with their image-change triggers; Builds and BuildConfigs
 * with their strategy `from` and `source.images`; the extra sources) and the LimitRanges. Every list is
 * paged, and converted to the snapshot's form as soon as it is read, so the API objects of one list are let
 * go before the next ones arrive.
 *
 * @param client Access to the cluster (the `system:image-pruner` role reads all of it).
 * @param options What to read and how to treat bad references.
 * @returns The snapshot.
 * @throws RegistryPushError `PRUNE_SNAPSHOT_INCOMPLETE` when a list fails, `PRUNE_REFERENCE_INVALID` when a
 *   reference does not parse and invalid references are not ignored.
 */
export async function takeSnapshot(client: SnapshotSource, options: SnapshotOptions): Promise<PruneSnapshot> {
  // Images stream in page by page (never held whole); if their continue token expires mid-way the
  // snapshot starts over, so it is always one consistent listing.
  for (let attempt = 1; ; attempt++) {
    try {
      return await snapshotOnce(client, options);
    } catch (error) {
      if (!isRegistryPushError(error, 'GONE') || attempt >= SNAPSHOT_RESTARTS) throw error;
    }
  }
}

/** How often a snapshot starts over when the Image list's continue token expires. */
const SNAPSHOT_RESTARTS = 3;

async function snapshotOnce(client: SnapshotSource, options: SnapshotOptions): Promise<PruneSnapshot> {
  const takenAt = (options.now ?? (() => new Date()))().toISOString();
  const namespace = options.namespace;
  const builder = new SnapshotBuilder({
    takenAt,
    protectAnnotation: options.protectAnnotation,
    ...(options.ignoreInvalidImageReferences !== undefined
      ? { ignoreInvalidImageReferences: options.ignoreInvalidImageReferences }
      : {}),
    ...(namespace !== undefined ? { namespace } : {}),
  });
  // Every list is read page by page and each page converted and let go at once, so no raw list is ever
  // held whole (50k Pods as client objects alone would take hundreds of MiB). A list that fails ends the
  // snapshot; one whose continue token expires (410) starts the whole snapshot over (see takeSnapshot).
  const read = async <T extends KubeObject>(
    type: ResourceType,
    add: (items: Iterable<T>) => void,
    optional = false,
    selector: Pick<ListOptions, 'fieldSelector'> = {},
  ): Promise<void> => {
    const source = `${type.plural}${type.apiVersion.includes('/') ? `.${type.apiVersion.split('/')[0]}` : ''}`;
    try {
      const count = await client.listPages<T>(
        type,
        {
          ...(namespace !== undefined && type.namespaced ? { namespace } : {}),
          ...selector,
          pageSize: options.pageSize ?? 500,
          onPage: (items) => options.onProgress?.({ source, items, done: false }),
        },
        (page) => add(drain(page)),
      );
      options.onProgress?.({ source, items: count, done: true });
    } catch (error) {
      if (isRegistryPushError(error, 'GONE')) throw error;
      if (optional && isRegistryPushError(error, 'NOT_FOUND')) {
        builder.note(`${source} is not served by this cluster; nothing there can use an image.`);
        return;
      }
      listFailure(source, error);
    }
  };

  await read<ImageStreamObject>(Resources.imageStream, (page) => builder.addStreams(page));
  // Images are cluster-scoped and always read completely: without them every history item would look
  // dangling.
  await read<ImageObject>(Resources.image, (page) => builder.addImages(page));

  const tasks: (() => Promise<void>)[] = [
    () =>
      read<KubeObject & { spec?: unknown; status?: { phase?: string } }>(Resources.pod, (page) =>
        builder.addPods(page),
      ),
    ...TEMPLATE_PATHS.map(
      ([type]) =>
        () =>
          read(type, (page) => builder.addWorkloads(type, page), OPTIONAL_GROUPS.has(type.apiVersion)),
    ),
    ...[Resources.build, Resources.buildConfig].map(
      (type) => () => read(type, (page) => builder.addBuilds(type, page), true),
    ),
    ...[...(options.extraSources ?? []), ...(options.referenceSources ?? []).map(extraSourceOf)].map(
      (source) => () => read(source.type, (page) => builder.addExtra(source, page), source.optional === true),
    ),
    ...namespaceRuleReads(options, read, builder),
    () =>
      read<KubeObject & { spec?: { limits?: unknown } }>(Resources.limitRange, (page) =>
        builder.addLimitRanges(page),
      ),
  ];
  await inBatches(tasks, options.concurrency ?? 4);
  return builder.finish();
}
