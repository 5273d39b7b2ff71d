/**
 * What kube-apiserver's apiextensions code does with a CRD's structural OpenAPI v3 schema when an object is
 * created or updated, as pure functions: prune unknown fields, apply defaults, validate (OpenAPI keywords,
 * `x-kubernetes-list-type` invariants, `x-kubernetes-validations` CEL rules).
 *
 * CEL runs on `@marcbachmann/cel-js` plus the Kubernetes extension functions that are cheap to provide here
 * (strings, regex, lists, sets, ip/cidr, url, quantity, format). A rule the evaluator cannot compile is
 * skipped rather than failing objects; {@link unsupportedRules} lists those rules.
 */
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { Environment, Optional } from '@marcbachmann/cel-js';
import type { ParseResult } from '@marcbachmann/cel-js';
import { parse } from 'yaml';
import type { JsonObject, JsonValue } from '../json.js';

// ---------------------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------------------

/** The `type` values a structural schema may use. */
export type SchemaType = 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';

/** One `x-kubernetes-validations` entry. */
export interface ValidationRule {
  /** The CEL expression; must evaluate to true. */
  rule: string;
  /** Message reported when the rule evaluates to false. */
  message?: string;
  /** CEL expression producing the message (falls back to `message` when it fails or is empty). */
  messageExpression?: string;
  /** Relative JSON path (`.spec.foo`) the failure is reported at. */
  fieldPath?: string;
  /** Reason of the reported cause (FieldValueInvalid when absent). */
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  /** Evaluate the transition rule on create too, with `oldSelf` an optional. */
  optionalOldSelf?: boolean;
}

/** The subset of OpenAPI v3 (plus Kubernetes extensions) that structural CRD schemas use. */
export interface Schema {
  type?: SchemaType;
  description?: string;
  format?: string;
  pattern?: string;
  nullable?: boolean;
  default?: JsonValue;
  enum?: JsonValue[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  minProperties?: number;
  maxProperties?: number;
  required?: string[];
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  allOf?: Schema[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  not?: Schema;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-validations'?: ValidationRule[];
}

/** One cause of a 422 Invalid status, as kube reports it. */
export interface FieldCause {
  reason:
    | 'FieldValueRequired'
    | 'FieldValueInvalid'
    | 'FieldValueNotSupported'
    | 'FieldValueTypeInvalid'
    | 'FieldValueTooLong'
    | 'FieldValueTooMany'
    | 'FieldValueForbidden'
    | 'FieldValueDuplicate';
  field: string;
  message: string;
}

/** One entry of a CRD's `spec.versions`. */
export interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  /** The version's `schema.openAPIV3Schema`. */
  schema: Schema;
  subresources: { status: boolean; scale: boolean };
}

/** The parts of a CustomResourceDefinition the API server needs to serve it. */
export interface CompiledCrd {
  group: string;
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  shortNames: string[];
  categories: string[];
  scope: 'Namespaced' | 'Cluster';
  versions: CrdVersion[];
}

/** Outcome of {@link prepareObject}. */
export interface ValidationResult {
  /** Every validation failure; empty when the object is valid. */
  causes: FieldCause[];
  /** Paths of the fields pruned as unknown (`spec.bogus`), for warnings or strict field validation. */
  unknownFields: string[];
}

// ---------------------------------------------------------------------------------------------------------
// JSON helpers
// ---------------------------------------------------------------------------------------------------------

function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function cloneJson(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(cloneJson);
  if (isJsonObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, cloneJson(child)]));
  }
  return value;
}

function jsonEqual(a: JsonValue, b: JsonValue): boolean {
  return stableStringify(a) === stableStringify(b);
}

