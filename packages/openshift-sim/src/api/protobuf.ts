// Kubernetes protobuf (`application/vnd.kubernetes.protobuf`) for the built-in kinds: the 4-byte magic `k8s\0`,
// then a `runtime.Unknown` whose `raw` is the object's message. The messages come from the upstream
// `generated.proto` files vendored in ../../proto (loaded at runtime with protobufjs); this module only maps
// between those messages and the JSON the rest of the simulator works in, the way Go's JSON encoding of the
// same types would.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import protobufjs from 'protobufjs';
import type { Field, IConversionOptions, Type } from 'protobufjs';
import { isJsonObject, type JsonObject, type JsonValue } from '../json.js';
import { errors, type ApiError } from './status.js';

/** The protobuf media type of the Kubernetes API. */
export const PROTOBUF = 'application/vnd.kubernetes.protobuf';

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);
const META = 'k8s.io.apimachinery.pkg.apis.meta.v1';
const RUNTIME = 'k8s.io.apimachinery.pkg.runtime';

// `dist/api` and `src/api` both sit two levels under the package root, next to `proto`.
const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));
const FILES = [
  'k8s.io/api/core/v1/generated.proto',
  'k8s.io/api/apps/v1/generated.proto',
  'k8s.io/api/batch/v1/generated.proto',
  'k8s.io/api/rbac/v1/generated.proto',
  'k8s.io/api/authentication/v1/generated.proto',
];

/** API group → proto package, for the groups whose messages are vendored. */
const PACKAGES: Record<string, string> = {
  '': 'k8s.io.api.core.v1',
  apps: 'k8s.io.api.apps.v1',
  batch: 'k8s.io.api.batch.v1',
  'rbac.authorization.k8s.io': 'k8s.io.api.rbac.v1',
  'authentication.k8s.io': 'k8s.io.api.authentication.v1',
};

/** Kinds of meta/v1 that kube serves under any group version (a Status answers every request). */
const META_KINDS = new Set(['Status', 'DeleteOptions', 'WatchEvent']);

interface Codec {
  root: protobufjs.Root;
  unknown: Type;
  /** Message full name (no leading dot) → json names of its Go pointer fields. */
  pointers: Map<string, Set<string>>;
  /** Message full name → its fields that are Go structs embedded inline (their fields are the parent's in JSON). */
  inline: Map<string, Set<string>>;
}

let codec: Codec | undefined;

/** Loads the vendored definitions once, on the first protobuf request. */
function loadCodec(): Codec {
  if (codec) return codec;
  const root = new protobufjs.Root();
  root.resolvePath = (_origin, target) => PROTO_DIR + target;
  root.loadSync(FILES, { keepCase: true });
  root.resolveAll();
  const goFields = JSON.parse(readFileSync(`${PROTO_DIR}go-fields.json`, 'utf8')) as Record<
    'pointers' | 'inline',
    Record<string, string[]>
  >;
  const sets = (listed: Record<string, string[]>): Map<string, Set<string>> =>
    new Map(Object.entries(listed).map(([name, fields]) => [name, new Set(fields)]));
  codec = {
    root,
    unknown: root.lookupType(`${RUNTIME}.Unknown`),
    pointers: sets(goFields.pointers),
    inline: sets(goFields.inline),
  };
  return codec;
}

/** The message type of `apiVersion`/`kind`, undefined when the kind has no vendored protobuf definition. */
function messageType(apiVersion: string, kind: string): Type | undefined {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/', 2) : ['', apiVersion];
  if (version !== 'v1') return undefined;
  const pkg = META_KINDS.has(kind) ? META : PACKAGES[group ?? ''];
  if (pkg === undefined) return undefined;
  const found = loadCodec().root.lookup(`${pkg}.${kind}`);
  return found instanceof protobufjs.Type ? found : undefined;
}

/**
 * The vendored message of a kind (`group` `''` for the core group), or undefined when none is vendored. The
 * strict decoder reads the kinds' Go fields from it (see `go-types.ts`).
 */
export function kindMessage(group: string, version: string, kind: string): Type | undefined {
  return messageType(group === '' ? version : `${group}/${version}`, kind);
}

