// image.openshift.io behaviour as openshift-apiserver implements it: ImageStreams (status computed on read,
// generation on spec change, sorted tags, status only through /status) and Images (immutable metadata,
// raw manifest dropped once the registry stored it).
import { createHash } from 'node:crypto';
import {
  isJsonObject,
  jsonEqual,
  objectAt,
  stringAt,
  textOf,
  type JsonObject,
  type JsonValue,
} from '../json.js';
import { DIGEST_PATTERN, TAG_PATTERN } from './names.js';
import type { StatusCause } from './status.js';
import type { RequestContext, Strategy } from './types.js';

/** The first external registry hostname, as ImageStreams publish it. */
export function publicRegistryHostname(ctx: RequestContext): string | undefined {
  const config = ctx.store.get('images.config.openshift.io', '', 'cluster');
  const fromSpec = objectAt(config, 'spec')?.['externalRegistryHostnames'];
  const fromStatus = objectAt(config, 'status')?.['externalRegistryHostnames'];
  for (const list of [fromSpec, fromStatus]) {
    if (Array.isArray(list) && typeof list[0] === 'string' && list[0] !== '') return list[0];
  }
  return undefined;
}

function byKey(key: string) {
  return (a: JsonValue, b: JsonValue): number => {
    const x = isJsonObject(a) ? textOf(a[key]) : '';
    const y = isJsonObject(b) ? textOf(b[key]) : '';
    return x < y ? -1 : x > y ? 1 : 0;
  };
}

function normaliseSpec(object: JsonObject, generation: number, old?: JsonObject): void {
  const spec: JsonObject = objectAt(object, 'spec') ?? {};
  object['spec'] = spec;
  const lookup = objectAt(spec, 'lookupPolicy') ?? {};
  spec['lookupPolicy'] = { local: lookup['local'] === true };
  const tags = spec['tags'];
  if (!Array.isArray(tags)) return;
  const oldTags = objectAt(old, 'spec')?.['tags'];
  for (const tag of tags) {
    if (!isJsonObject(tag)) continue;
    defaultSpecTag(tag);
    const before = Array.isArray(oldTags)
      ? oldTags.find((t) => isJsonObject(t) && t['name'] === tag['name'])
      : undefined;
    tag['generation'] = tagGeneration(tag, before, generation);
  }
  tags.sort(byKey('name'));
}

/** The defaults the server fills into each spec tag. */
function defaultSpecTag(tag: JsonObject): void {
  tag['annotations'] ??= null;
  const importPolicy = objectAt(tag, 'importPolicy') ?? {};
  importPolicy['importMode'] ??= 'Legacy';
  tag['importPolicy'] = importPolicy;
  const referencePolicy = objectAt(tag, 'referencePolicy') ?? {};
  referencePolicy['type'] ??= 'Source';
  tag['referencePolicy'] = referencePolicy;
}

/** A tag keeps its generation unless it changed (or is new, or was reset to 0): then it takes the stream's. */
function tagGeneration(tag: JsonObject, before: JsonValue | undefined, generation: number): JsonValue {
  const changed =
    !isJsonObject(before) || !jsonEqual({ ...before, generation: null }, { ...tag, generation: null });
  return changed || tag['generation'] === 0 ? generation : (before['generation'] ?? generation);
}

function sortStatusTags(object: JsonObject): void {
  const status = objectAt(object, 'status');
  const tags = status?.['tags'];
  if (!status || !Array.isArray(tags)) return;
  if (tags.length === 0) {
    delete status['tags'];
    return;
  }
  tags.sort(byKey('tag'));
}

function specTagCauses(object: JsonObject): StatusCause[] {
  const tags = objectAt(object, 'spec')?.['tags'];
  if (tags === undefined || tags === null) return [];
  if (!Array.isArray(tags))
    return [{ reason: 'FieldValueInvalid', message: 'must be a list', field: 'spec.tags' }];
  const causes: StatusCause[] = [];
  const seen = new Set<string>();
  tags.forEach((tag, i) => {
    const name = isJsonObject(tag) ? tag['name'] : undefined;
    if (typeof name !== 'string' || !TAG_PATTERN.test(name)) {
      causes.push({
        reason: 'FieldValueInvalid',
        message: `Invalid value: ${JSON.stringify(name ?? null)}: must match "${TAG_PATTERN.source}"`,
        field: `spec.tags[${i}].name`,
      });
    } else if (seen.has(name)) {
      causes.push({
        reason: 'FieldValueDuplicate',
        message: `Duplicate value: "${name}"`,
        field: `spec.tags[${i}].name`,
      });
    } else {
      seen.add(name);
    }
  });
  return causes;
}