/** JSON text with object keys sorted, usable as an identity key. */
function stableStringify(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (isJsonObject(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${stableStringify(value[key] ?? null)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The JSON type name of a value, as go-openapi reports it. */
function jsonTypeName(value: JsonValue): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function ownProperty(object: JsonObject, key: string): JsonValue | undefined {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

function childPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function indexPath(path: string, index: number): string {
  return `${path}[${index}]`;
}

function errorMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? text;
}

// ---------------------------------------------------------------------------------------------------------
// Reading schemas and CRDs from YAML
// ---------------------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------------------
// Causes, worded like k8s.io/apimachinery field errors
// ---------------------------------------------------------------------------------------------------------

type BadValue = JsonValue | undefined;

/** Formats a bad value like field.Error does: strings quoted, numbers bare, the rest as JSON. */
function describe(value: BadValue): string {
  if (value === undefined || value === null) return '"null"';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** The subject of go-openapi messages: `spec.replicas in body ...`. */
function subject(path: string): string {
  return `${path === '' ? '<root>' : path} in body`;
}

function requiredCause(path: string, detail = ''): FieldCause {
  return {
    reason: 'FieldValueRequired',
    field: path,
    message: detail ? `Required value: ${detail}` : 'Required value',
  };
}

function invalidCause(path: string, value: BadValue, detail: string): FieldCause {
  return {
    reason: 'FieldValueInvalid',
    field: path,
    message: `Invalid value: ${describe(value)}: ${detail}`,
  };
}

function typeInvalidCause(path: string, value: BadValue, detail: string): FieldCause {
  return {
    reason: 'FieldValueTypeInvalid',
    field: path,
    message: `Invalid value: ${describe(value)}: ${detail}`,
  };
}

function notSupportedCause(path: string, value: BadValue, allowed: JsonValue[]): FieldCause {
  const quoted = allowed.map((item) =>
    JSON.stringify(typeof item === 'string' ? item : JSON.stringify(item)),
  );
  return {
    reason: 'FieldValueNotSupported',
    field: path,
    message: `Unsupported value: ${describe(value)}: supported values: ${quoted.join(', ')}`,
  };
}

function tooLongCause(path: string, max: number): FieldCause {
  return { reason: 'FieldValueTooLong', field: path, message: `Too long: may not be more than ${max} bytes` };
}

function tooManyCause(path: string, actual: number, max: number): FieldCause {
  return {
    reason: 'FieldValueTooMany',
    field: path,
    message: `Too many: ${actual}: must have at most ${max} items`,
  };
}

function duplicateCause(path: string, value: BadValue): FieldCause {
  return { reason: 'FieldValueDuplicate', field: path, message: `Duplicate value: ${describe(value)}` };
}

function forbiddenCause(path: string, detail: string): FieldCause {
  return { reason: 'FieldValueForbidden', field: path, message: `Forbidden: ${detail}` };
}

// ---------------------------------------------------------------------------------------------------------
// RE2 (Go regexp) patterns as ECMAScript RegExps
// ---------------------------------------------------------------------------------------------------------

const POSIX_CLASSES: ReadonlyMap<string, string> = new Map([
  ['alnum', '0-9A-Za-z'],
  ['alpha', 'A-Za-z'],
  ['ascii', '\\x00-\\x7F'],
  ['blank', '\\t '],
  ['cntrl', '\\x00-\\x1F\\x7F'],
  ['digit', '0-9'],
  ['graph', '!-~'],
  ['lower', 'a-z'],
  ['print', ' -~'],
  ['punct', '!-\\/:-@\\[-`{-~'],
  ['space', '\\t\\n\\v\\f\\r '],
  ['upper', 'A-Z'],
  ['word', '0-9A-Za-z_'],
  ['xdigit', '0-9A-Fa-f'],
]);

/** Translates one escape at `source[i]` (a backslash); returns the JS text and how many characters it used. */
function translateEscape(source: string, i: number): [string, number] {
  const next = source.charAt(i + 1);
  if (next === 'z') return ['$', 2];
  if (next === 'A') return ['^', 2];
  if ((next === 'p' || next === 'P') && source.charAt(i + 2) !== '{')
    return [`\\${next}{${source.charAt(i + 2)}}`, 3];
  if (next === 'Q') {
    const end = source.indexOf('\\E', i + 2);
    const literal = source.slice(i + 2, end < 0 ? source.length : end);
    return [literal.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&'), (end < 0 ? source.length : end + 2) - i];
  }
  return [source.slice(i, i + 2), 2];
}

/** Rewrites the RE2-only syntax of a pattern: POSIX classes, `(?P<name>`, `\z`, `\A`, `\pL`, `\Q…\E`. */
function translateRe2Source(source: string): string {
  let out = '';
  let inClass = false;
  let i = 0;
  while (i < source.length) {
    const ch = source.charAt(i);
    const posixEnd = inClass && source.startsWith('[:', i) ? source.indexOf(':]', i + 2) : -1;
    const posix = posixEnd > 0 ? POSIX_CLASSES.get(source.slice(i + 2, posixEnd)) : undefined;
    let piece = ch;
    let width = 1;
    if (ch === '\\') [piece, width] = translateEscape(source, i);
    else if (posix !== undefined) [piece, width] = [posix, posixEnd + 2 - i];
    else if (!inClass && source.startsWith('(?P<', i)) [piece, width] = ['(?<', 4];
    else if (!inClass && ch === '[') {
      inClass = true;
      const negated = source.charAt(i + 1) === '^';
      const start = negated ? '[^' : '[';
      // RE2 takes a `]` right after the opening bracket literally.
      [piece, width] =
        source.charAt(i + start.length) === ']' ? [`${start}\\]`, start.length + 1] : [start, start.length];
    } else if (inClass && ch === ']') inClass = false;
    out += piece;
    i += width;
  }
  return out;
}

const regexCache = new Map<string, RegExp | null>();
const REGEX_CACHE_LIMIT = 1000;

/** Compiles an RE2 pattern (as CRD `pattern` and CEL `matches` use), or returns undefined if it cannot. */
function compileRe2(pattern: string): RegExp | undefined {
  const cached = regexCache.get(pattern);
  if (cached !== undefined) return cached ?? undefined;
  let source = pattern;
  let flags = '';
  const leading = /^\(\?([ims]+)\)/.exec(source);
  if (leading) {
    flags = [...new Set(leading[1] ?? '')].join('');
    source = source.slice(leading[0].length);
  }
  source = translateRe2Source(source);
  let compiled: RegExp | null = null;
  for (const extra of ['u', '']) {
    try {
      compiled = new RegExp(source, flags + extra);
      break;
    } catch {
      // try without the unicode flag, which rejects some escapes RE2 accepts
    }
  }
  if (regexCache.size >= REGEX_CACHE_LIMIT) regexCache.clear();
  regexCache.set(pattern, compiled);
  return compiled ?? undefined;
}

function re2(pattern: string): RegExp {
  const compiled = compileRe2(pattern);
  if (!compiled) throw new Error(`invalid regular expression: ${pattern}`);
  return compiled;
}

// ---------------------------------------------------------------------------------------------------------
// Pruning
// ---------------------------------------------------------------------------------------------------------

function ownSchema(map: Record<string, Schema> | undefined, key: string): Schema | undefined {
  return map !== undefined && Object.hasOwn(map, key) ? map[key] : undefined;
}

/** The schema of `key` in an object: a declared property, else `additionalProperties`. */
function propertySchema(schema: Schema, key: string): Schema | undefined {
  const additional = schema.additionalProperties;
  return ownSchema(schema.properties, key) ?? (typeof additional === 'object' ? additional : undefined);
}

function preservesUnknown(schema: Schema): boolean {
  return schema['x-kubernetes-preserve-unknown-fields'] === true || schema.additionalProperties === true;
}

/** A pruned deep copy of `value`; paths of dropped fields go to `unknown`. */
function pruneValue(value: JsonValue, schema: Schema, path: string, unknown: string[]): JsonValue {
  if (Array.isArray(value)) {
    const items = schema.items;
    return items
      ? value.map((item, i) => pruneValue(item, items, indexPath(path, i), unknown))
      : value.map(cloneJson);
  }
  if (!isJsonObject(value)) return value;
  const embedded = schema['x-kubernetes-embedded-resource'] === true;
  const entries: Array<[string, JsonValue]> = [];
  for (const [key, child] of Object.entries(value)) {
    const kept = pruneProperty(key, child, { schema, path: childPath(path, key), unknown, embedded });
    if (kept !== undefined) entries.push([key, kept]);
  }
  return Object.fromEntries(entries);
}

interface PruneContext {
  /** Schema of the object holding the property. */
  schema: Schema;
  /** Path of the property. */
  path: string;
  unknown: string[];
  /** Whether the holder is the root or an embedded resource. */
  embedded: boolean;
}

function pruneProperty(key: string, child: JsonValue, context: PruneContext): JsonValue | undefined {
  const { schema, path, unknown, embedded } = context;
  // apiVersion, kind and metadata of the root (and of embedded resources) are ObjectMeta's business.
  if (embedded && key === 'metadata') return cloneJson(child);
  const sub = propertySchema(schema, key);
  if (sub) return pruneValue(child, sub, path, unknown);
  if (preservesUnknown(schema) || (embedded && (key === 'apiVersion' || key === 'kind')))
    return cloneJson(child);
  unknown.push(path);
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Defaulting (mutates the pruned copy)
// ---------------------------------------------------------------------------------------------------------

function isNonNullableNull(value: JsonValue | undefined, schema: Schema): boolean {
  return value === null && schema.nullable !== true;
}

function applyDefaults(value: JsonValue, schema: Schema, root: boolean): void {
  if (Array.isArray(value)) {
    const items = schema.items;
    if (!items) return;
    value.forEach((item, i) => {
      if (isNonNullableNull(item, items) && items.default !== undefined) value[i] = cloneJson(items.default);
      applyDefaults(value[i] ?? null, items, false);
    });
    return;
  }
  if (isJsonObject(value)) defaultObject(value, schema, root);
}

/** Sets missing (or non-nullable null) properties that have a default; drops other non-nullable nulls. */
function defaultObject(object: JsonObject, schema: Schema, root: boolean): void {
  for (const [key, child] of Object.entries(object)) {
    if (root && key === 'metadata') continue;
    const sub = propertySchema(schema, key);
    if (sub === undefined || !isNonNullableNull(child, sub)) continue;
    if (sub.default !== undefined) object[key] = cloneJson(sub.default);
    else delete object[key];
  }
  for (const [key, sub] of Object.entries(schema.properties ?? {})) {
    if (sub.default !== undefined && !Object.hasOwn(object, key)) object[key] = cloneJson(sub.default);
  }
  for (const [key, child] of Object.entries(object)) {
    const sub = root && key === 'metadata' ? undefined : propertySchema(schema, key);
    if (sub) applyDefaults(child, sub, false);
  }
}

// ---------------------------------------------------------------------------------------------------------
// OpenAPI validation
// ---------------------------------------------------------------------------------------------------------

type Causes = FieldCause[];

function expectedType(schema: Schema): string | undefined {
  return schema['x-kubernetes-int-or-string'] === true ? 'integer or string' : schema.type;
}

function typeMatches(value: JsonValue, expected: string): boolean {
  switch (expected) {
    case 'integer or string':
      return typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value));
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'object':
      return isJsonObject(value);
    case 'array':
      return Array.isArray(value);
    default:
      return typeof value === expected;
  }
}

/** Validates `value` against `schema` (and its subtree); appends to `out`. */
function validateValue(value: JsonValue, schema: Schema, path: string, out: Causes): void {
  if (value === null && schema.nullable === true) return;
  const expected = expectedType(schema);
  if (expected !== undefined && !typeMatches(value, expected)) {
    const actual = jsonTypeName(value);
    out.push(typeInvalidCause(path, actual, `${subject(path)} must be of type ${expected}: "${actual}"`));
    return;
  }
  if (schema.enum !== undefined && !schema.enum.some((allowed) => jsonEqual(allowed, value))) {
    out.push(notSupportedCause(path, value, schema.enum));
  }
  if (typeof value === 'string') validateString(value, schema, path, out);
  else if (typeof value === 'number') validateNumber(value, schema, path, out);
  else if (Array.isArray(value)) validateArray(value, schema, path, out);
  else if (isJsonObject(value)) validateObject(value, schema, path, out);
  validateComposition(value, schema, path, out);
}

function validateString(value: string, schema: Schema, path: string, out: Causes): void {
  const length = [...value].length;
  if (schema.minLength !== undefined && length < schema.minLength) {
    out.push(invalidCause(path, value, `${subject(path)} should be at least ${schema.minLength} chars long`));
  }
  if (schema.maxLength !== undefined && length > schema.maxLength)
    out.push(tooLongCause(path, schema.maxLength));
  const pattern = schema.pattern === undefined ? undefined : compileRe2(schema.pattern);
  if (pattern && !pattern.test(value)) {
    out.push(invalidCause(path, value, `${subject(path)} should match '${schema.pattern ?? ''}'`));
  }
  const format = schema.format?.replaceAll('-', '').toLowerCase();
  const check = format === undefined ? undefined : STRING_FORMATS.get(format);
  if (check && !check(value)) {
    out.push(
      typeInvalidCause(
        path,
        value,
        `${subject(path)} must be of type ${schema.format ?? ''}: ${describe(value)}`,
      ),
    );
  }
}

const INT_RANGES: ReadonlyMap<string, readonly [number, number]> = new Map([
  ['int32', [-(2 ** 31), 2 ** 31 - 1]],
  ['int64', [-(2 ** 63), 2 ** 63 - 1]],
]);

function validateBounds(value: number, schema: Schema, path: string, out: Causes): void {
  const { minimum, maximum } = schema;
  if (minimum !== undefined) {
    const exclusive = schema.exclusiveMinimum === true;
    if (exclusive ? value <= minimum : value < minimum) {
      const bound = exclusive ? 'greater than' : 'greater than or equal to';
      out.push(invalidCause(path, value, `${subject(path)} should be ${bound} ${minimum}`));
    }
  }
  if (maximum !== undefined) {
    const exclusive = schema.exclusiveMaximum === true;
    if (exclusive ? value >= maximum : value > maximum) {
      const bound = exclusive ? 'less than' : 'less than or equal to';
      out.push(invalidCause(path, value, `${subject(path)} should be ${bound} ${maximum}`));
    }
  }
}

function validateNumber(value: number, schema: Schema, path: string, out: Causes): void {
  validateBounds(value, schema, path, out);
  const { multipleOf } = schema;
  if (multipleOf !== undefined && multipleOf > 0 && !Number.isInteger(value / multipleOf)) {
    out.push(invalidCause(path, value, `${subject(path)} should be a multiple of ${multipleOf}`));
  }
  const range = schema.format === undefined ? undefined : INT_RANGES.get(schema.format);
  if (range && (value < range[0] || value > range[1])) {
    out.push(
      invalidCause(path, value, `${subject(path)} must be of type ${schema.format ?? ''}: "${value}"`),
    );
  }
}

function validateArray(value: JsonValue[], schema: Schema, path: string, out: Causes): void {
  if (schema.minItems !== undefined && value.length < schema.minItems) {
    out.push(
      invalidCause(path, value.length, `${subject(path)} should have at least ${schema.minItems} items`),
    );
  }
  if (schema.maxItems !== undefined && value.length > schema.maxItems) {
    out.push(tooManyCause(path, value.length, schema.maxItems));
  }
  if (schema.uniqueItems === true && new Set(value.map(stableStringify)).size !== value.length) {
    out.push(invalidCause(path, 'array', `${subject(path)} shouldn't contain duplicates`));
  }
  const items = schema.items;
  if (items) value.forEach((item, i) => validateValue(item, items, indexPath(path, i), out));
  validateListType(value, schema, path, out);
}

/** `x-kubernetes-list-type: set|map` invariants: no duplicate items, no duplicate map keys. */
function validateListType(value: JsonValue[], schema: Schema, path: string, out: Causes): void {
  const listType = schema['x-kubernetes-list-type'];
  if (listType !== 'set' && listType !== 'map') return;
  const keys = schema['x-kubernetes-list-map-keys'] ?? [];
  const seen = new Set<string>();
  value.forEach((item, i) => {
    const identity = listType === 'set' ? item : mapListKey(item, keys);
    if (identity === undefined) return;
    const key = stableStringify(identity);
    if (seen.has(key)) out.push(duplicateCause(indexPath(path, i), identity));
    seen.add(key);
  });
}

/** The key fields of a `list-type: map` item (absent keys left out), or undefined for a non-object. */
function mapListKey(item: JsonValue, keys: string[]): JsonObject | undefined {
  if (!isJsonObject(item)) return undefined;
  const entries: Array<[string, JsonValue]> = [];
  for (const key of keys) {
    const value = ownProperty(item, key);
    if (value !== undefined) entries.push([key, value]);
  }
  return Object.fromEntries(entries);
}

function validateObject(value: JsonObject, schema: Schema, path: string, out: Causes): void {
  for (const key of schema.required ?? []) {
    if (!Object.hasOwn(value, key)) out.push(requiredCause(childPath(path, key)));
  }
  const count = Object.keys(value).length;
  if (schema.minProperties !== undefined && count < schema.minProperties) {
    out.push(
      invalidCause(path, count, `${subject(path)} should have at least ${schema.minProperties} properties`),
    );
  }
  if (schema.maxProperties !== undefined && count > schema.maxProperties) {
    out.push(tooManyCause(path, count, schema.maxProperties));
  }
  for (const [key, child] of Object.entries(value)) {
    const sub = propertySchema(schema, key);
    if (sub) validateValue(child, sub, childPath(path, key), out);
  }
}

function passes(value: JsonValue, schema: Schema, path: string): boolean {
  const scratch: Causes = [];
  validateValue(value, schema, path, scratch);
  return scratch.length === 0;
}

/** allOf / anyOf / oneOf / not, reported like go-openapi's composite errors. */
function validateComposition(value: JsonValue, schema: Schema, path: string, out: Causes): void {
  const typeName = jsonTypeName(value);
  if (schema.allOf) {
    const before = out.length;
    for (const sub of schema.allOf) validateValue(value, sub, path, out);
    if (out.length > before)
      out.push(invalidCause(path, typeName, `${subject(path)} must validate all the schemas (allOf)`));
  }
  if (schema.anyOf && !schema.anyOf.some((sub) => passes(value, sub, path))) {
    out.push(invalidCause(path, typeName, `${subject(path)} must validate at least one schema (anyOf)`));
  }
  if (schema.oneOf) {
    const valid = schema.oneOf.filter((sub) => passes(value, sub, path)).length;
    if (valid !== 1) {
      const found = valid > 1 ? `. Found ${valid} valid alternatives` : '';
      out.push(
        invalidCause(
          path,
          typeName,
          `${subject(path)} must validate one and only one schema (oneOf)${found}`,
        ),
      );
    }
  }
  if (schema.not && passes(value, schema.not, path)) {
    out.push(invalidCause(path, typeName, `${subject(path)} must not validate the schema (not)`));
  }
}

// ---------------------------------------------------------------------------------------------------------
// String formats (k8s.io/kube-openapi strfmt)
// ---------------------------------------------------------------------------------------------------------

function isDate(value: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

function isDateTime(value: string): boolean {
  const parts = value.toLowerCase().split('t');
  if (value.length < 4 || parts.length < 2 || !isDate(parts[0] ?? '')) return false;
  const time = /^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$/.exec(parts[1] ?? '');
  return time !== null && (time[1] ?? '') <= '23' && (time[2] ?? '') <= '59' && (time[3] ?? '') <= '59';
}

function isBase64(value: string): boolean {
  return /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(
    value.replace(/[\r\n]/g, ''),
  );
}

const GO_DURATION = /^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$/;
const DURATION_UNITS: readonly (readonly string[])[] = [
  ['ns', 'nano'],
  ['us', 'µs', 'micro'],
  ['ms', 'milli'],
  ['s', 'sec'],
  ['m', 'min'],
  ['h', 'hr', 'hour'],
  ['d', 'day'],
  ['w', 'wk', 'week'],
];

/** strfmt.ParseDuration: a Go duration, or `<n> <unit>` words such as `3 days`. */
function isDuration(value: string): boolean {
  if (GO_DURATION.test(value)) return true;
  for (const match of value.matchAll(/(\d+)\s*([A-Za-zµ]+)/g)) {
    const unit = (match[2] ?? '').trim().toLowerCase();
    const known = DURATION_UNITS.some((variants) =>
      variants.some(
        (variant, i) => variant === unit || (i === variants.length - 1 && unit.startsWith(variant)),
      ),
    );
    if (known) return true;
  }
  return false;
}

const HOSTNAME =
  /^([a-zA-Z0-9\p{S}\p{L}]((-?[a-zA-Z0-9\p{S}\p{L}]{0,62})?)|([a-zA-Z0-9\p{S}\p{L}](([a-zA-Z0-9\-\p{S}\p{L}]{0,61}[a-zA-Z0-9\p{S}\p{L}])?)(\.)){1,}([a-zA-Z\p{L}]){2,63})$/u;

function isHostname(value: string): boolean {
  return HOSTNAME.test(value) && value.length <= 255 && value.split('.').every((label) => label.length <= 63);
}

/** net.ParseIP without zones (Go rejects them). */
function isGoIP(value: string): boolean {
  return !value.includes('%') && (isIPv4(value) || isIPv6(value));
}

function isCidrText(value: string): boolean {
  return parseCidr(value) !== undefined;
}

const UUID_PATTERNS: ReadonlyArray<readonly [string, RegExp]> = [
  ['uuid', /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i],
  ['uuid3', /^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i],
  ['uuid4', /^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$/i],
  ['uuid5', /^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$/i],
];

/** Validators by normalized format name (dashes removed); formats not listed are accepted. */
const STRING_FORMATS: ReadonlyMap<string, (value: string) => boolean> = new Map([
  ['datetime', isDateTime],
  ['date', isDate],
  ['byte', isBase64],
  ['duration', isDuration],
  ['hostname', isHostname],
  ['ipv4', (value: string) => isGoIP(value) && value.includes('.')],
  ['ipv6', (value: string) => isGoIP(value) && value.includes(':')],
  ['cidr', isCidrText],
  ...UUID_PATTERNS.map(([name, pattern]): [string, (value: string) => boolean] => [
    name,
    (v) => pattern.test(v),
  ]),
]);

// ---------------------------------------------------------------------------------------------------------
// CEL values and the Kubernetes extension libraries
// ---------------------------------------------------------------------------------------------------------

type CelValue = null | boolean | number | bigint | string | CelValue[] | { [key: string]: CelValue };

/** A JSON value as CEL sees it under `schema`: integers become `int` (bigint), `type: number` stays double. */
function toCel(value: JsonValue, schema: Schema | undefined): CelValue {
  if (typeof value === 'number') {
    return schema?.type === 'number' || !Number.isInteger(value) ? value : BigInt(value);
  }
  if (Array.isArray(value)) {
    const items = schema?.items;
    return value.map((item) => toCel(item, items));
  }
  if (isJsonObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, child]) => [key, toCel(child, schema && propertySchema(schema, key))]),
    );
  }
  return value;
}

/** `self` for a node; at the root only `metadata.name` and `metadata.generateName` are visible, as in kube. */
function celSelf(value: JsonValue, schema: Schema, root: boolean): CelValue {
  const converted = toCel(value, schema);
  if (!root || !isJsonObject(value) || typeof converted !== 'object' || converted === null) return converted;
  if (Array.isArray(converted)) return converted;
  const metadata = isJsonObject(value.metadata) ? value.metadata : {};
  const visible = Object.entries(metadata).filter(([key]) => key === 'name' || key === 'generateName');
  return {
    ...converted,
    metadata: Object.fromEntries(visible.map(([key, child]) => [key, toCel(child, undefined)])),
  };
}

function celFail(message: string): never {
  throw new Error(message);
}

function celEqual(a: unknown, b: unknown): boolean {
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) {
    return Number(a) === Number(b);
  }
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((item, i) => celEqual(item, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length &&
      keys.every((key) => Object.hasOwn(b, key) && celEqual(a[key], b[key]))
    );
  }
  return a === b;
}

function celCompare(a: unknown, b: unknown): number {
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) {
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return celFail('no such overload: comparison of incompatible types');
}

function celSum(list: unknown[]): unknown {
  if (list.length === 0) return 0n;
  if (list.every((item): item is bigint => typeof item === 'bigint'))
    return list.reduce((sum, item) => sum + item, 0n);
  if (list.every((item): item is number => typeof item === 'number'))
    return list.reduce((sum, item) => sum + item, 0);
  return celFail('no such overload: sum() of mixed or non-numeric list');
}

function celExtreme(list: unknown[], sign: 1 | -1): unknown {
  if (list.length === 0) return celFail('min/max of an empty list');
  return list.reduce((best, item) => (celCompare(item, best) * sign > 0 ? item : best));
}

function charAt(value: string, index: bigint): string {
  const chars = [...value];
  const i = Number(index);
  if (i < 0 || i > chars.length) return celFail(`index out of range: ${i}`);
  return chars[i] ?? '';
}

function replaceN(value: string, from: string, to: string, limit: bigint): string {
  const parts = value.split(from);
  const n = Number(limit);
  if (n < 0 || parts.length - 1 <= n) return parts.join(to);
  return parts.slice(0, n + 1).join(to) + from + parts.slice(n + 1).join(from);
}

function findAll(value: string, pattern: string, limit: number): string[] {
  const compiled = re2(pattern);
  const global = new RegExp(compiled.source, `${compiled.flags}g`);
  const found = [...value.matchAll(global)].map((match) => match[0]);
  return limit < 0 ? found : found.slice(0, limit);
}

function registerStringLibrary(env: Environment): void {
  env
    .registerFunction('string.charAt(int): string', charAt)
    .registerFunction('string.replace(string, string): string', (s: string, a: string, b: string) =>
      s.split(a).join(b),
    )
    .registerFunction('string.replace(string, string, int): string', replaceN)
    .registerFunction('string.reverse(): string', (s: string) => [...s].reverse().join(''))
    // `matches` is rewritten to `re2Matches` before compiling, to get RE2 syntax (POSIX classes, …).
    .registerFunction('string.re2Matches(string): bool', (s: string, pattern: string) => re2(pattern).test(s))
    .registerFunction('re2Matches(string, string): bool', (s: string, pattern: string) =>
      re2(pattern).test(s),
    )
    .registerFunction(
      'string.find(string): string',
      (s: string, pattern: string) => re2(pattern).exec(s)?.[0] ?? '',
    )
    .registerFunction('string.findAll(string): list<string>', (s: string, pattern: string) =>
      findAll(s, pattern, -1),
    )
    .registerFunction('string.findAll(string, int): list<string>', (s: string, pattern: string, n: bigint) =>
      findAll(s, pattern, Number(n)),
    );
}

class SetsNamespace {}

function registerListLibrary(env: Environment): void {
  const contains = (list: unknown[], items: unknown[]): boolean =>
    items.every((item) => list.some((member) => celEqual(member, item)));
  env
    .registerFunction('list.isSorted(): bool', (list: unknown[]) =>
      list.every((item, i) => i === 0 || celCompare(list[i - 1], item) <= 0),
    )
    .registerFunction('list.sum(): dyn', celSum)
    .registerFunction('list.min(): dyn', (list: unknown[]) => celExtreme(list, -1))
    .registerFunction('list.max(): dyn', (list: unknown[]) => celExtreme(list, 1))
    .registerFunction('list.indexOf(dyn): int', (list: unknown[], item: unknown) =>
      BigInt(list.findIndex((member) => celEqual(member, item))),
    )
    .registerFunction('list.lastIndexOf(dyn): int', (list: unknown[], item: unknown) =>
      BigInt(list.findLastIndex((member) => celEqual(member, item))),
    )
    .registerType('SetsNamespace', SetsNamespace)
    .registerConstant('sets', 'SetsNamespace', new SetsNamespace())
    .registerFunction(
      'SetsNamespace.contains(list, list): bool',
      (_: SetsNamespace, a: unknown[], b: unknown[]) => contains(a, b),
    )
    .registerFunction(
      'SetsNamespace.equivalent(list, list): bool',
      (_: SetsNamespace, a: unknown[], b: unknown[]) => contains(a, b) && contains(b, a),
    )
    .registerFunction(
      'SetsNamespace.intersects(list, list): bool',
      (_: SetsNamespace, a: unknown[], b: unknown[]) =>
        b.some((item) => a.some((member) => celEqual(member, item))),
    );
}

/** An IP address (the `net.IP` CEL type). */
class CelIP {
  constructor(
    readonly family: 4 | 6,
    readonly bits: bigint,
    readonly text: string,
  ) {}
}

/** A CIDR (the `net.CIDR` CEL type). */
class CelCIDR {
  constructor(
    readonly address: CelIP,
    readonly prefix: number,
  ) {}
}

function ipv4Bits(text: string): bigint {
  return text.split('.').reduce((bits, octet) => (bits << 8n) | BigInt(Number(octet)), 0n);
}

function ipv6Groups(part: string): bigint[] {
  if (part === '') return [];
  return part.split(':').flatMap((group) => {
    if (!group.includes('.')) return [BigInt(parseInt(group, 16))];
    const bits = ipv4Bits(group);
    return [bits >> 16n, bits & 0xffffn];
  });
}

function ipv6Bits(text: string): bigint {
  const [head = '', tail] = text.split('::');
  const left = ipv6Groups(head);
  const right = tail === undefined ? [] : ipv6Groups(tail);
  const groups = [...left, ...Array<bigint>(8 - left.length - right.length).fill(0n), ...right];
  return groups.reduce((bits, group) => (bits << 16n) | group, 0n);
}

/** netip.ParseAddr as the Kubernetes CEL ip library uses it: no zones, no IPv4-mapped IPv6. */
function parseIp(text: string): CelIP | undefined {
  if (text.includes('%')) return undefined;
  if (isIPv4(text)) return new CelIP(4, ipv4Bits(text), text);
  if (!isIPv6(text)) return undefined;
  const bits = ipv6Bits(text);
  return bits >> 32n === 0xffffn ? undefined : new CelIP(6, bits, text);
}

function parseCidr(text: string): CelCIDR | undefined {
  const [address = '', prefix, extra] = text.split('/');
  const ip = parseIp(address);
  if (!ip || prefix === undefined || extra !== undefined || !/^\d{1,3}$/.test(prefix)) return undefined;
  const length = Number(prefix);
  return length <= (ip.family === 4 ? 32 : 128) ? new CelCIDR(ip, length) : undefined;
}

function cidrContains(cidr: CelCIDR, ip: CelIP): boolean {
  if (cidr.address.family !== ip.family) return false;
  const shift = BigInt((ip.family === 4 ? 32 : 128) - cidr.prefix);
  return cidr.address.bits >> shift === ip.bits >> shift;
}

function registerNetworkLibrary(env: Environment): void {
  const ip = (text: string): CelIP => parseIp(text) ?? celFail(`IP Address '${text}' parse error`);
  const cidr = (text: string): CelCIDR =>
    parseCidr(text) ?? celFail(`network address parse error during conversion`);
  env
    .registerType('net.IP', CelIP)
    .registerType('net.CIDR', CelCIDR)
    .registerFunction('isIP(string): bool', (text: string) => parseIp(text) !== undefined)
    .registerFunction('ip(string): net.IP', ip)
    .registerFunction('net.IP.family(): int', (address: CelIP) => BigInt(address.family))
    .registerFunction('net.IP.isUnspecified(): bool', (address: CelIP) => address.bits === 0n)
    .registerFunction('net.IP.isLoopback(): bool', (address: CelIP) =>
      address.family === 4 ? address.bits >> 24n === 127n : address.bits === 1n,
    )
    .registerFunction('isCIDR(string): bool', (text: string) => parseCidr(text) !== undefined)
    .registerFunction('cidr(string): net.CIDR', cidr)
    .registerFunction('net.CIDR.prefixLength(): int', (range: CelCIDR) => BigInt(range.prefix))
    .registerFunction('net.CIDR.ip(): net.IP', (range: CelCIDR) => range.address)
    .registerFunction('net.CIDR.containsIP(string): bool', (range: CelCIDR, text: string) =>
      cidrContains(range, ip(text)),
    )
    .registerFunction('net.CIDR.containsIP(net.IP): bool', cidrContains);
}

/** A parsed URL (the `kubernetes.URL` CEL type); `url` is undefined for a bare absolute path. */
class CelURL {
  constructor(
    readonly url: URL | undefined,
    readonly path: string,
  ) {}
}

/** url.ParseRequestURI: an absolute URL or an absolute path. */
function parseUrl(text: string): CelURL | undefined {
  if (text.startsWith('/')) return new CelURL(undefined, text);
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(text) || /\s/.test(text)) return undefined;
  try {
    return new CelURL(new URL(text), '');
  } catch {
    return undefined;
  }
}