/** A vendored message by its full name (`k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta`). */
export function namedMessage(name: string): Type | undefined {
  const found = loadCodec().root.lookup(name);
  return found instanceof protobufjs.Type ? found : undefined;
}

/** The fields of a message that are Go structs embedded inline (their fields are the parent's in JSON). */
export function inlineFields(type: Type): ReadonlySet<string> {
  return loadCodec().inline.get(fullName(type)) ?? new Set();
}

/** Whether objects of this group/version/kind can be sent and answered as protobuf. */
export function supportsProtobuf(group: string, version: string, kind: string): boolean {
  return messageType(group === '' ? version : `${group}/${version}`, kind) !== undefined;
}

/**
 * Whether an Accept header prefers protobuf over JSON: its first media range by quality (ties keep their
 * order, as kube's negotiation does) is the protobuf type. kubectl sends `…protobuf,application/json`.
 */
export function prefersProtobuf(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  const ranges = accept
    .split(',')
    .map((part, index) => {
      const [media = '', ...params] = part.split(';').map((p) => p.trim());
      const q = params.find((p) => p.startsWith('q='));
      return { media: media.toLowerCase(), params, q: q === undefined ? 1 : Number(q.slice(2)), index };
    })
    .filter((r) => r.media !== '' && r.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
  // A range with parameters other than q (`;as=Table`) asks for a transformed object the simulator
  // answers in JSON.
  const first = ranges[0];
  return first !== undefined && first.media === PROTOBUF && first.params.every((p) => p.startsWith('q='));
}

const TIME = `${META}.Time`;
const MICRO_TIME = `${META}.MicroTime`;
const FIELDS_V1 = `${META}.FieldsV1`;
const RAW_EXTENSION = `${RUNTIME}.RawExtension`;
const INT_OR_STRING = 'k8s.io.apimachinery.pkg.util.intstr.IntOrString';
const QUANTITY = 'k8s.io.apimachinery.pkg.api.resource.Quantity';

const TO_OBJECT: IConversionOptions = { longs: Number, bytes: String, defaults: false };

function fullName(type: Type): string {
  return type.fullName.replace(/^\./, '');
}

function isZero(value: unknown): boolean {
  return value === '' || value === false || value === 0;
}

function timeToJson(value: JsonObject, micro: boolean): JsonValue | undefined {
  const seconds = Number(value['seconds'] ?? 0);
  const nanos = Number(value['nanos'] ?? 0);
  // Go's zero time.Time: JSON `null`, which the simulator's stored objects leave out.
  if (seconds === 0 && nanos === 0) return undefined;
  const base = new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, '');
  return micro ? `${base}.${String(Math.floor(nanos / 1000)).padStart(6, '0')}Z` : `${base}Z`;
}

function parseJsonBytes(base64: JsonValue | undefined): JsonValue | undefined {
  if (typeof base64 !== 'string' || base64 === '') return undefined;
  const text = Buffer.from(base64, 'base64').toString('utf8');
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    throw errors.badRequest(`invalid embedded JSON in a protobuf message: ${text.slice(0, 30)}`);
  }
}

function text(value: JsonValue | undefined): string {
  return typeof value === 'string' ? value : '';
}

/** The JSON form of the apimachinery types whose JSON is not their message's shape; undefined for others. */
function specialToJson(type: Type, value: JsonObject): { json: JsonValue | undefined } | undefined {
  switch (fullName(type)) {
    case TIME:
      return { json: timeToJson(value, false) };
    case MICRO_TIME:
      return { json: timeToJson(value, true) };
    case INT_OR_STRING:
      return {
        json: Number(value['type'] ?? 0) === 1 ? text(value['strVal']) : Number(value['intVal'] ?? 0),
      };
    case QUANTITY:
      return { json: text(value['string']) };
    case FIELDS_V1:
      return { json: parseJsonBytes(value['Raw']) };
    case RAW_EXTENSION:
      return { json: parseJsonBytes(value['raw']) };
    default:
      return undefined;
  }
}