function statusTagCauses(object: JsonObject): StatusCause[] {
  const tags = objectAt(object, 'status')?.['tags'];
  if (!Array.isArray(tags)) return [];
  const causes: StatusCause[] = [];
  tags.forEach((entry, i) => {
    const items = isJsonObject(entry) ? entry['items'] : undefined;
    if (!Array.isArray(items)) return;
    items.forEach((item, j) => {
      const field = `status.tags[${i}].items[${j}]`;
      if (
        !isJsonObject(item) ||
        typeof item['dockerImageReference'] !== 'string' ||
        item['dockerImageReference'] === ''
      ) {
        causes.push({
          reason: 'FieldValueRequired',
          message: 'Required value',
          field: `${field}.dockerImageReference`,
        });
      }
    });
  });
  return causes;
}

function fillStatusGenerations(object: JsonObject): void {
  const generation = objectAt(object, 'metadata')?.['generation'];
  const tags = objectAt(object, 'status')?.['tags'];
  if (!Array.isArray(tags)) return;
  for (const entry of tags) {
    const items = isJsonObject(entry) ? entry['items'] : undefined;
    const first = Array.isArray(items) ? items[0] : undefined;
    if (isJsonObject(first) && (first['generation'] === undefined || first['generation'] === null)) {
      first['generation'] = generation ?? 1;
    }
  }
}

/** ImageStream: status only through `/status`; repository hosts computed on read. */
export const imageStreamStrategy: Strategy = {
  prepareCreate(object) {
    object['status'] = {};
    normaliseSpec(object, 1);
  },
  prepareUpdate(object, old) {
    const generation = Number(objectAt(object, 'metadata')?.['generation'] ?? 1);
    normaliseSpec(object, generation, old);
  },
  prepareStatusUpdate(object) {
    fillStatusGenerations(object);
    sortStatusTags(object);
  },
  validate(object) {
    return [...specTagCauses(object), ...statusTagCauses(object)];
  },
  decorate(object, ctx) {
    const metadata = objectAt(object, 'metadata');
    const status: JsonObject = objectAt(object, 'status') ?? {};
    const path = `${stringAt(metadata, 'namespace') ?? ''}/${stringAt(metadata, 'name') ?? ''}`;
    // From the image config, as openshift-apiserver reads it: empty while the registry is removed.
    const internal = stringAt(
      objectAt(ctx.store.get('images.config.openshift.io', '', 'cluster'), 'status'),
      'internalRegistryHostname',
    );
    status['dockerImageRepository'] = internal !== undefined && internal !== '' ? `${internal}/${path}` : '';
    const external = publicRegistryHostname(ctx);
    if (external !== undefined) status['publicDockerImageRepository'] = `${external}/${path}`;
    else delete status['publicDockerImageRepository'];
    object['status'] = status;
  },
  fields(object) {
    return {
      'spec.dockerImageRepository': stringAt(objectAt(object, 'spec'), 'dockerImageRepository') ?? '',
      'status.dockerImageRepository': stringAt(objectAt(object, 'status'), 'dockerImageRepository') ?? '',
    };
  },
};

const sha256 = (text: string): string => `sha256:${createHash('sha256').update(text).digest('hex')}`;

function parseJson(text: string): JsonObject | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isJsonObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Fills layers, media type and metadata from a supplied raw manifest and config, as the server does. */
function fillFromManifest(object: JsonObject): void {
  const manifestText = stringAt(object, 'dockerImageManifest');
  const manifest = manifestText !== undefined ? parseJson(manifestText) : undefined;
  if (manifest) fillFromParsedManifest(object, manifest);
  const configText = stringAt(object, 'dockerImageConfig');
  const config = configText !== undefined ? parseJson(configText) : undefined;
  if (config && configText !== undefined && object['dockerImageMetadata'] === undefined) {
    object['dockerImageMetadata'] = metadataFromConfig(object, config, configText);
  }
}