function urlQuery(value: CelURL): Record<string, string[]> {
  const params = value.url?.searchParams ?? new URLSearchParams(value.path.split('?')[1] ?? '');
  const query: Record<string, string[]> = {};
  for (const [key, item] of params) query[key] = [...(query[key] ?? []), item];
  return query;
}

function registerUrlLibrary(env: Environment): void {
  env
    .registerType('kubernetes.URL', CelURL)
    .registerFunction('isURL(string): bool', (text: string) => parseUrl(text) !== undefined)
    .registerFunction(
      'url(string): kubernetes.URL',
      (text: string) => parseUrl(text) ?? celFail(`URL parse error: ${text}`),
    )
    .registerFunction(
      'kubernetes.URL.getScheme(): string',
      (u: CelURL) => u.url?.protocol.replace(/:$/, '') ?? '',
    )
    .registerFunction('kubernetes.URL.getHost(): string', (u: CelURL) => u.url?.host ?? '')
    .registerFunction('kubernetes.URL.getHostname(): string', (u: CelURL) =>
      (u.url?.hostname ?? '').replace(/^\[(.*)\]$/, '$1'),
    )
    .registerFunction('kubernetes.URL.getPort(): string', (u: CelURL) => u.url?.port ?? '')
    .registerFunction('kubernetes.URL.getEscapedPath(): string', (u: CelURL) =>
      u.url ? u.url.pathname : (u.path.split('?')[0] ?? ''),
    )
    .registerFunction('kubernetes.URL.getQuery(): map<string, list<string>>', urlQuery);
}

