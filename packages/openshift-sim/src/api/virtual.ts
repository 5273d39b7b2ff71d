// Resources that are not stored but computed from others, as openshift-apiserver serves them:
// imagestreamtags (from an ImageStream and its Image), imagestreammappings (what the registry posts on
// push), selfsubjectaccessreviews and users/~.
import {
  isJsonObject,
  jsonEqual,
  objectAt,
  stringAt,
  textOf,
  type JsonObject,
  type JsonValue,
  type ReadonlyJsonObject,
  type ReadonlyJsonValue,
} from '../json.js';
import type { RequestContext, ResourceType } from './types.js';
import { imageLimitViolation, imageSize } from './image-limits.js';
import { TAG_PATTERN } from './names.js';
import type { ResourceCatalog } from './resources.js';
import type { ResourceService } from './service.js';
import { ApiError, errors, successStatus, type StatusCause } from './status.js';

const IMAGE_GROUP = 'image.openshift.io';

function isReadonlyObject(value: ReadonlyJsonValue): value is ReadonlyJsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readonlyObjectAt(value: ReadonlyJsonObject, key: string): ReadonlyJsonObject | undefined {
  const child = value[key];
  return child !== undefined && isReadonlyObject(child) ? child : undefined;
}

/** Index of the first status tag entry not sorted before `tag` (entries sorted by name, as stored). */
function firstTagAtOrAfter(entries: readonly ReadonlyJsonObject[], tag: string): number {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const name = entries[middle]?.['tag'];
    if ((typeof name === 'string' ? name : '') < tag) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * The status tags with a push of `event` to `tag` recorded: a new entry in its sorted place, or the event
 * at the head of the tag's history (refreshing the head instead when it already names the image). The
 * other entries are the stored ones, not copies. Undefined when nothing would change.
 */
function withTagEvent(
  stored: ReadonlyJsonValue | undefined,
  tag: string,
  event: JsonObject,
): ReadonlyJsonObject[] | undefined {
  const tags = Array.isArray(stored) ? (stored as readonly ReadonlyJsonValue[]).filter(isReadonlyObject) : [];
  const at = firstTagAtOrAfter(tags, tag);
  const current = tags[at];
  const next: ReadonlyJsonObject[] = [...tags];
  if (current === undefined || current['tag'] !== tag) {
    next.splice(at, 0, { tag, items: [event] });
    return next;
  }
  const items = Array.isArray(current['items'])
    ? (current['items'] as readonly ReadonlyJsonValue[]).filter(isReadonlyObject)
    : [];
  const head = items[0];
  const reference = event['dockerImageReference'] ?? null;
  const digest = event['image'] ?? null;
  const generation = event['generation'] ?? null;
  const newItems =
    head && (head['dockerImageReference'] === reference || head['image'] === digest)
      ? [{ ...head, dockerImageReference: reference, image: digest, generation }, ...items.slice(1)]
      : [event, ...items];
  const { conditions: _conditions, ...rest } = current;
  const entry = { ...rest, items: newItems };
  if (jsonEqual(entry as JsonValue, current as JsonValue)) return undefined;
  next[at] = entry;
  return next;
}

function splitTagName(name: string): { stream: string; tag: string } {
  const parts = name.split(':');
  if (parts.length !== 2 || name.includes('@') || parts[0] === '' || parts[1] === '') {
    throw errors.badRequest('ImageStreamTags must be retrieved with <name>:<tag>');
  }
  return { stream: parts[0] ?? '', tag: parts[1] ?? '' };
}

function statusTags(stream: JsonObject): JsonObject[] {
  const tags = objectAt(stream, 'status')?.['tags'];
  return Array.isArray(tags) ? tags.filter(isJsonObject) : [];
}

function specTags(stream: JsonObject): JsonObject[] {
  const tags = objectAt(stream, 'spec')?.['tags'];
  return Array.isArray(tags) ? tags.filter(isJsonObject) : [];
}

function newestItem(entry: JsonObject | undefined): JsonObject | undefined {
  const items = entry?.['items'];
  const first = Array.isArray(items) ? items[0] : undefined;
  return isJsonObject(first) && typeof first['image'] === 'string' && first['image'] !== ''
    ? first
    : undefined;
}

/** Serves the virtual image.openshift.io resources and the authorization/user endpoints. */
export class VirtualResources {
  constructor(
    private readonly catalog: ResourceCatalog,
    private readonly service: ResourceService,
  ) {}

  private streamType(): ResourceType {
    return this.catalog.require(IMAGE_GROUP, 'imagestreams');
  }

  private imageType(): ResourceType {
    return this.catalog.require(IMAGE_GROUP, 'images');
  }

  private istagNotFound(name: string): ApiError {
    return errors.notFound({ group: IMAGE_GROUP, resource: 'imagestreamtags', name });
  }

  /** The tag's metadata: the stream's identity, named `<stream>:<tag>`, created when the tag's image was. */
  private tagMetadata(
    stream: JsonObject,
    tag: string,
    item: JsonObject,
    spec: JsonObject | undefined,
  ): JsonObject {
    const meta = objectAt(stream, 'metadata') ?? {};
    const labels = objectAt(meta, 'labels');
    const annotations = spec ? objectAt(spec, 'annotations') : undefined;
    return {
      name: `${textOf(meta['name'])}:${tag}`,
      namespace: meta['namespace'] ?? null,
      uid: meta['uid'] ?? null,
      resourceVersion: meta['resourceVersion'] ?? null,
      creationTimestamp: item['created'] ?? null,
      ...(labels ? { labels } : {}),
      ...(annotations ? { annotations } : {}),
    };
  }

  private buildTag(
    stream: JsonObject,
    tag: string,
    ctx: RequestContext,
    full: boolean,
  ): JsonObject | undefined {
    const entry = statusTags(stream).find((t) => t['tag'] === tag);
    const item = newestItem(entry);
    if (!item) return undefined;
    const digest = textOf(item['image']);
    const image = this.service.find(this.imageType(), '', digest, ctx);
    if (full && !image) return undefined;
    const spec = specTags(stream).find((t) => t['name'] === tag);
    const reference = textOf(item['dockerImageReference']);
    const imageView = full && image ? fullImageView(image, reference) : shortImageView(digest, reference);
    return {
      kind: 'ImageStreamTag',
      apiVersion: 'image.openshift.io/v1',
      metadata: this.tagMetadata(stream, tag, item, spec),
      tag: spec ?? null,
      generation: item['generation'] ?? 0,
      lookupPolicy: objectAt(objectAt(stream, 'spec'), 'lookupPolicy') ?? { local: false },
      ...(Array.isArray(entry?.['conditions']) ? { conditions: entry['conditions'] } : {}),
      image: imageView,
    };
  }

  /** GET imagestreamtags/<stream>:<tag> */
  getImageStreamTag(namespace: string, name: string, ctx: RequestContext): JsonObject {
    const { stream, tag } = splitTagName(name);
    const found = this.service.find(this.streamType(), namespace, stream, ctx);
    const result = found ? this.buildTag(found, tag, ctx, true) : undefined;
    if (!result) throw this.istagNotFound(name);
    return result;
  }

  /** LIST imagestreamtags: one per status tag with an image, with stub images. */
  listImageStreamTags(namespace: string | undefined, ctx: RequestContext): JsonObject {
    const list = this.service.list(this.streamType(), namespace, {}, ctx);
    const streams = Array.isArray(list['items']) ? list['items'].filter(isJsonObject) : [];
    const items: JsonValue[] = [];
    for (const stream of streams) {
      for (const entry of statusTags(stream)) {
        const built = this.buildTag(stream, textOf(entry['tag']), ctx, false);
        if (built) items.push(built);
      }
    }
    return {
      kind: 'ImageStreamTagList',
      apiVersion: 'image.openshift.io/v1',
      metadata: { resourceVersion: textOf(objectAt(list, 'metadata')?.['resourceVersion']) },
      items,
    };
  }

  /** DELETE imagestreamtags/<stream>:<tag>: removes the spec tag and the whole status history. */
  deleteImageStreamTag(
    namespace: string,
    name: string,
    uid: string | undefined,
    ctx: RequestContext,
  ): JsonObject {
    const { stream, tag } = splitTagName(name);
    const type = this.streamType();
    const found = this.service.find(type, namespace, stream, ctx);
    if (!found) throw this.istagNotFound(name);
    const meta = objectAt(found, 'metadata') ?? {};
    if (uid !== undefined && uid !== meta['uid']) {
      throw errors.conflict(
        { group: IMAGE_GROUP, resource: 'imagestreamtags', name },
        `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${textOf(meta['uid'])}`,
      );
    }
    const spec = specTags(found);
    const status = statusTags(found);
    const keptSpec = spec.filter((t) => t['name'] !== tag);
    const keptStatus = status.filter((t) => t['tag'] !== tag);
    if (keptSpec.length === spec.length && keptStatus.length === status.length)
      throw this.istagNotFound(name);
    // One internal write of spec and status together, as the real registry strategy does.
    const specObject: JsonObject = { ...(objectAt(found, 'spec') ?? {}), tags: keptSpec };
    const statusObject: JsonObject = { ...(objectAt(found, 'status') ?? {}), tags: keptStatus };
    this.service.update(
      { type, namespace, name: stream },
      { ...found, spec: specObject, status: statusObject },
      ctx,
      { subresource: 'spec+status' },
    );
    return successStatus();
  }

  /** Creates the mapping's Image; one that exists already is fine (the same image pushed to another tag). */
  private ensureImage(image: JsonObject, ctx: RequestContext): void {
    try {
      this.service.create(
        this.imageType(),
        '',
        { ...image, apiVersion: 'image.openshift.io/v1', kind: 'Image' },
        {},
        ctx,
      );
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 409 && err.reason === 'AlreadyExists')) throw err;
    }
  }

  /**
   * POST imagestreammappings: creates the Image (an existing one is fine) and puts a tag event at the head
   * of `status.tags[tag].items`, as the registry's push does. 404 when the stream does not exist.
   */
  createImageStreamMapping(namespace: string, body: JsonObject, ctx: RequestContext): JsonObject {
    const meta = objectAt(body, 'metadata') ?? {};
    const streamName = stringAt(meta, 'name') ?? '';
    const tag = stringAt(body, 'tag') ?? '';
    const image = objectAt(body, 'image');
    const digest = stringAt(objectAt(image, 'metadata'), 'name') ?? '';
    const causes = mappingCauses(streamName, tag, digest);
    if (causes.length > 0 || !image) {
      throw errors.invalid(
        { group: IMAGE_GROUP, resource: 'imagestreammappings', kind: 'ImageStreamMapping', name: streamName },
        causes,
      );
    }
    const streamType = this.streamType();
    // Read without a copy: a push of many tags writes a large stream once per tag, and copying it every
    // time made such a push quadratic in time and memory.
    const stream = this.service.peek(streamType, namespace, streamName);
    if (!stream)
      throw errors.notFound({ group: IMAGE_GROUP, resource: 'imagestreammappings', name: streamName });
    // The ImageLimitRange admission plugin: the image against the namespace's openshift.io/Image limits.
    const violation = imageLimitViolation(ctx.store, namespace, imageSize(image));
    if (violation !== undefined) {
      throw errors.forbidden(
        `imagestreammappings.${IMAGE_GROUP} "${streamName}" is forbidden: ${violation}`,
        { group: IMAGE_GROUP, resource: 'imagestreammappings', name: streamName },
      );
    }
    this.ensureImage(image, ctx);
    const reference = textOf(image['dockerImageReference']);
    const generation = Number(readonlyObjectAt(stream, 'metadata')?.['generation'] ?? 1);
    const event: JsonObject = {
      created: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      dockerImageReference: reference,
      image: digest,
      generation,
    };
    const status = readonlyObjectAt(stream, 'status') ?? {};
    const tags = withTagEvent(status['tags'], tag, event);
    // Nothing changes (the same push again): no write, the resourceVersion stays, as for a no-op update.
    if (tags !== undefined) {
      // The untouched entries are shared with the stored version, not copied (see writeSharedStatus).
      this.service.writeSharedStatus(
        streamType,
        { namespace, name: streamName },
        stream,
        { ...(status as JsonObject), tags: tags as JsonValue[] },
        ctx,
      );
    }
    return { ...successStatus(), code: 201 };
  }

  /** POST selfsubjectaccessreviews: answers for the caller. */
  selfSubjectAccessReview(body: JsonObject, ctx: RequestContext): JsonObject {
    const spec = objectAt(body, 'spec') ?? {};
    const attrs = objectAt(spec, 'resourceAttributes');
    if (!attrs) {
      throw errors.invalid(
        {
          group: 'authorization.k8s.io',
          resource: 'selfsubjectaccessreviews',
          kind: 'SelfSubjectAccessReview',
          name: '',
        },
        [
          {
            reason: 'FieldValueRequired',
            message: 'exactly one of nonResourceAttributes or resourceAttributes must be specified',
            field: 'spec.resourceAttributes',
          },
        ],
      );
    }
    const resource = stringAt(attrs, 'resource') ?? '';
    const subresource = stringAt(attrs, 'subresource') ?? '';
    const namespace = stringAt(attrs, 'namespace') ?? '';
    const name = stringAt(attrs, 'name');
    const allowed = ctx.authorizer.allows(ctx.user, {
      verb: stringAt(attrs, 'verb') ?? '',
      group: stringAt(attrs, 'group') ?? '',
      resource: subresource === '' ? resource : `${resource}/${subresource}`,
      ...(namespace !== '' ? { namespace } : {}),
      ...(name !== undefined ? { name } : {}),
    });
    return {
      kind: 'SelfSubjectAccessReview',
      apiVersion: 'authorization.k8s.io/v1',
      metadata: { creationTimestamp: null },
      spec,
      status: allowed ? { allowed: true, reason: 'RBAC: allowed by a role binding' } : { allowed: false },
    };
  }

  /** GET users/~: who the token belongs to. */
  currentUser(ctx: RequestContext): JsonObject {
    return {
      kind: 'User',
      apiVersion: 'user.openshift.io/v1',
      metadata: { name: ctx.user.name },
      identities: null,
      groups: [...ctx.user.groups],
    };
  }
}

