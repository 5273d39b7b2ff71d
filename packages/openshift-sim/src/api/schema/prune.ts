/** Pruning unknown fields and applying `default:` values, as apiextensions does before validation. */
import type { JsonObject, JsonValue } from '../../json.js';
import type { Schema } from './types.js';
import { childPath, cloneJson, indexPath, isJsonObject } from './json-values.js';

function ownSchema(map: Record<string, Schema> | undefined, key: string): Schema | undefined {
  return map !== undefined && Object.hasOwn(map, key) ? map[key] : undefined;
}

/** The schema of `key` in an object: a declared property, else `additionalProperties`. */
export function propertySchema(schema: Schema, key: string): Schema | undefined {
  const additional = schema.additionalProperties;
  return ownSchema(schema.properties, key) ?? (typeof additional === 'object' ? additional : undefined);
}

function preservesUnknown(schema: Schema): boolean {
  return schema['x-kubernetes-preserve-unknown-fields'] === true || schema.additionalProperties === true;
}

/** A pruned deep copy of `value`; paths of dropped fields go to `unknown`. */
export function pruneValue(value: JsonValue, schema: Schema, path: string, unknown: string[]): JsonValue {
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

// Defaulting (mutates the pruned copy)

function isNonNullableNull(value: JsonValue | undefined, schema: Schema): boolean {
  return value === null && schema.nullable !== true;
}

export function applyDefaults(value: JsonValue, schema: Schema, root: boolean): void {
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
