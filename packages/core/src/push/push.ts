import { RegistryPushError } from '../errors.js';
import { validateUsername } from '../login/token.js';
import { RegistryClient, type RegistryClientOptions } from '../registry/client.js';
import type { BlobOutcome, RegistryApi } from '../ports/registry-api.js';
import { formatReference, parseOpenShiftTarget, parseReference, validateTag } from '../registry/reference.js';
import {
  loadImage,
  parseSource,
  TOOL_ONLY_TRANSPORTS,
  type LoadedImage,
  type SourceReference,
} from './sources.js';
import { pushWithTool, type PushTool, type ToolPushOptions } from './tool-push.js';

/** The in-cluster address of the integrated registry, for pull specs that pods use. */
export const INTERNAL_REGISTRY = 'image-registry.openshift-image-registry.svc:5000';

/** What a push reports while it runs. */
export type PushEvent =
  | { kind: 'loaded'; description: string; blobs: number; bytes: number; manifests: number }
  | { kind: 'blob-start'; digest: string; size: number }
  | { kind: 'blob-progress'; digest: string; sent: number; total: number }
  | { kind: 'blob-done'; digest: string; size: number; outcome: BlobOutcome }
  | { kind: 'manifest'; reference: string; digest: string }
  | { kind: 'retry'; action: string; attempt: number; delayMs: number; reason: string };

/** Options of {@link pushImage}. */
export interface PushOptions {
  /** `oci:DIR[:REF]`, `oci-archive:FILE[:REF]`, `docker-archive:FILE[:REF]`, `containers-storage:IMG`, `docker-daemon:IMG`. */
  source: string;
  /** `host/project/name[:tag]` for OpenShift (`openshift: true`, the default), or any `host/path[:tag]`. */
  target: string;
  /** Tags to write (one upload, one manifest PUT each); default the target's tag, else `latest`. */
  tags?: readonly string[];
  /** Whether the target is the OpenShift integrated registry (path must be PROJECT/NAME). Default true. */
  openshift?: boolean;
  /** How to reach and authenticate to the registry (`host` is taken from the target). */
  connection?: Omit<RegistryClientOptions, 'host'>;
  /**
   * The registry port to push through, made from the connection options (with `host` and `onRetry` set).
   * Default: the OCI client, `new RegistryClient(options)`. Closed when the push ends.
   */
  registry?: (options: RegistryClientOptions) => RegistryApi;
  /** Uploads in flight at once (default 4). */
  concurrency?: number;
  /** Repositories on the same registry to mount blobs from before uploading them. */
  mountFrom?: readonly string[];
  /** `native` (default) or a tool for sources only tools read; `containers-storage:`/`docker-daemon:` need one. */
  tool?: 'native' | PushTool;
  /** For the tool path: the auth file and cert dir from login and trust. */
  toolOptions?: Pick<ToolPushOptions, 'authFile' | 'certDir' | 'retries' | 'runner'>;
  onEvent?: (event: PushEvent) => void;
  signal?: AbortSignal;
}

/** One tag written. */
export interface PushedRef {
  tag: string;
  /** `host/project/name:tag` */
  reference: string;
  /** The digest the registry confirmed for this tag. */
  digest: string;
}

/** The outcome of {@link pushImage}. */
export interface PushResult {
  /** `host/project/name` */
  image: string;
  digest: string;
  mediaType: string;
  refs: PushedRef[];
  /** `image-registry.openshift-image-registry.svc:5000/<project>/<name>@<digest>` (OpenShift targets). */
  internalRef?: string;
  blobs: { uploaded: number; mounted: number; existing: number; bytesUploaded: number };
  via: 'native' | PushTool;
  durationMs: number;
}

