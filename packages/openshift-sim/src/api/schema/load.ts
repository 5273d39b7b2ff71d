/** Reading structural schemas and CRDs from YAML into the typed form, refusing what kube would refuse. */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { JsonValue } from '../../json.js';
import type { CompiledCrd, CrdVersion, Schema, SchemaType, ValidationRule } from './types.js';
import { indexPath, isRecord } from './json-values.js';

const SCHEMA_TYPES: readonly string[] = ['object', 'array', 'string', 'integer', 'number', 'boolean'];
const NUMBER_KEYWORDS = [
  'minimum',
  'maximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
] as const;
const BOOLEAN_KEYWORDS = [
  'nullable',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'uniqueItems',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-int-or-string',
  'x-kubernetes-embedded-resource',
] as const;
const STRING_KEYWORDS = ['description', 'format', 'pattern'] as const;
const COMPOSITION_KEYWORDS = ['allOf', 'anyOf', 'oneOf'] as const;
const RULE_REASONS: readonly string[] = [
  'FieldValueInvalid',
  'FieldValueForbidden',
  'FieldValueRequired',
  'FieldValueDuplicate',
];

function toJsonValue(raw: unknown, at: string): JsonValue {
  if (raw === null || typeof raw === 'boolean' || typeof raw === 'number' || typeof raw === 'string')
    return raw;
  if (Array.isArray(raw)) return raw.map((item: unknown, i) => toJsonValue(item, indexPath(at, i)));
  if (isRecord(raw)) {
    return Object.fromEntries(
      Object.entries(raw).map(([key, child]) => [key, toJsonValue(child, `${at}.${key}`)]),
    );
  }
  throw new Error(`${at}: not a JSON value`);
}

function stringList(raw: unknown, at: string): string[] {
  if (!Array.isArray(raw) || !raw.every((item) => typeof item === 'string')) {
    throw new Error(`${at}: expected a list of strings`);
  }
  return raw.filter((item): item is string => typeof item === 'string');
}

function schemaList(raw: unknown, at: string): Schema[] {
  if (!Array.isArray(raw)) throw new Error(`${at}: expected a list of schemas`);
  return raw.map((item: unknown, i) => readSchema(item, indexPath(at, i)));
}

function readType(raw: Record<string, unknown>, schema: Schema, at: string): void {
  if (raw.type === undefined || raw.type === null) return;
  if (typeof raw.type !== 'string' || !SCHEMA_TYPES.includes(raw.type))
    throw new Error(`${at}.type: invalid`);
  schema.type = raw.type as SchemaType;
}

/** Reads `raw[key]` when it has the wanted primitive type; throws on any other non-null value. */
function primitive<T extends 'number' | 'boolean' | 'string'>(
  raw: Record<string, unknown>,
  key: string,
  kind: T,
  at: string,
): (T extends 'number' ? number : T extends 'boolean' ? boolean : string) | undefined {
  const value = raw[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== kind) throw new Error(`${at}.${key}: expected a ${kind}`);
  return value as T extends 'number' ? number : T extends 'boolean' ? boolean : string;
}

function readScalarKeywords(raw: Record<string, unknown>, schema: Schema, at: string): void {
  readType(raw, schema, at);
  for (const key of NUMBER_KEYWORDS) {
    const value = primitive(raw, key, 'number', at);
    if (value !== undefined) schema[key] = value;
  }
  for (const key of BOOLEAN_KEYWORDS) {
    const value = primitive(raw, key, 'boolean', at);
    if (value !== undefined) schema[key] = value;
  }
  for (const key of STRING_KEYWORDS) {
    const value = primitive(raw, key, 'string', at);
    if (value !== undefined) schema[key] = value;
  }
}

function readValueKeywords(raw: Record<string, unknown>, schema: Schema, at: string): void {
  // A null default is no default (kube only applies non-nil defaults).
  if (raw.default !== undefined && raw.default !== null)
    schema.default = toJsonValue(raw.default, `${at}.default`);
  if (raw.enum !== undefined && raw.enum !== null) {
    if (!Array.isArray(raw.enum)) throw new Error(`${at}.enum: expected a list`);
    schema.enum = raw.enum.map((item: unknown, i) => toJsonValue(item, indexPath(`${at}.enum`, i)));
  }
  if (raw.required !== undefined && raw.required !== null)
    schema.required = stringList(raw.required, `${at}.required`);
}

function readNestedSchemas(raw: Record<string, unknown>, schema: Schema, at: string): void {
  const { properties, items, additionalProperties, not } = raw;
  if (isRecord(properties)) {
    schema.properties = Object.fromEntries(
      Object.entries(properties).map(([key, child]) => [key, readSchema(child, `${at}.properties.${key}`)]),
    );
  }
  if (items !== undefined && items !== null) schema.items = readSchema(items, `${at}.items`);
  if (typeof additionalProperties === 'boolean') schema.additionalProperties = additionalProperties;
  else if (additionalProperties !== undefined && additionalProperties !== null) {
    schema.additionalProperties = readSchema(additionalProperties, `${at}.additionalProperties`);
  }
  if (not !== undefined && not !== null) schema.not = readSchema(not, `${at}.not`);
  for (const key of COMPOSITION_KEYWORDS) {
    const value = raw[key];
    if (value !== undefined && value !== null) schema[key] = schemaList(value, `${at}.${key}`);
  }
}

