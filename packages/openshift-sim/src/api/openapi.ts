// Just enough OpenAPI v3 for kubectl: it reads these documents to learn that the server validates fields
// itself (the `fieldValidation` query parameter on PATCH), and then sends `fieldValidation=Strict` instead
// of validating against a schema it would have to download. Schemas of the kinds are left out, so kubectl
// falls back to its built-in knowledge for apply's strategic merge.
import { createHash } from 'node:crypto';
import type { JsonObject } from '../json.js';
import type { ResourceCatalog } from './resources.js';
import { apiVersionOf, type ResourceType } from './types.js';

const QUERY_PARAMETERS = ['dryRun', 'fieldManager', 'fieldValidation', 'force', 'pretty'].map((name) => ({
  name,
  in: 'query',
  schema: { type: name === 'force' ? 'boolean' : 'string' },
  uniqueItems: true,
}));

function gvPath(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`;
}

function paths(type: ResourceType): Record<string, JsonObject> {
  const gvk = { group: type.group, version: type.version, kind: type.kind };
  const operation = (action: string): JsonObject => ({
    operationId: `${action}${type.kind}`,
    parameters: QUERY_PARAMETERS,
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk,
    responses: { '200': { description: 'OK' } },
  });
  const base = `/${gvPath(type.group, type.version)}${type.namespaced ? '/namespaces/{namespace}' : ''}/${type.plural}`;
  const result: Record<string, JsonObject> = {};
  if (type.verbs.includes('create')) result[base] = { post: operation('post') };
  const item: JsonObject = {};
  if (type.verbs.includes('get')) item['get'] = operation('get');
  if (type.verbs.includes('update')) item['put'] = operation('put');
  if (type.verbs.includes('patch')) item['patch'] = operation('patch');
  if (type.verbs.includes('delete')) item['delete'] = operation('delete');
  if (Object.keys(item).length > 0) result[`${base}/{name}`] = item;
  return result;
}

/** The document of one group version, or undefined when it is not served. */
export function openApiGroupVersion(
  catalog: ResourceCatalog,
  group: string,
  version: string,
): JsonObject | undefined {
  const types = catalog.types.filter((t) => t.group === group && t.version === version);
  if (types.length === 0) return undefined;
  return {
    openapi: '3.0.0',
    info: { title: 'openshift-sim', version: apiVersionOf({ group, version }) },
    paths: Object.assign({}, ...types.map(paths)) as JsonObject,
    components: { schemas: {} },
  };
}

/** `/openapi/v3`: where each group version's document is. */
export function openApiRoot(catalog: ResourceCatalog): JsonObject {
  const entries: Record<string, JsonObject> = {};
  for (const type of catalog.types) {
    const key = gvPath(type.group, type.version);
    const doc = JSON.stringify(openApiGroupVersion(catalog, type.group, type.version));
    const hash = createHash('sha512').update(doc).digest('hex').slice(0, 64).toUpperCase();
    entries[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${hash}` };
  }
  return { paths: entries };
}

/** A protobuf length-delimited field (wire type 2) holding `value`. */
function protoField(field: number, value: Buffer): Buffer {
  const length: number[] = [];
  let n = value.length;
  while (n > 0x7f) {
    length.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  length.push(n);
  return Buffer.concat([Buffer.from([(field << 3) | 2, ...length]), value]);
}

/**
 * The protobuf media type of `/openapi/v2` (gnostic's `openapi_v2.Document`): client-go asks for the old
 * spelling with `@`, which Go cannot parse as a Content-Type, so kube answers with the dotted one.
 */
const V2_PROTOBUF_ASKED = /com\.github\.proto-openapi\.spec\.v2[@.]v1\.0\+protobuf/;
const V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

/**
 * `/openapi/v2`: a Swagger 2.0 document with no paths and no definitions. kubectl reads it only for a kind
 * missing from `/openapi/v3`; finding nothing there, it lets the request go on, so a kind the server does
 * not serve meets kube's own answer ("no matches for kind … ensure CRDs are installed first") rather than
 * "failed to download openapi". In protobuf (`swagger = 1`, `info = 2` with `title = 1`, `version = 2`)
 * when asked for it, as kubectl does, else JSON.
 */
export function openApiV2(accept: string | undefined): { contentType: string; body: Buffer } {
  const info = { title: 'openshift-sim', version: 'v1.32.5' };
  if (V2_PROTOBUF_ASKED.test(accept ?? '')) {
    const infoMessage = Buffer.concat([
      protoField(1, Buffer.from(info.title)),
      protoField(2, Buffer.from(info.version)),
    ]);
    return {
      contentType: V2_PROTOBUF,
      body: Buffer.concat([protoField(1, Buffer.from('2.0')), protoField(2, infoMessage)]),
    };
  }
  return {
    contentType: 'application/json',
    body: Buffer.from(JSON.stringify({ swagger: '2.0', info, paths: {}, definitions: {} })),
  };
}
