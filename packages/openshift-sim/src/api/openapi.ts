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
