/**
 * Strict field validation as kube-apiserver does it: the errors its strict decoder (sigs.k8s.io/json, the
 * version kube 1.26 vendors) names while reading a body into a Go type, and the unknown fields of an object
 * already read (a patched object, which kube decodes again).
 *
 * The decoder walks the body in document order and names, at any depth, `duplicate field "<path>"` for a
 * key that a struct or map already had and `unknown field "<path>"` for a key the struct lacks (whose value
 * it then skips, and so never looks into). A value whose type reads its JSON itself (a Time, a Quantity, a
 * RawExtension) is not looked into either. Errors are deduplicated and at most 100 are kept. Paths are
 * kube's: `spec.template.spec.containers[0].imagePullPolicyX`, `data.k`.
 */
import { isJsonObject, type JsonObject, type JsonValue } from '../json.js';
import { ANY, OPAQUE, type GoType, type StructType } from './go-types.js';

/** The decoder keeps no more than this many strict errors (sigs.k8s.io/json's limit). */
const MAX_ERRORS = 100;

/** The type of a JSON patch (`[]jsonPatchOp` in kube's patch handler). */
export const JSON_PATCH_OPERATIONS: GoType = {
  kind: 'list',
  item: {
    kind: 'struct',
    fields: new Map<string, GoType>([
      ['op', OPAQUE],
      ['path', OPAQUE],
      ['from', OPAQUE],
      ['value', ANY],
    ]),
  },
};

/** The error text of an unknown field at `path`. */
export function unknownField(path: string): string {
  return `unknown field ${JSON.stringify(path)}`;
}

function duplicateField(path: string): string {
  return `duplicate field ${JSON.stringify(path)}`;
}

function childPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** Collects strict errors as the decoder does: each once, at most {@link MAX_ERRORS}. */
class StrictErrors {
  readonly list: string[] = [];
  private readonly seen = new Set<string>();

  add(message: string): void {
    if (this.list.length >= MAX_ERRORS || this.seen.has(message)) return;
    this.seen.add(message);
    this.list.push(message);
  }
}

/** Where scanning is: the text and the position. */
interface Cursor {
  text: string;
  at: number;
}

function skipSpace(c: Cursor): void {
  while (c.at < c.text.length && ' \t\n\r'.includes(c.text[c.at] ?? '')) c.at += 1;
}

/** Reads a string literal at the cursor (which is on its opening quote) and returns its value. */
function readString(c: Cursor): string {
  const start = c.at;
  c.at += 1;
  while (c.at < c.text.length && c.text[c.at] !== '"') c.at += c.text[c.at] === '\\' ? 2 : 1;
  c.at += 1;
  return JSON.parse(c.text.slice(start, c.at)) as string;
}

/** The type of a key's value in an object of `type`, or undefined when the struct has no such field. */
function memberType(type: GoType, key: string): GoType | undefined {
  if (type.kind === 'struct') return type.fields.get(key);
  if (type.kind === 'map') return type.value;
  return ANY;
}

/** What a value is decoded into: its Go type, its path, and where its strict errors go (none: skipped). */
interface Target {
  type: GoType;
  path: string;
  errors: StrictErrors | undefined;
}

/** A value nothing is reported in: an unknown field's, or one of the wrong shape (a type error). */
const SKIPPED: Target = { type: ANY, path: '', errors: undefined };

/** Walks one object (the cursor on its `{`), decoded into a struct, a map or `interface{}`. */
function walkObject(c: Cursor, target: Target): void {
  const { type, path } = target;
  const errors = type.kind === 'list' || type.kind === 'opaque' ? undefined : target.errors;
  c.at += 1;
  const seen = new Set<string>();
  for (;;) {
    skipSpace(c);
    if (c.text[c.at] === '}') {
      c.at += 1;
      return;
    }
    const key = readString(c);
    const at = childPath(path, key);
    const member = memberType(type, key);
    if (member === undefined) errors?.add(unknownField(at));
    else if (seen.has(key)) errors?.add(duplicateField(at));
    seen.add(key);
    skipSpace(c);
    c.at += 1; // ':'
    // An unknown field's value is skipped: nothing inside it is reported.
    walk(c, member === undefined || errors === undefined ? SKIPPED : { type: member, path: at, errors });
    skipSpace(c);
    if (c.text[c.at] === ',') c.at += 1;
  }
}

/** Walks one array (the cursor on its `[`), decoded into a slice or `interface{}`. */
function walkArray(c: Cursor, target: Target): void {
  const { type, path, errors } = target;
  const item = type.kind === 'list' ? type.item : type.kind === 'any' ? ANY : undefined;
  c.at += 1;
  for (let index = 0; ; index += 1) {
    skipSpace(c);
    if (c.text[c.at] === ']') {
      c.at += 1;
      return;
    }
    const itemPath = `${path}[${index}]`;
    walk(c, item === undefined || errors === undefined ? SKIPPED : { type: item, path: itemPath, errors });
    skipSpace(c);
    if (c.text[c.at] === ',') c.at += 1;
  }
}