/** A field's value of a message (from protobufjs `toObject`) as Go's JSON encoding would write it. */
function valueToJson(field: Field, value: JsonValue): JsonValue | undefined {
  const type = field.resolvedType;
  if (!(type instanceof protobufjs.Type) || !isJsonObject(value)) return value;
  return messageToJson(type, value);
}

function fieldToJson(field: Field, given: JsonValue): JsonValue | undefined {
  if (field.map && isJsonObject(given)) {
    const entries = Object.entries(given).map(([k, v]) => [k, valueToJson(field, v)] as const);
    const kept = entries.filter((e): e is [string, JsonValue] => e[1] !== undefined);
    // An empty map is no map, as Go's omitempty leaves it out.
    return kept.length > 0 ? Object.fromEntries(kept) : undefined;
  }
  if (field.repeated && Array.isArray(given)) {
    return given.length > 0 ? given.map((item) => valueToJson(field, item) ?? null) : undefined;
  }
  return valueToJson(field, given);
}

function messageToJson(type: Type, value: JsonObject): JsonValue | undefined {
  const special = specialToJson(type, value);
  if (special) return special.json;
  const pointers = loadCodec().pointers.get(fullName(type));
  const inline = loadCodec().inline.get(fullName(type));
  const out: JsonObject = {};
  for (const field of type.fieldsArray) {
    const given = value[field.name];
    if (given === undefined || given === null) continue;
    const converted = fieldToJson(field, given);
    if (converted === undefined) continue;
    if (inline?.has(field.name) && isJsonObject(converted)) {
      Object.assign(out, converted);
      continue;
    }
    // Go writes a non-pointer field even when zero; its JSON leaves such a field out (omitempty). A pointer
    // field on the wire was set, so its `false` or `0` is kept.
    if (isZero(converted) && !(pointers?.has(field.name) ?? false)) continue;
    out[field.name] = converted;
  }
  return out;
}

function timeFromJson(value: JsonValue): JsonObject | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return undefined;
  const fraction = /\.(\d+)/.exec(value)?.[1] ?? '';
  const nanos = Number(fraction.padEnd(9, '0').slice(0, 9));
  return { seconds: Math.floor(ms / 1000), nanos };
}

function jsonBytes(value: JsonValue): string {
  return Buffer.from(JSON.stringify(value)).toString('base64');
}

/** The message form of the apimachinery types whose JSON is not their message's shape; undefined for others. */
function specialFromJson(type: Type, value: JsonValue): { plain: JsonValue | undefined } | undefined {
  switch (fullName(type)) {
    case TIME:
    case MICRO_TIME:
      return { plain: timeFromJson(value) };
    case INT_OR_STRING:
      return {
        plain: typeof value === 'string' ? { type: 1, strVal: value } : { type: 0, intVal: Number(value) },
      };
    case QUANTITY:
      return { plain: { string: typeof value === 'number' ? String(value) : text(value) } };
    case FIELDS_V1:
      return { plain: { Raw: jsonBytes(value) } };
    case RAW_EXTENSION:
      return { plain: { raw: jsonBytes(value) } };
    default:
      return undefined;
  }
}

function fieldFromJson(field: Field, given: JsonValue): JsonValue | undefined {
  const nested = field.resolvedType;
  if (!(nested instanceof protobufjs.Type)) return given;
  const convert = (v: JsonValue): JsonValue => messageFromJson(nested, v) ?? null;
  if (field.map && isJsonObject(given)) {
    return Object.fromEntries(Object.entries(given).map(([k, v]) => [k, convert(v)]));
  }
  if (field.repeated && Array.isArray(given)) return given.map(convert);
  return messageFromJson(nested, given);
}

/** A JSON value as the plain object protobufjs `fromObject` takes for `type`. */
function messageFromJson(type: Type, value: JsonValue): JsonValue | undefined {
  const special = specialFromJson(type, value);
  if (special) return special.plain;
  if (!isJsonObject(value)) return undefined;
  const inline = loadCodec().inline.get(fullName(type));
  const out: JsonObject = {};
  for (const field of type.fieldsArray) {
    // An inline struct's fields are the parent's own in JSON.
    const given = inline?.has(field.name) ? value : value[field.name];
    if (given === undefined || given === null) continue;
    const converted = fieldFromJson(field, given);
    if (converted !== undefined) out[field.name] = converted;
  }
  return out;
}