function targetOf(options: PushOptions): { host: string; repository: string; tags: string[] } {
  const openshift = options.openshift ?? true;
  const parsed = openshift ? parseOpenShiftTarget(options.target) : parseReference(options.target);
  if (parsed.digest !== undefined) {
    throw new RegistryPushError(
      'REFERENCE_INVALID',
      `The target ${options.target} names a digest; push to tags.`,
    );
  }
  const tags = [...(options.tags ?? []), ...(parsed.tag === undefined ? [] : [parsed.tag])];
  const unique = [...new Set(tags.length === 0 ? ['latest'] : tags)].map(validateTag);
  return { host: parsed.host, repository: parsed.repository, tags: unique };
}

/** Run `work` over `items` with at most `limit` at once; the first failure stops new work and is thrown (pull and copy share it). */
export async function boundedAll<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  });
  const results = await Promise.allSettled(runners);
  const rejected = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (rejected !== undefined) throw rejected.reason;
}

/** Blobs up to this size go up first, whatever the order of the rest. */
const TINY_BLOB = 64 * 1024;

async function uploadBlobs(
  client: RegistryApi,
  repository: string,
  image: LoadedImage,
  options: PushOptions,
  counts: PushResult['blobs'],
): Promise<void> {
  const emit = options.onEvent;
  // Tiny blobs (configs, empty layers) first: a round trip each, done before a slot is missed; then the
  // largest first, so the long uploads start at once and the smaller ones fill the gaps. A tiny blob left
  // for last would wait for a large upload to free a slot and add its round trips after it.
  const tiny = (size: number): number => (size <= TINY_BLOB ? 0 : 1);
  const blobs = [...image.blobs.entries()].sort(
    ([, a], [, b]) => tiny(a.size) - tiny(b.size) || b.size - a.size,
  );
  await boundedAll(blobs, options.concurrency ?? 4, async ([digest, blob]) => {
    emit?.({ kind: 'blob-start', digest, size: blob.size });
    const outcome = await client.pushBlob(repository, { digest, size: blob.size }, blob.source, {
      ...(options.mountFrom === undefined ? {} : { mountFrom: options.mountFrom }),
      ...(emit === undefined
        ? {}
        : { onProgress: (progress) => emit({ kind: 'blob-progress', ...progress }) }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    if (outcome === 'uploaded') {
      counts.uploaded++;
      counts.bytesUploaded += blob.size;
    } else if (outcome === 'mounted') counts.mounted++;
    else counts.existing++;
    emit?.({ kind: 'blob-done', digest, size: blob.size, outcome });
  });
}

interface PushContext {
  options: PushOptions;
  client: RegistryApi;
  host: string;
  repository: string;
  tags: readonly string[];
  counts: PushResult['blobs'];
}

interface Pushed {
  digest: string;
  mediaType: string;
  refs: PushedRef[];
}

function pushedRef(context: PushContext, tag: string, digest: string): PushedRef {
  const reference = formatReference({ host: context.host, repository: context.repository, tag });
  context.options.onEvent?.({ kind: 'manifest', reference, digest });
  return { tag, reference, digest };
}

async function nativePush(context: PushContext, source: SourceReference): Promise<Pushed> {
  const { client, repository, options } = context;
  if (TOOL_ONLY_TRANSPORTS.includes(source.transport)) {
    throw new RegistryPushError(
      'OPTION_INVALID',
      `The native push cannot read ${source.transport}: sources.`,
      {
        hint: 'Choose push-tool skopeo (or podman, buildah, docker) for images in a local container store, or export the image with podman save / docker save.',
      },
    );
  }
  const image = await loadImage(source);
  const bytes = [...image.blobs.values()].reduce((sum, blob) => sum + blob.size, 0);
  options.onEvent?.({
    kind: 'loaded',
    description: image.description,
    blobs: image.blobs.size,
    bytes,
    manifests: image.children.length + 1,
  });
  await uploadBlobs(client, repository, image, options, context.counts);
  for (const child of image.children) {
    await client.putManifest(repository, child.digest, child.mediaType, child.bytes, options.signal);
  }
  const refs: PushedRef[] = [];
  for (const tag of context.tags) {
    const confirmed = await client.putManifest(
      repository,
      tag,
      image.root.mediaType,
      image.root.bytes,
      options.signal,
    );
    refs.push(pushedRef(context, tag, confirmed));
  }
  return { digest: image.root.digest, mediaType: image.root.mediaType, refs };
}

async function toolPush(context: PushContext, source: SourceReference, tool: PushTool): Promise<Pushed> {
  const { client, host, repository, options } = context;
  const [first, ...others] = context.tags as [string, ...string[]];
  const pushed = await pushWithTool(tool, {
    source,
    destination: `${host}/${repository}:${first}`,
    tlsVerify: options.connection?.tlsVerify ?? true,
    ...options.toolOptions,
  });
  // Trust the registry, not the tool: the tag must exist and hold what the tool says it pushed.
  const found = await client.headManifest(repository, first, options.signal);
  if (found === undefined) {
    throw new RegistryPushError(
      'PUSH_TOOL_FAILED',
      `${tool} reported success but ${host}/${repository}:${first} is not in the registry.`,
    );
  }
  if (pushed.digest !== undefined && pushed.digest !== found.digest) {
    throw new RegistryPushError(
      'PUSH_TOOL_FAILED',
      `${tool} pushed ${pushed.digest} but the tag now points at ${found.digest}: another push raced this one.`,
      { hint: 'Push again; avoid two pipelines writing the same tag at once.' },
    );
  }
  const refs = [pushedRef(context, first, found.digest)];
  if (others.length > 0) {
    // Further tags are manifest PUTs of the same bytes: no second upload through the tool.
    const manifest = await client.getManifest(repository, found.digest, options.signal);
    if (manifest === undefined) {
      throw new RegistryPushError(
        'REGISTRY_MANIFEST_UNKNOWN',
        `${host}/${repository}@${found.digest} vanished right after the push.`,
      );
    }
    for (const tag of others) {
      const confirmed = await client.putManifest(
        repository,
        tag,
        manifest.mediaType,
        manifest.bytes,
        options.signal,
      );
      refs.push(pushedRef(context, tag, confirmed));
    }
  }
  return { digest: found.digest, mediaType: found.mediaType, refs };
}

function clientFor(options: PushOptions, host: string): RegistryApi {
  const connection = options.connection ?? {};
  const open = options.registry ?? ((clientOptions) => new RegistryClient(clientOptions));
  return open({
    ...connection,
    host,
    onRetry: (event) => {
      connection.onRetry?.(event);
      options.onEvent?.({
        kind: 'retry',
        action: event.action,
        attempt: event.attempt,
        delayMs: event.delayMs,
        reason: event.error instanceof Error ? event.error.message : String(event.error),
      });
    },
  });
}

/**
 * Push build output to a registry. Natively (the default) it streams each blob from disk once, verifying
 * its digest on the way, skips blobs the registry has, mounts what another repository has, uploads the
 * rest in parallel, and writes manifests last (children of an index first), so a failed push never leaves
 * a tag pointing at something incomplete. Several tags cost one upload and one manifest PUT each.
 */
export async function pushImage(options: PushOptions): Promise<PushResult> {
  const started = Date.now();
  const { host, repository, tags } = targetOf(options);
  const source = parseSource(options.source);
  const tool = options.tool ?? 'native';
  // The registry would only answer 401 to a username with ':' (it splits user:password at the first one).
  const credentials = options.connection?.credentials;
  if (credentials?.kind === 'basic') validateUsername(credentials.username);
  const client = clientFor(options, host);
  const context: PushContext = {
    options,
    client,
    host,
    repository,
    tags,
    counts: { uploaded: 0, mounted: 0, existing: 0, bytesUploaded: 0 },
  };
  try {
    const pushed =
      tool === 'native' ? await nativePush(context, source) : await toolPush(context, source, tool);
    return {
      image: `${host}/${repository}`,
      ...pushed,
      ...((options.openshift ?? true)
        ? { internalRef: `${INTERNAL_REGISTRY}/${repository}@${pushed.digest}` }
        : {}),
      blobs: context.counts,
      via: tool,
      durationMs: Date.now() - started,
    };
  } finally {
    await client.close();
  }
}
