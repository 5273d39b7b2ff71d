/**
 * The snapshot: one paged read of everything the plan depends on. Streams are listed before Images, so every
 * history item that existed when the streams were read finds its Image (an Image is created before its tag
 * event). Workloads come last. If any list fails the snapshot fails: a plan made from a partial view could
 * delete what the missing part uses.
 */
import type { ClusterClient, KubeObject } from '../cluster/client.js';
import { Resources, type ResourceType } from '../cluster/resources.js';
import { RegistryPushError, isRegistryPushError } from '../errors.js';
import { toSnapshotImage, toSnapshotStream, type ImageObject, type ImageStreamObject } from './objects.js';
import { ReferenceSyntaxError, parsePullSpec, resolveUse } from './references.js';
import { SNAPSHOT_SCHEMA, type ImageUse, type InvalidReference, type PruneSnapshot } from './types.js';
import { parseQuantity } from './units.js';

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

/** Options of {@link takeSnapshot}. */
export interface SnapshotOptions {
  /** From the policy: turn unparseable references into namespace protection instead of failing. */
  ignoreInvalidImageReferences?: boolean;
  /** From the policy: the annotation that protects Images and ImageStreams. */
  protectAnnotation: string;
  /** Read one namespace only; the plan then prunes tag history but deletes no Image objects. */
  namespace?: string;
  extraSources?: ExtraUseSource[];
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

  pullSpec(spec: unknown, referrer: string, namespace: string, finishedPodCreated?: string): void {
    if (spec === undefined || spec === null) return;
    if (typeof spec !== 'string') {
      this.invalid.push({ referrer, namespace, reference: JSON.stringify(spec), problem: 'not a string' });
      return;
    }
    try {
      const resolved = resolveUse(parsePullSpec(spec), namespace);
      this.uses.push({
        referrer,
        ...resolved,
        ...(finishedPodCreated !== undefined ? { finishedPodCreated } : {}),
      });
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
        this.pullSpec(container?.image, `${referrer} ${path}.${list}[${i}].image`, namespace, finished);
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
      namespace: ns,
      name: stream,
      ...(separator === ':' ? { tag: id } : { digest: id }),
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

/**
 * Reads the cluster for a prune plan: ImageStreams, then Images, then every source of image references
 * (pods with init, regular and ephemeral containers; RCs, Deployments, ReplicaSets, StatefulSets,
 * DaemonSets, Jobs, CronJobs, DeploymentConfigs with their image-change triggers; Builds and BuildConfigs
 * with their strategy `from` and `source.images`; the extra sources) and the LimitRanges. Every list is
 * paged.
 *
 * @param client Access to the cluster (the `system:image-pruner` role reads all of it).
 * @param options What to read and how to treat bad references.
 * @returns The snapshot.
 * @throws RegistryPushError `PRUNE_SNAPSHOT_INCOMPLETE` when a list fails, `PRUNE_REFERENCE_INVALID` when a
 *   reference does not parse and invalid references are not ignored, `PRUNE_IMAGE_INVALID` for an Image
 *   that cannot be read.
 */
export async function takeSnapshot(client: ClusterClient, options: SnapshotOptions): Promise<PruneSnapshot> {
  const takenAt = (options.now ?? (() => new Date()))().toISOString();
  const notes: string[] = [];
  const namespace = options.namespace;
  const list = async <T extends KubeObject>(type: ResourceType, optional = false): Promise<T[]> => {
    const source = `${type.plural}${type.apiVersion.includes('/') ? `.${type.apiVersion.split('/')[0]}` : ''}`;
    try {
      const items = await client.list<T>(type, {
        ...(namespace !== undefined ? { namespace } : {}),
        pageSize: options.pageSize ?? 500,
        onPage: (count) => options.onProgress?.({ source, items: count, done: false }),
      });
      options.onProgress?.({ source, items: items.length, done: true });
      return items;
    } catch (error) {
      if (optional && isRegistryPushError(error, 'NOT_FOUND')) {
        notes.push(`${source} is not served by this cluster; nothing there can use an image.`);
        return [];
      }
      return listFailure(source, error);
    }
  };

  const streams = await list<ImageStreamObject>(Resources.imageStream);
  // Images are cluster-scoped and always read whole: without them every history item would look dangling.
  const images = await client
    .list<ImageObject>(Resources.image, { pageSize: options.pageSize ?? 500 })
    .catch((error: unknown) => listFailure('images.image.openshift.io', error));
  const collector = new UseCollector();

  const tasks: (() => Promise<void>)[] = [
    async () => {
      for (const pod of await list<KubeObject & { spec?: unknown; status?: { phase?: string } }>(
        Resources.pod,
      )) {
        const phase = pod.status?.phase;
        const finished =
          phase === 'Succeeded' || phase === 'Failed' ? (pod.metadata.creationTimestamp ?? '') : undefined;
        collector.podSpec(
          pod.spec,
          'spec',
          referrerOf(Resources.pod, pod),
          pod.metadata.namespace ?? '',
          finished,
        );
      }
    },
    ...TEMPLATE_PATHS.map(([type, path]) => async () => {
      for (const object of await list(type, OPTIONAL_GROUPS.has(type.apiVersion))) {
        const ns = object.metadata.namespace ?? '';
        collector.podSpec(at(object, path), path, referrerOf(type, object), ns);
        if (type === Resources.deploymentConfig) {
          for (const entry of valuesAtPath(object, 'spec.triggers[].imageChangeParams.from')) {
            collector.objectReference(entry.value, `${referrerOf(type, object)} ${entry.path}`, ns);
          }
        }
      }
    }),
    ...[Resources.build, Resources.buildConfig].map((type) => async () => {
      for (const object of await list(type, true)) {
        const ns = object.metadata.namespace ?? '';
        collector.build(object, referrerOf(type, object), ns);
        if (type === Resources.buildConfig) {
          for (const entry of valuesAtPath(object, 'spec.triggers[].imageChange.from')) {
            collector.objectReference(entry.value, `${referrerOf(type, object)} ${entry.path}`, ns);
          }
        }
      }
    }),
    ...(options.extraSources ?? []).map((source) => async () => {
      for (const object of await list(source.type, source.optional === true)) {
        const ns = object.metadata.namespace ?? '';
        for (const path of source.paths) {
          for (const entry of valuesAtPath(object, path)) {
            collector.pullSpec(entry.value, `${referrerOf(source.type, object)} ${entry.path}`, ns);
          }
        }
      }
    }),
  ];
  const imageSizeLimits: Record<string, number> = {};
  tasks.push(async () => {
    for (const range of await list<KubeObject & { spec?: { limits?: unknown } }>(Resources.limitRange)) {
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
  });
  await inBatches(tasks, options.concurrency ?? 4);

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
  for (const entry of collector.invalid) {
    notes.push(
      `Namespace ${entry.namespace} is protected: ${entry.referrer} has an invalid reference "${entry.reference}".`,
    );
  }
  return {
    schema: SNAPSHOT_SCHEMA,
    takenAt,
    ...(namespace !== undefined ? { namespace } : {}),
    images: images.map((image) => toSnapshotImage(image, options.protectAnnotation)),
    streams: streams.map((stream) => toSnapshotStream(stream, options.protectAnnotation)),
    uses: collector.uses,
    invalidReferences: collector.invalid,
    imageSizeLimits,
    notes,
  };
}