/**
 * Encodes a JSON object (with `apiVersion` and `kind`) as a Kubernetes protobuf message; undefined when its
 * kind has no protobuf definition (a custom resource, an OpenShift kind): the caller answers JSON then.
 */
export function encodeProtobuf(object: JsonObject): Buffer | undefined {
  const apiVersion = typeof object['apiVersion'] === 'string' ? object['apiVersion'] : '';
  const kind = typeof object['kind'] === 'string' ? object['kind'] : '';
  const type = messageType(apiVersion, kind);
  if (type === undefined) return undefined;
  const plain = messageFromJson(type, object);
  const raw = type.encode(type.fromObject(isJsonObject(plain) ? plain : {})).finish();
  const { unknown } = loadCodec();
  const envelope = unknown.encode(unknown.fromObject({ typeMeta: { apiVersion, kind }, raw })).finish();
  return Buffer.concat([MAGIC, envelope]);
}

/** kube's summary of a body it could not decode (`summarizeData`): its first 30 bytes, as text if JSON-like. */
function summarize(body: Buffer): string {
  if (body.length === 0) return '<empty>';
  const head = body.subarray(0, 30);
  const shown = body[0] === 0x7b ? head.toString('utf8') : head.toString('hex');
  return body.length > 30 ? `${shown} ...` : shown;
}

/** The `runtime.Unknown` after the magic: the object's apiVersion, kind and message bytes. */
function readEnvelope(
  data: Buffer,
  unrecognized: (reason: string) => ApiError,
): { apiVersion: string; kind: string; raw: Uint8Array } {
  const { unknown } = loadCodec();
  try {
    const envelope = unknown.toObject(unknown.decode(data), { bytes: Buffer }) as {
      typeMeta?: { apiVersion?: string; kind?: string };
      raw?: Buffer;
    };
    return {
      apiVersion: envelope.typeMeta?.apiVersion ?? '',
      kind: envelope.typeMeta?.kind ?? '',
      raw: envelope.raw ?? Buffer.alloc(0),
    };
  } catch (err) {
    throw unrecognized((err as Error).message);
  }
}

/**
 * Decodes a protobuf request body into the JSON object it stands for, with `apiVersion` and `kind` from the
 * envelope. `expectedKind` is the kind the URL's resource holds, for kube's wording of a body it cannot read
 * (400 BadRequest, as kube-apiserver answers).
 */
export function decodeProtobuf(body: Buffer, expectedKind: string): JsonObject {
  const unrecognized = (reason: string): ApiError =>
    errors.badRequest(
      `the object provided is unrecognized (must be of type ${expectedKind}): ${reason} (${summarize(body)})`,
    );
  if (body.length === 0) throw unrecognized('empty data');
  if (body.length < MAGIC.length || !body.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw unrecognized(
      'provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]',
    );
  }
  if (body.length === MAGIC.length) throw unrecognized('empty body');
  const { apiVersion, kind, raw } = readEnvelope(body.subarray(MAGIC.length), unrecognized);
  if (kind === '') throw unrecognized("Object 'Kind' is missing in the protobuf envelope");
  if (apiVersion === '') throw unrecognized("Object 'apiVersion' is missing in the protobuf envelope");
  const type = messageType(apiVersion, kind);
  if (type === undefined) {
    throw errors.badRequest(
      `${kind} in version "${apiVersion}" cannot be handled as a ${expectedKind}: no kind "${kind}" is registered for version "${apiVersion}"`,
    );
  }
  let decoded: JsonObject;
  try {
    decoded = type.toObject(type.decode(raw), TO_OBJECT);
  } catch (err) {
    throw errors.badRequest(
      `${kind} in version "${apiVersion}" cannot be handled as a ${expectedKind}: ${(err as Error).message}`,
    );
  }
  const object = messageToJson(type, decoded);
  return { apiVersion, kind, ...(isJsonObject(object) ? object : {}) };
}
