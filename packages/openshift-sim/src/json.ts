/** A JSON value as the API server stores and sends it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A JSON object (every stored API object is one). */
export type JsonObject = { [key: string]: JsonValue };

/** A JSON value that must not be changed: what the store hands out without copying. */
export type ReadonlyJsonValue =
  | null
  | boolean
  | number
  | string
  | readonly ReadonlyJsonValue[]
  | { readonly [key: string]: ReadonlyJsonValue };

/** A JSON object that must not be changed. */
export type ReadonlyJsonObject = { readonly [key: string]: ReadonlyJsonValue };

/** Narrows a JSON value to an object (not null, not an array). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Returns `value[key]` when it is an object, else undefined. */
export function objectAt(value: JsonValue | undefined, key: string): JsonObject | undefined {
  if (!isJsonObject(value)) return undefined;
  const child = value[key];
  return isJsonObject(child) ? child : undefined;
}

/** Returns `value[key]` when it is a string, else undefined. */
export function stringAt(value: JsonValue | undefined, key: string): string | undefined {
  if (!isJsonObject(value)) return undefined;
  const child = value[key];
  return typeof child === 'string' ? child : undefined;
}

/** Structural equality of two JSON values (key order ignored). */
export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  }
  if (typeof a !== 'object' || typeof b !== 'object' || Array.isArray(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => key in b && jsonEqual(a[key], b[key]));
}

/** A deep copy. */
export function cloneJson<T extends JsonValue>(value: T): T {
  return structuredClone(value);
}

/** A changeable deep copy of a read-only object. */
export function copyJson(value: ReadonlyJsonObject): JsonObject {
  return structuredClone(value) as JsonObject;
}

/** A scalar as text (strings as they are, numbers and booleans printed); objects, arrays and null give ''. */
export function textOf(value: JsonValue | undefined): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
}
