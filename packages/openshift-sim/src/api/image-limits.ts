// openshift-apiserver's image.openshift.io/ImageLimitRange admission of ImageStreamMappings: an image larger
// than the `max.storage` of an `openshift.io/Image` limit in a LimitRange of the namespace is forbidden.
// The registry runs into it when it records a tagged push, and answers the push with 403 DENIED.
import { isJsonObject, objectAt, stringAt, type JsonObject } from '../json.js';
import type { ObjectStore } from './store.js';

const SUFFIXES: Readonly<Record<string, number>> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** Bytes of a resource quantity (`1Gi`, `500M`, `1e6`, `100`), or undefined when it is not one. */
export function quantityBytes(text: string): number | undefined {
  const match = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:[eE]([+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?)$/.exec(text);
  if (!match) return undefined;
  const number = Number(match[1]);
  if (match[2] !== undefined) return number * 10 ** Number(match[2]);
  return number * (SUFFIXES[match[3] ?? ''] ?? 1);
}

/** kube's canonical form of a byte count, as `resource.NewQuantity(size, BinarySI)` prints it. */
function binaryQuantity(bytes: number): string {
  for (const [suffix, factor] of [
    ['Ei', 2 ** 60],
    ['Pi', 2 ** 50],
    ['Ti', 2 ** 40],
    ['Gi', 2 ** 30],
    ['Mi', 2 ** 20],
    ['Ki', 2 ** 10],
  ] as const) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${suffix}`;
  }
  return String(bytes);
}

/** The image's size as the API computes its metadata: the config plus each distinct layer once. */
export function imageSize(image: JsonObject): number {
  const configText = stringAt(image, 'dockerImageConfig');
  let size = configText !== undefined ? Buffer.byteLength(configText) : 0;
  const seen = new Set<string>();
  let layers: unknown = image['dockerImageLayers'];
  if (!Array.isArray(layers)) {
    const manifestText = stringAt(image, 'dockerImageManifest');
    try {
      const manifest: unknown = manifestText !== undefined ? JSON.parse(manifestText) : undefined;
      layers = isJsonObject(manifest) ? manifest['layers'] : undefined;
    } catch {
      layers = undefined;
    }
  }
  for (const layer of Array.isArray(layers) ? layers : []) {
    if (!isJsonObject(layer)) continue;
    const name = stringAt(layer, 'digest') ?? stringAt(layer, 'name') ?? '';
    if (seen.has(name)) continue;
    seen.add(name);
    size += Number(layer['size'] ?? 0);
  }
  return size;
}

/**
 * The admission's refusal for an image of `size` bytes in `namespace`, or undefined when every
 * `openshift.io/Image` limit there allows it. The message is the plugin's, word for word.
 */
export function imageLimitViolation(store: ObjectStore, namespace: string, size: number): string | undefined {
  for (const range of store.list('limitranges', namespace)) {
    const limits = objectAt(range, 'spec')?.['limits'];
    for (const limit of Array.isArray(limits) ? limits : []) {
      if (!isJsonObject(limit) || limit['type'] !== 'openshift.io/Image') continue;
      const max = stringAt(objectAt(limit, 'max'), 'storage');
      const bytes = max !== undefined ? quantityBytes(max) : undefined;
      if (bytes === undefined || max === undefined || size <= bytes) continue;
      return `requested usage of storage exceeds the maximum limit per openshift.io/Image (${binaryQuantity(size)} > ${max})`;
    }
  }
  return undefined;
}
