/** OpenAPI v3 validation of a pruned, defaulted value: types, keywords, list types, formats. */
import type { JsonObject, JsonValue } from '../../json.js';
import type { FieldCause, Schema } from './types.js';
import {
  childPath,
  indexPath,
  isJsonObject,
  jsonEqual,
  jsonTypeName,
  ownProperty,
  stableStringify,
} from './json-values.js';
import {
  describe,
  duplicateCause,
  invalidCause,
  notSupportedCause,
  requiredCause,
  subject,
  tooLongCause,
  tooManyCause,
  typeInvalidCause,
} from './causes.js';
import { compileRe2 } from './re2.js';
import { propertySchema } from './prune.js';
import { STRING_FORMATS } from './formats.js';

export type Causes = FieldCause[];

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
export function validateValue(value: JsonValue, schema: Schema, path: string, out: Causes): void {
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
export function mapListKey(item: JsonValue, keys: string[]): JsonObject | undefined {
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