const QUANTITY =
  /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))((?:[KMGTPE]i)|[numkMGTPE]|(?:[eE][+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)))?$/;
const QUANTITY_SUFFIXES: ReadonlyMap<string, number> = new Map([
  ['', 1],
  ['n', 1e-9],
  ['u', 1e-6],
  ['m', 1e-3],
  ['k', 1e3],
  ['M', 1e6],
  ['G', 1e9],
  ['T', 1e12],
  ['P', 1e15],
  ['E', 1e18],
  ['Ki', 2 ** 10],
  ['Mi', 2 ** 20],
  ['Gi', 2 ** 30],
  ['Ti', 2 ** 40],
  ['Pi', 2 ** 50],
  ['Ei', 2 ** 60],
]);

/** A resource quantity (the `kubernetes.Quantity` CEL type), held as an approximate float. */
class CelQuantity {
  constructor(readonly value: number) {}
}

function parseQuantity(text: string): CelQuantity | undefined {
  const match = QUANTITY.exec(text);
  if (!match) return undefined;
  const suffix = match[2] ?? '';
  const factor = QUANTITY_SUFFIXES.get(suffix) ?? 10 ** Number(suffix.slice(1));
  return new CelQuantity(Number(match[1]) * factor);
}

function registerQuantityLibrary(env: Environment): void {
  const compare = (a: CelQuantity, b: CelQuantity): bigint => BigInt(Math.sign(a.value - b.value));
  env
    .registerType('kubernetes.Quantity', CelQuantity)
    .registerFunction('isQuantity(string): bool', (text: string) => parseQuantity(text) !== undefined)
    .registerFunction(
      'quantity(string): kubernetes.Quantity',
      (text: string) =>
        parseQuantity(text) ?? celFail(`quantities must match the regular expression '${QUANTITY.source}'`),
    )
    .registerFunction('kubernetes.Quantity.asApproximateFloat(): double', (q: CelQuantity) => q.value)
    .registerFunction('kubernetes.Quantity.isInteger(): bool', (q: CelQuantity) => Number.isInteger(q.value))
    .registerFunction('kubernetes.Quantity.asInteger(): int', (q: CelQuantity) =>
      Number.isInteger(q.value) ? BigInt(q.value) : celFail('cannot convert value to integer'),
    )
    .registerFunction('kubernetes.Quantity.sign(): int', (q: CelQuantity) => BigInt(Math.sign(q.value)))
    .registerFunction('kubernetes.Quantity.compareTo(kubernetes.Quantity): int', compare)
    .registerFunction(
      'kubernetes.Quantity.isGreaterThan(kubernetes.Quantity): bool',
      (a: CelQuantity, b: CelQuantity) => a.value > b.value,
    )
    .registerFunction(
      'kubernetes.Quantity.isLessThan(kubernetes.Quantity): bool',
      (a: CelQuantity, b: CelQuantity) => a.value < b.value,
    )
    .registerFunction(
      'kubernetes.Quantity.add(kubernetes.Quantity): kubernetes.Quantity',
      (a: CelQuantity, b: CelQuantity) => new CelQuantity(a.value + b.value),
    )
    .registerFunction(
      'kubernetes.Quantity.sub(kubernetes.Quantity): kubernetes.Quantity',
      (a: CelQuantity, b: CelQuantity) => new CelQuantity(a.value - b.value),
    );
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

function regexFormat(pattern: RegExp, max: number, description: string): (value: string) => string[] {
  return (value) => [
    ...(value.length > max ? [`must be no more than ${max} characters`] : []),
    ...(pattern.test(value) ? [] : [`${description} (regex used for validation is '${pattern.source}')`]),
  ];
}

const dns1123Label = regexFormat(
  DNS1123_LABEL,
  63,
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
);
const dns1123Subdomain = regexFormat(
  DNS1123_SUBDOMAIN,
  253,
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
);
const dns1035Label = regexFormat(
  DNS1035_LABEL,
  63,
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
);
const labelValue = (value: string): string[] =>
  value === ''
    ? []
    : regexFormat(
        QUALIFIED_NAME_PART,
        63,
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
      )(value);

function qualifiedName(value: string): string[] {
  const parts = value.split('/');
  const name = parts[parts.length - 1] ?? '';
  if (parts.length > 2) return ["a qualified name must consist of alphanumeric characters, '-', '_' or '.'"];
  const prefixErrors =
    parts.length === 2 ? dns1123Subdomain(parts[0] ?? '').map((e) => `prefix part ${e}`) : [];
  if (name === '') return [...prefixErrors, 'name part must be non-empty'];
  return [
    ...prefixErrors,
    ...regexFormat(
      QUALIFIED_NAME_PART,
      63,
      "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
    )(name),
  ];
}

/** Prefix formats (generateName) accept a trailing dash. */
function asPrefix(check: (value: string) => string[]): (value: string) => string[] {
  return (value) => check(value.endsWith('-') ? `${value.slice(0, -1)}a` : value);
}

const FORMAT_VALIDATORS: ReadonlyMap<string, (value: string) => string[]> = new Map([
  ['dns1123Label', dns1123Label],
  ['dns1123Subdomain', dns1123Subdomain],
  ['dns1035Label', dns1035Label],
  ['qualifiedName', qualifiedName],
  ['dns1123LabelPrefix', asPrefix(dns1123Label)],
  ['dns1123SubdomainPrefix', asPrefix(dns1123Subdomain)],
  ['dns1035LabelPrefix', asPrefix(dns1035Label)],
  ['labelValue', labelValue],
  ['uri', (value: string) => (parseUrl(value) ? [] : ['invalid URI'])],
  ['uuid', (value: string) => (UUID_PATTERNS[0]?.[1].test(value) ? [] : ['does not match the UUID format'])],
  ['byte', (value: string) => (isBase64(value) ? [] : ['invalid base64'])],
  ['date', (value: string) => (isDate(value) ? [] : ['an RFC3339 date'])],
  ['datetime', (value: string) => (isDateTime(value) ? [] : ['an RFC3339 date-time'])],
]);

class FormatNamespace {}

/** A named string format (the `kubernetes.NamedFormat` CEL type). */
class NamedFormat {
  constructor(readonly check: (value: string) => string[]) {}
}

function registerFormatLibrary(env: Environment): void {
  env
    .registerType('FormatNamespace', FormatNamespace)
    .registerType('kubernetes.NamedFormat', NamedFormat)
    .registerConstant('format', 'FormatNamespace', new FormatNamespace())
    .registerFunction(
      'FormatNamespace.named(string): optional<kubernetes.NamedFormat>',
      (_: FormatNamespace, name: string) => {
        const check = FORMAT_VALIDATORS.get(name);
        return check ? Optional.of(new NamedFormat(check)) : Optional.none();
      },
    )
    .registerFunction(
      'kubernetes.NamedFormat.validate(string): optional<list<string>>',
      (format: NamedFormat, value: string) => {
        const problems = format.check(value);
        return problems.length > 0 ? Optional.of(problems) : Optional.none();
      },
    );
  for (const [name, check] of FORMAT_VALIDATORS) {
    env.registerFunction(`FormatNamespace.${name}(): kubernetes.NamedFormat`, () => new NamedFormat(check));
  }
}

interface CelEnvironments {
  /** `oldSelf` is the old value (dyn). */
  plain: Environment;
  /** `oldSelf` is an optional, for rules with `optionalOldSelf: true`. */
  optionalOldSelf: Environment;
}

function createCelEnvironments(): CelEnvironments {
  const base = new Environment({ enableOptionalTypes: true }).registerVariable('self', 'dyn');
  registerStringLibrary(base);
  registerListLibrary(base);
  registerNetworkLibrary(base);
  registerUrlLibrary(base);
  registerQuantityLibrary(base);
  registerFormatLibrary(base);
  return {
    plain: base.clone().registerVariable('oldSelf', 'dyn'),
    optionalOldSelf: base.clone().registerVariable('oldSelf', 'optional<dyn>'),
  };
}

let celEnvironments: CelEnvironments | undefined;

function celEnv(optionalOldSelf: boolean): Environment {
  celEnvironments ??= createCelEnvironments();
  return optionalOldSelf ? celEnvironments.optionalOldSelf : celEnvironments.plain;
}

// ---------------------------------------------------------------------------------------------------------
// Compiling rules
// ---------------------------------------------------------------------------------------------------------

interface CompiledRule {
  readonly rule: ValidationRule;
  /** Undefined when the rule is unsupported (see `unsupported`). */
  readonly program?: ParseResult;
  readonly messageProgram?: ParseResult;
  readonly usesOldSelf: boolean;
  /** Why the rule is skipped. */
  readonly unsupported?: string;
}

/** End of a CEL string literal starting at `start` (a quote), honouring triple quotes and raw strings. */
function skipCelString(expr: string, start: number, raw: boolean): number {
  const quote = expr.charAt(start);
  const delimiter = expr.startsWith(quote.repeat(3), start) ? quote.repeat(3) : quote;
  let i = start + delimiter.length;
  while (i < expr.length) {
    if (!raw && expr.charAt(i) === '\\') i += 2;
    else if (expr.startsWith(delimiter, i)) return i + delimiter.length;
    else i += 1;
  }
  return expr.length;
}

/** Renames `matches(` calls (outside string literals) to the RE2-aware `re2Matches(`. */
function rewriteRegexCalls(expr: string): string {
  let out = '';
  let i = 0;
  while (i < expr.length) {
    const ch = expr.charAt(i);
    if (ch === '"' || ch === "'") {
      const end = skipCelString(expr, i, false);
      out += expr.slice(i, end);
      i = end;
    } else if (/[A-Za-z_]/.test(ch)) {
      const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(expr.slice(i))?.[0] ?? ch;
      const after = expr.charAt(i + word.length);
      const end =
        /^[rRbB]{1,2}$/.test(word) && (after === '"' || after === "'")
          ? skipCelString(expr, i + word.length, /r/i.test(word))
          : i + word.length;
      const isCall = word === 'matches' && /^\s*\(/.test(expr.slice(end));
      out += isCall ? 're2Matches' : expr.slice(i, end);
      i = end;
    } else {
      out += ch;
      i += 1;
    }
  }
  return out;
}

/** Compiles and type-checks an expression; returns the reason as a string when it cannot be supported. */
function compileExpression(source: string, optionalOldSelf: boolean): ParseResult | string {
  try {
    const program = celEnv(optionalOldSelf).parse(rewriteRegexCalls(source));
    const checked = program.check();
    if (!checked.valid) return errorMessage(checked.error ?? 'type check failed');
    return program;
  } catch (error) {
    return errorMessage(error);
  }
}

/** Whether a parsed expression refers to the `oldSelf` variable (a transition rule). */
function referencesOldSelf(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(referencesOldSelf);
  if (typeof node !== 'object' || node === null || !('op' in node) || !('args' in node)) return false;
  return node.op === 'id' ? node.args === 'oldSelf' : referencesOldSelf(node.args);
}

function compileRule(rule: ValidationRule): CompiledRule {
  const optionalOldSelf = rule.optionalOldSelf === true;
  const program = compileExpression(rule.rule, optionalOldSelf);
  if (typeof program === 'string') {
    return { rule, usesOldSelf: /\boldSelf\b/.test(rule.rule), unsupported: program };
  }
  const message =
    rule.messageExpression === undefined
      ? undefined
      : compileExpression(rule.messageExpression, optionalOldSelf);
  return {
    rule,
    program,
    usesOldSelf: referencesOldSelf(program.ast),
    ...(typeof message === 'function' ? { messageProgram: message } : {}),
  };
}

const compiledRules = new WeakMap<Schema, CompiledRule[]>();

function rulesOf(schema: Schema): CompiledRule[] {
  let compiled = compiledRules.get(schema);
  if (!compiled) {
    compiled = (schema['x-kubernetes-validations'] ?? []).map(compileRule);
    compiledRules.set(schema, compiled);
  }
  return compiled;
}

function childSchemas(schema: Schema): Array<[string, Schema]> {
  const children: Array<[string, Schema]> = Object.entries(schema.properties ?? {}).map(([key, sub]) => [
    `.${key}`,
    sub,
  ]);
  if (schema.items) children.push(['[*]', schema.items]);
  if (typeof schema.additionalProperties === 'object') children.push(['.*', schema.additionalProperties]);
  return children;
}

const subtreeHasRules = new WeakMap<Schema, boolean>();

/** Whether `schema` or anything below it carries x-kubernetes-validations. */
function hasRules(schema: Schema): boolean {
  let result = subtreeHasRules.get(schema);
  if (result === undefined) {
    result =
      (schema['x-kubernetes-validations']?.length ?? 0) > 0 ||
      childSchemas(schema).some(([, sub]) => hasRules(sub));
    subtreeHasRules.set(schema, result);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------
// Evaluating rules
// ---------------------------------------------------------------------------------------------------------

interface CelNode {
  value: JsonValue;
  old: JsonValue | undefined;
  schema: Schema;
  path: string;
  root: boolean;
}

function ruleErrorString(rule: ValidationRule): string {
  return (rule.message ?? '').trim() || rule.rule.trim();
}

/** `.spec.foo['bar']` (relative to the node) joined onto the node's field path. */
function joinFieldPath(base: string, fieldPath: string): string {
  const relative = fieldPath.replace(/\[\s*'((?:[^'\\]|\\.)*)'\s*\]/g, '[$1]').replace(/^\./, '');
  if (base === '' || relative.startsWith('[')) return `${base}${relative}`;
  return `${base}.${relative}`;
}

function failureDetail(compiled: CompiledRule, context: Record<string, unknown>): string {
  if (compiled.messageProgram) {
    try {
      const message: unknown = compiled.messageProgram(context);
      if (typeof message === 'string' && message.trim() !== '' && !message.includes('\n')) return message;
    } catch {
      // kube falls back to message when messageExpression fails
    }
  }
  const message = (compiled.rule.message ?? '').trim();
  return message === '' ? `failed rule: ${compiled.rule.rule.trim()}` : message;
}

function causeForReason(rule: ValidationRule, path: string, typeName: string, detail: string): FieldCause {
  switch (rule.reason) {
    case 'FieldValueForbidden':
      return forbiddenCause(path, detail);
    case 'FieldValueRequired':
      return requiredCause(path, detail);
    case 'FieldValueDuplicate':
      return duplicateCause(path, typeName);
    case 'FieldValueInvalid':
    case undefined:
      return invalidCause(path, typeName, detail);
  }
}

function evaluateRule(
  compiled: CompiledRule,
  program: ParseResult,
  node: CelNode,
  self: CelValue,
): FieldCause | undefined {
  const { rule } = compiled;
  const old = node.old === undefined ? undefined : toCel(node.old, node.schema);
  const oldSelf =
    rule.optionalOldSelf === true ? (old === undefined ? Optional.none() : Optional.of(old)) : (old ?? null);
  const context = { self, oldSelf };
  const typeName = node.schema.type ?? '';
  let result: unknown;
  try {
    result = program(context);
  } catch (error) {
    return invalidCause(
      node.path,
      typeName,
      `${errorMessage(error)} evaluating rule: ${ruleErrorString(rule)}`,
    );
  }
  if (result === true) return undefined;
  const path = rule.fieldPath === undefined ? node.path : joinFieldPath(node.path, rule.fieldPath);
  return causeForReason(rule, path, typeName, failureDetail(compiled, context));
}

function runRules(node: CelNode, out: Causes): void {
  let self: CelValue | undefined;
  for (const compiled of rulesOf(node.schema)) {
    const { program } = compiled;
    if (program === undefined) continue;
    // Transition rules only run when there is an old value (unless they opted into optionalOldSelf).
    if (compiled.usesOldSelf && node.old === undefined && compiled.rule.optionalOldSelf !== true) continue;
    self ??= celSelf(node.value, node.schema, node.root);
    const cause = evaluateRule(compiled, program, node, self);
    if (cause) out.push(cause);
  }
}

/** Finds the old item an item correlates with: only `list-type: map` items correlate, by their keys. */
function oldItemFinder(node: CelNode): (item: JsonValue) => JsonValue | undefined {
  const keys = node.schema['x-kubernetes-list-map-keys'];
  if (node.schema['x-kubernetes-list-type'] !== 'map' || !keys || !Array.isArray(node.old))
    return () => undefined;
  const index = new Map<string, JsonValue>();
  for (const old of node.old) {
    const key = mapListKey(old, keys);
    if (key) index.set(stableStringify(key), old);
  }
  return (item) => {
    const key = mapListKey(item, keys);
    return key ? index.get(stableStringify(key)) : undefined;
  };
}

function validateCel(node: CelNode, out: Causes): void {
  if (node.value === null || !hasRules(node.schema)) return;
  runRules(node, out);
  const { value, schema, old } = node;
  if (Array.isArray(value)) {
    const items = schema.items;
    if (!items) return;
    const findOld = oldItemFinder(node);
    value.forEach((item, i) => {
      validateCel(
        { value: item, old: findOld(item), schema: items, path: indexPath(node.path, i), root: false },
        out,
      );
    });
  } else if (isJsonObject(value)) {
    for (const [key, child] of Object.entries(value)) {
      const sub = node.root && key === 'metadata' ? undefined : propertySchema(schema, key);
      const oldChild = isJsonObject(old) ? ownProperty(old, key) : undefined;
      if (sub)
        validateCel(
          { value: child, old: oldChild, schema: sub, path: childPath(node.path, key), root: false },
          out,
        );
    }
  }
}

/** Errors after which kube does not run CEL rules (they would see ill-typed data). */
const BLOCKING_REASONS: ReadonlySet<FieldCause['reason']> = new Set<FieldCause['reason']>([
  'FieldValueNotSupported',
  'FieldValueRequired',
  'FieldValueTooLong',
  'FieldValueTooMany',
  'FieldValueTypeInvalid',
]);

// ---------------------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------------------

/**
 * Prunes, defaults and validates an object being created (or updated, when `oldObject` is given) against a
 * version's structural schema, in kube's order. Never mutates its arguments.
 *
 * - Pruning drops fields not declared in `properties` (unless `x-kubernetes-preserve-unknown-fields` or
 *   `additionalProperties` allow them); root `apiVersion`, `kind` and `metadata` are always kept.
 * - Defaulting applies `default:` where the parent object exists (also in array items and map values);
 *   non-nullable nulls are replaced by their default or dropped.
 * - Validation covers types, `nullable`, int-or-string, `required`, `enum`, `pattern`, lengths, bounds,
 *   item/property counts, formats, `allOf`/`anyOf`/`oneOf`/`not`, list-type set/map uniqueness, then CEL
 *   rules (skipped, like kube, when a type/required/enum/too-long/too-many error was found). Transition
 *   rules (`oldSelf`) run only on updates where an old value exists at the same path.
 *
 * @returns the prepared copy, the causes (empty when valid) and the pruned field paths.
 */
export function prepareObject(
  schema: Schema,
  object: JsonObject,
  oldObject?: JsonObject,
): { object: JsonObject; result: ValidationResult } {
  const unknownFields: string[] = [];
  const pruned = pruneValue(object, { ...schema, 'x-kubernetes-embedded-resource': true }, '', unknownFields);
  const prepared = isJsonObject(pruned) ? pruned : {};
  applyDefaults(prepared, schema, true);
  const causes: FieldCause[] = [];
  validateValue(prepared, schema, '', causes);
  if (causes.some((cause) => BLOCKING_REASONS.has(cause.reason))) {
    causes.push(
      invalidCause(
        '',
        null,
        'some validation rules were not checked because the object was invalid; correct the existing errors to complete validation',
      ),
    );
  } else {
    validateCel({ value: prepared, old: oldObject, schema, path: '', root: true }, causes);
  }
  return { object: prepared, result: { causes, unknownFields } };
}

function collectUnsupported(schema: Schema, path: string, version: string): string[] {
  const own = rulesOf(schema).flatMap((compiled) =>
    compiled.unsupported === undefined
      ? []
      : [`${version} ${path === '' ? '<root>' : path}: ${compiled.rule.rule} (${compiled.unsupported})`],
  );
  const nested = childSchemas(schema).flatMap(([step, sub]) => {
    const next = path === '' && step.startsWith('.') ? step.slice(1) : `${path}${step}`;
    return collectUnsupported(sub, next, version);
  });
  return [...own, ...nested];
}

const unsupportedCache = new WeakMap<CompiledCrd, readonly string[]>();

/**
 * The `x-kubernetes-validations` rules of a CRD that {@link prepareObject} skips because the CEL evaluator
 * cannot compile them (an unsupported function or syntax), as `<version> <schema path>: <rule> (<reason>)`.
 * Computed once per CRD.
 */
export function unsupportedRules(crd: CompiledCrd): string[] {
  let rules = unsupportedCache.get(crd);
  if (!rules) {
    rules = crd.versions.flatMap((version) => collectUnsupported(version.schema, '', version.name));
    unsupportedCache.set(crd, rules);
  }
  return [...rules];
}