function readKubernetesExtensions(raw: Record<string, unknown>, schema: Schema, at: string): void {
  const listType = raw['x-kubernetes-list-type'];
  if (listType === 'atomic' || listType === 'set' || listType === 'map')
    schema['x-kubernetes-list-type'] = listType;
  const mapKeys = raw['x-kubernetes-list-map-keys'];
  if (mapKeys !== undefined && mapKeys !== null) {
    schema['x-kubernetes-list-map-keys'] = stringList(mapKeys, `${at}.x-kubernetes-list-map-keys`);
  }
  const mapType = raw['x-kubernetes-map-type'];
  if (mapType === 'atomic' || mapType === 'granular') schema['x-kubernetes-map-type'] = mapType;
  const rules = raw['x-kubernetes-validations'];
  if (Array.isArray(rules)) {
    schema['x-kubernetes-validations'] = rules.map((rule: unknown, i) =>
      readRule(rule, indexPath(`${at}.x-kubernetes-validations`, i)),
    );
  }
}

function readRule(raw: unknown, at: string): ValidationRule {
  if (!isRecord(raw) || typeof raw.rule !== 'string')
    throw new Error(`${at}: a validation rule needs a rule`);
  const rule: ValidationRule = { rule: raw.rule };
  if (typeof raw.message === 'string') rule.message = raw.message;
  if (typeof raw.messageExpression === 'string') rule.messageExpression = raw.messageExpression;
  if (typeof raw.fieldPath === 'string') rule.fieldPath = raw.fieldPath;
  if (typeof raw.reason === 'string' && RULE_REASONS.includes(raw.reason)) {
    rule.reason = raw.reason as ValidationRule['reason'];
  }
  if (raw.optionalOldSelf === true) rule.optionalOldSelf = true;
  return rule;
}

function readSchema(raw: unknown, at: string): Schema {
  if (!isRecord(raw)) throw new Error(`${at}: a schema must be a mapping`);
  const schema: Schema = {};
  readScalarKeywords(raw, schema, at);
  readValueKeywords(raw, schema, at);
  readNestedSchemas(raw, schema, at);
  readKubernetesExtensions(raw, schema, at);
  return schema;
}

function field(raw: Record<string, unknown>, key: string, at: string): Record<string, unknown> {
  const value = raw[key];
  if (!isRecord(value)) throw new Error(`${at}${key}: expected a mapping`);
  return value;
}

function text(raw: Record<string, unknown>, key: string, at: string): string {
  const value = raw[key];
  if (typeof value !== 'string' || value === '') throw new Error(`${at}${key}: expected a non-empty string`);
  return value;
}

function optionalStrings(raw: Record<string, unknown>, key: string, at: string): string[] {
  const value = raw[key];
  return value === undefined || value === null ? [] : stringList(value, `${at}${key}`);
}

function readVersion(raw: unknown, index: number): CrdVersion {
  const at = `spec.versions[${index}].`;
  if (!isRecord(raw)) throw new Error(`${at}: expected a mapping`);
  const subresources = isRecord(raw.subresources) ? raw.subresources : {};
  const schemaHolder = raw.schema;
  const schema = isRecord(schemaHolder)
    ? readSchema(schemaHolder.openAPIV3Schema, `${at}schema.openAPIV3Schema`)
    : { type: 'object' as const, 'x-kubernetes-preserve-unknown-fields': true };
  return {
    name: text(raw, 'name', at),
    served: raw.served === true,
    storage: raw.storage === true,
    schema,
    subresources: { status: isRecord(subresources.status), scale: isRecord(subresources.scale) },
  };
}

/**
 * Parses an `apiextensions.k8s.io/v1` CustomResourceDefinition manifest.
 *
 * @throws Error when the text is not a well-formed v1 CRD (wrong kind, name not `<plural>.<group>`, not
 *   exactly one storage version, malformed schema).
 */
export function loadCrd(yamlText: string): CompiledCrd {
  const doc: unknown = parse(yamlText);
  if (
    !isRecord(doc) ||
    doc.apiVersion !== 'apiextensions.k8s.io/v1' ||
    doc.kind !== 'CustomResourceDefinition'
  ) {
    throw new Error('not an apiextensions.k8s.io/v1 CustomResourceDefinition');
  }
  const spec = field(doc, 'spec', '');
  const names = field(spec, 'names', 'spec.');
  const group = text(spec, 'group', 'spec.');
  const kind = text(names, 'kind', 'spec.names.');
  const plural = text(names, 'plural', 'spec.names.');
  const name = field(doc, 'metadata', '').name;
  if (name !== `${plural}.${group}`) throw new Error(`metadata.name must be "${plural}.${group}"`);
  if (spec.scope !== 'Namespaced' && spec.scope !== 'Cluster') throw new Error('spec.scope: invalid');
  if (!Array.isArray(spec.versions) || spec.versions.length === 0) throw new Error('spec.versions: required');
  const versions = spec.versions.map((version: unknown, i) => readVersion(version, i));
  if (versions.filter((version) => version.storage).length !== 1) {
    throw new Error('spec.versions: exactly one version must be the storage version');
  }
  return {
    group,
    plural,
    singular: typeof names.singular === 'string' ? names.singular : kind.toLowerCase(),
    kind,
    listKind: typeof names.listKind === 'string' ? names.listKind : `${kind}List`,
    shortNames: optionalStrings(names, 'shortNames', 'spec.names.'),
    categories: optionalStrings(names, 'categories', 'spec.names.'),
    scope: spec.scope,
    versions,
  };
}

/** {@link loadCrd} on a file (read synchronously). */
export function loadCrdFile(path: string): CompiledCrd {
  return loadCrd(readFileSync(path, 'utf8'));
}
