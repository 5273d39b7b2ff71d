// What the integrated registry tells the API after a manifest is stored: the Image object (managed, with
// its layers and config metadata) and, for a tagged push, a tag event through an ImageStreamMapping,
// creating the ImageStream first when it does not exist, with the pusher's own rights.
import { isJsonObject, stringAt, type JsonObject } from '../json.js';
import { forbiddenMessage } from '../api/rbac.js';
import { ApiError, errors } from '../api/status.js';
import type { ResourceCatalog } from '../api/resources.js';
import type { ResourceService } from '../api/service.js';
import type { RequestContext } from '../api/types.js';
import type { VirtualResources } from '../api/virtual.js';

/** One stored manifest, as the registry front saw it. */
export interface PushedManifest {
  namespace: string;
  name: string;
  /** The tag pushed to, or undefined for a push by digest. */
  tag: string | undefined;
  digest: string;
  mediaType: string;
  manifest: string;
  /** The raw config blob of a single-platform manifest, when it could be read. */
  config: string | undefined;
}

/** Records pushes in the API the way the registry's ImageStreamMapping does. */
export class PushNotifier {
  constructor(
    private readonly catalog: ResourceCatalog,
    private readonly service: ResourceService,
    private readonly virtual: VirtualResources,
    private readonly internalRegistry: string,
  ) {}

  /**
   * Creates the Image and the tag event; `ctx` is the registry's own (privileged) identity, `pusher` the
   * pushing user's, with which a missing ImageStream is created (403 when the pusher may not create one).
   */
  record(push: PushedManifest, ctx: RequestContext, pusher: RequestContext): void {
    const image: JsonObject = {
      metadata: {
        name: push.digest,
        annotations: {
          'openshift.io/image.managed': 'true',
          'image.openshift.io/manifestBlobStored': 'true',
        },
      },
      dockerImageReference: `${this.internalRegistry}/${push.namespace}/${push.name}@${push.digest}`,
      dockerImageManifestMediaType: push.mediaType,
      dockerImageManifest: push.manifest,
      ...(push.config !== undefined ? { dockerImageConfig: push.config } : {}),
    };
    const nsCtx = { ...ctx, namespace: push.namespace };
    if (push.tag === undefined) {
      this.createImage(image, nsCtx);
      return;
    }
    const streams = this.catalog.require('image.openshift.io', 'imagestreams');
    // peek, not find: a copy of a stream with thousands of tags on every push was most of a push's cost.
    if (!this.service.peek(streams, push.namespace, push.name)) {
      const attrs = {
        verb: 'create',
        group: 'image.openshift.io',
        resource: 'imagestreams',
        namespace: push.namespace,
      };
      if (!pusher.authorizer.allows(pusher.user, attrs)) {
        throw errors.forbidden(forbiddenMessage(pusher.user, attrs), {
          group: 'image.openshift.io',
          resource: 'imagestreams',
          name: push.name,
        });
      }
      try {
        this.service.create(
          streams,
          push.namespace,
          { metadata: { name: push.name } },
          {},
          { ...pusher, namespace: push.namespace },
        );
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 409)) throw err;
      }
    }
    this.virtual.createImageStreamMapping(
      push.namespace,
      { metadata: { name: push.name, namespace: push.namespace }, tag: push.tag, image },
      nsCtx,
    );
  }

  private createImage(image: JsonObject, ctx: RequestContext): void {
    try {
      this.service.create(this.catalog.require('image.openshift.io', 'images'), '', image, {}, ctx);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 409)) throw err;
    }
  }
}

/** The config digest of a single-platform manifest, or undefined (an index has none). */
export function configDigestOf(manifest: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(manifest);
    if (!isJsonObject(parsed)) return undefined;
    const config = parsed['config'];
    return isJsonObject(config) ? stringAt(config, 'digest') : undefined;
  } catch {
    return undefined;
  }
}