/** Walks one value of any kind. */
function walk(c: Cursor, target: Target): void {
  skipSpace(c);
  const ch = c.text[c.at];
  if (ch === '{') walkObject(c, target);
  else if (ch === '[') walkArray(c, target);
  else if (ch === '"') readString(c);
  else while (c.at < c.text.length && !',]} \t\n\r'.includes(c.text[c.at] ?? '')) c.at += 1;
}

/**
 * The strict errors of decoding a JSON body into a Go type, in kube's words and order:
 * `duplicate field "metadata.name"`, `unknown field "spec.template.spec.containers[0].imagee"`.
 *
 * @param text A JSON document (text `JSON.parse` refuses gives no errors: the caller refuses it otherwise).
 * @param type What it is decoded into: a kind's struct, {@link ANY} for a custom resource or a merge patch,
 *   {@link JSON_PATCH_OPERATIONS} for a JSON patch.
 */
export function decodingErrors(text: string, type: GoType): string[] {
  try {
    JSON.parse(text);
  } catch {
    return [];
  }
  const errors = new StrictErrors();
  walk({ text, at: 0 }, { type, path: '', errors });
  return errors.list;
}

/**
 * In which order the unknown fields of an object are named. `document`: as the decoder meets them in the
 * body. `sorted`: in a body Go wrote from a map (every object's keys sorted), which is what kube decodes
 * after a merge or JSON patch. `struct`: as kube's unstructured converter names them after a strategic merge
 * patch, the struct's fields in order and then the keys it lacks (after those of its fields).
 */
export type UnknownFieldOrder = 'document' | 'sorted' | 'struct';

function keysOf(object: JsonObject, order: UnknownFieldOrder): string[] {
  const keys = Object.keys(object);
  return order === 'sorted' ? keys.sort() : keys;
}

interface Finding {
  order: UnknownFieldOrder;
  drop: boolean;
  found: string[];
}

function unknownIn(value: JsonValue | undefined, type: GoType, path: string, finding: Finding): void {
  if (Array.isArray(value)) {
    if (type.kind !== 'list') return;
    value.forEach((item, index) => unknownIn(item, type.item, `${path}[${index}]`, finding));
    return;
  }
  if (!isJsonObject(value)) return;
  if (type.kind === 'map') {
    for (const key of keysOf(value, finding.order))
      unknownIn(value[key], type.value, childPath(path, key), finding);
    return;
  }
  if (type.kind === 'struct') unknownInStruct(value, type, path, finding);
}

function unknownInStruct(object: JsonObject, type: StructType, path: string, finding: Finding): void {
  const lacking: string[] = [];
  if (finding.order === 'struct') {
    for (const [key, member] of type.fields) {
      if (Object.hasOwn(object, key)) unknownIn(object[key], member, childPath(path, key), finding);
    }
    for (const key of Object.keys(object)) if (!type.fields.has(key)) lacking.push(key);
    finding.found.push(...lacking.map((key) => childPath(path, key)));
  } else {
    for (const key of keysOf(object, finding.order)) {
      const member = type.fields.get(key);
      if (member === undefined) {
        lacking.push(key);
        finding.found.push(childPath(path, key));
      } else {
        unknownIn(object[key], member, childPath(path, key), finding);
      }
    }
  }
  if (finding.drop) for (const key of lacking) delete object[key];
}

/**
 * The paths of the fields of `value` its Go type lacks, at any depth (not inside a lacking field or a
 * self-decoding value), in the given order.
 *
 * @param drop Whether to remove them from `value` (in place), as decoding into the type does.
 */
export function unknownFields(
  value: JsonValue,
  type: GoType,
  order: UnknownFieldOrder,
  drop = false,
): string[] {
  const finding: Finding = { order, drop, found: [] };
  unknownIn(value, type, '', finding);
  return finding.found;
}

/**
 * A value as Go's `fmt` prints a decoded `map[string]interface{}` with `%+v` (`map[spec:map[replicas:1]]`),
 * which kube quotes when it refuses a strategic merge patch.
 */
export function goValueText(value: JsonValue): string {
  if (value === null) return '<nil>';
  if (Array.isArray(value)) return `[${value.map(goValueText).join(' ')}]`;
  if (isJsonObject(value)) {
    const keys = Object.keys(value).sort();
    return `map[${keys.map((key) => `${key}:${goValueText(value[key] ?? null)}`).join(' ')}]`;
  }
  if (typeof value === 'number') return goNumberText(value);
  return String(value);
}

/** An int64 as digits; a float64 as `%v` prints it (shortest digits, an exponent below 1e-4 or from 1e6). */
function goNumberText(value: number): string {
  if (Number.isInteger(value) && Math.abs(value) < 2 ** 63) return value.toFixed(0);
  const [mantissa = '', exponentText = '0'] = value.toExponential().split('e');
  const exponent = Number(exponentText);
  if (exponent >= -4 && exponent < 6) return String(value);
  const sign = exponent < 0 ? '-' : '+';
  return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
}