/** The image as an ImageStreamTag shows it: the stored Image without its raw manifest and config. */
function fullImageView(image: JsonObject, reference: string): JsonObject {
  const { dockerImageManifest: _m, dockerImageConfig: _c, ...rest } = image;
  return { ...rest, dockerImageReference: reference };
}

/** The image of a tag listed without details: its name and reference, empty metadata. */
function shortImageView(digest: string, reference: string): JsonObject {
  return {
    metadata: { name: digest },
    dockerImageReference: reference,
    dockerImageMetadata: {
      kind: 'DockerImage',
      apiVersion: 'image.openshift.io/1.0',
      Id: '',
      ContainerConfig: {},
    },
  };
}

/** The 422 causes of an ImageStreamMapping: the stream, tag and image name required, the tag well formed. */
function mappingCauses(streamName: string, tag: string, digest: string): StatusCause[] {
  const required = (field: string): StatusCause => ({
    reason: 'FieldValueRequired',
    message: 'Required value',
    field,
  });
  const causes: StatusCause[] = [
    ...(streamName === '' ? [required('metadata.name')] : []),
    ...(tag === '' ? [required('tag')] : []),
    ...(digest === '' ? [required('image.metadata.name')] : []),
  ];
  if (tag !== '' && !TAG_PATTERN.test(tag)) {
    causes.push({
      reason: 'FieldValueInvalid',
      message: `Invalid value: "${tag}": must match "${TAG_PATTERN.source}"`,
      field: 'tag',
    });
  }
  return causes;
}