/** Media type, layers (of an image manifest) and children (of an index), unless the client gave them. */
function fillFromParsedManifest(object: JsonObject, manifest: JsonObject): void {
  object['dockerImageManifestMediaType'] ??= stringAt(manifest, 'mediaType') ?? null;
  const layers = manifest['layers'];
  if (Array.isArray(layers) && object['dockerImageLayers'] === undefined) {
    object['dockerImageLayers'] = layers.filter(isJsonObject).map((l) => ({
      name: l['digest'] ?? '',
      size: l['size'] ?? 0,
      mediaType: l['mediaType'] ?? '',
    }));
  }
  const children = manifest['manifests'];
  if (Array.isArray(children) && object['dockerImageManifests'] === undefined) {
    object['dockerImageManifests'] = children.filter(isJsonObject).map(manifestEntry);
  }
}

function manifestEntry(m: JsonObject): JsonObject {
  const platform = objectAt(m, 'platform') ?? {};
  return {
    digest: m['digest'] ?? '',
    mediaType: m['mediaType'] ?? '',
    manifestSize: m['size'] ?? 0,
    architecture: platform['architecture'] ?? '',
    os: platform['os'] ?? '',
    ...(platform['variant'] !== undefined ? { variant: platform['variant'] } : {}),
  };
}

/** dockerImageMetadata as the server derives it: the config's fields; Size counts config and layers. */
function metadataFromConfig(object: JsonObject, config: JsonObject, configText: string): JsonObject {
  const layers = Array.isArray(object['dockerImageLayers']) ? object['dockerImageLayers'] : [];
  const layerBytes = layers.reduce<number>(
    (sum, l) => sum + (isJsonObject(l) ? Number(l['size'] ?? 0) : 0),
    0,
  );
  return {
    kind: 'DockerImage',
    apiVersion: 'image.openshift.io/1.0',
    Id: sha256(configText),
    Created: config['created'] ?? null,
    ContainerConfig: {},
    Config: config['config'] ?? {},
    Architecture: config['architecture'] ?? '',
    Size: Buffer.byteLength(configText) + layerBytes,
  };
}

const IMMUTABLE_IMAGE_FIELDS = ['dockerImageMetadata', 'dockerImageMetadataVersion', 'dockerImageLayers'];

/** Image: name is the digest; metadata immutable; raw manifest dropped once stored in the registry. */
export const imageStrategy: Strategy = {
  prepareCreate(object) {
    fillFromManifest(object);
    object['dockerImageMetadataVersion'] ??= '1.0';
    object['dockerImageMetadata'] ??= {
      kind: 'DockerImage',
      apiVersion: 'image.openshift.io/1.0',
      Id: '',
      ContainerConfig: {},
    };
    const metadata: JsonObject = objectAt(object, 'metadata') ?? {};
    const annotations: JsonObject = objectAt(metadata, 'annotations') ?? {};
    if (Array.isArray(object['dockerImageLayers']))
      annotations['image.openshift.io/dockerLayersOrder'] = 'ascending';
    metadata['annotations'] = annotations;
    if (annotations['image.openshift.io/manifestBlobStored'] === 'true') {
      delete object['dockerImageManifest'];
      delete object['dockerImageConfig'];
    }
  },
  prepareUpdate(object, old) {
    for (const field of IMMUTABLE_IMAGE_FIELDS) {
      if (old[field] === undefined) delete object[field];
      else object[field] = old[field];
    }
  },
  validate(object, old) {
    const causes: StatusCause[] = [];
    if (typeof object['dockerImageReference'] !== 'string' || object['dockerImageReference'] === '') {
      causes.push({ reason: 'FieldValueRequired', message: 'Required value', field: 'dockerImageReference' });
    }
    const name = stringAt(objectAt(object, 'metadata'), 'name') ?? '';
    const manifest = stringAt(object, 'dockerImageManifest');
    if (
      manifest !== undefined &&
      DIGEST_PATTERN.test(name) &&
      sha256(manifest) !== name &&
      old === undefined
    ) {
      causes.push({
        reason: 'FieldValueInvalid',
        message: `Invalid value: "${name}": the image name does not match the digest of dockerImageManifest`,
        field: 'metadata.name',
      });
    }
    return causes;
  },
};
