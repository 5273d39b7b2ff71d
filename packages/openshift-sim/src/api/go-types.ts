/**
 * The Go types of the built-in kinds, as far as decoding JSON into them needs: which fields each struct
 * has, which values are lists or maps, and which types read their JSON themselves. kube-apiserver decodes a
 * built-in object into its Go type, and what the type lacks is an unknown field (see `strict-decoding.ts`).
 *
 * The types are read from the upstream `generated.proto` files the protobuf codec already vendors: their
 * field names are the JSON names, an inline (embedded) Go struct is listed in `proto/go-fields.json`, and
 * the apimachinery types whose JSON is not their message's shape (Time, Quantity, IntOrString, …) are
 * opaque here, as their own `UnmarshalJSON` methods make them for Go's decoder.
 */
import protobufjs from 'protobufjs';
import type { Field, Type } from 'protobufjs';
import { inlineFields, kindMessage, namedMessage } from './protobuf.js';

/** A Go struct: its JSON field names and their types. */
export interface StructType {
  readonly kind: 'struct';
  /** The fields by JSON name, in the struct's order (inline structs' fields in their place). */
  readonly fields: ReadonlyMap<string, GoType>;
}

/** A slice: every item has the item type. */
export interface ListType {
  readonly kind: 'list';
  readonly item: GoType;
}

/** A map with string keys: every value has the value type. */
export interface MapType {
  readonly kind: 'map';
  readonly value: GoType;
}

/**
 * `interface{}`: any JSON, decoded as maps and slices (whose repeated keys still count), never an unknown
 * field. A custom resource's body and a JSON patch's `value` are this.
 */
export interface AnyType {
  readonly kind: 'any';
}

/** A scalar, or a type with its own `UnmarshalJSON` (its inside is never looked at). */
export interface OpaqueType {
  readonly kind: 'opaque';
}

/** What decoding a JSON value into a Go value of this type looks at. */
export type GoType = StructType | ListType | MapType | AnyType | OpaqueType;

/** `interface{}`. */
export const ANY: AnyType = { kind: 'any' };
/** A scalar or self-decoding type. */
export const OPAQUE: OpaqueType = { kind: 'opaque' };

const META = 'k8s.io.apimachinery.pkg.apis.meta.v1';
const OBJECT_META = `${META}.ObjectMeta`;

/** Messages whose Go types implement `UnmarshalJSON` (a string, a number, or raw JSON on the wire). */
const SELF_DECODING = new Set([
  `${META}.Time`,
  `${META}.MicroTime`,
  `${META}.Duration`,
  `${META}.FieldsV1`,
  'k8s.io.apimachinery.pkg.runtime.RawExtension',
  'k8s.io.apimachinery.pkg.runtime.Unknown',
  'k8s.io.apimachinery.pkg.util.intstr.IntOrString',
  'k8s.io.apimachinery.pkg.api.resource.Quantity',
]);

/**
 * Structs that hold an ObjectMeta but no TypeMeta: templates. Every other struct with `metadata` is a kind
 * (also when nested, such as a StatefulSet's `volumeClaimTemplates`) and takes `apiVersion` and `kind`.
 */
function isTemplate(name: string): boolean {
  return name.endsWith('TemplateSpec') || name.endsWith('.PersistentVolumeClaimTemplate');
}

const structs = new Map<string, StructType>();
const kinds = new Map<string, StructType>();

function fullName(type: Type): string {
  return type.fullName.replace(/^\./, '');
}

function valueType(field: Field): GoType {
  const resolved = field.resolvedType;
  if (!(resolved instanceof protobufjs.Type)) return OPAQUE;
  return messageGoType(resolved);
}

function fieldGoType(field: Field): GoType {
  if (field.map) return { kind: 'map', value: valueType(field) };
  if (field.repeated) return { kind: 'list', item: valueType(field) };
  return valueType(field);
}

/** The fields a message contributes to its JSON object (an inline field's message contributes its own). */
function addFields(type: Type, into: Map<string, GoType>): void {
  const inline = inlineFields(type);
  for (const field of type.fieldsArray) {
    const resolved = field.resolvedType;
    if (inline.has(field.name) && resolved instanceof protobufjs.Type) addFields(resolved, into);
    else into.set(field.name, fieldGoType(field));
  }
}

/** The Go type of a message; structs are built once, their fields on first use (types may nest deeply). */
function messageGoType(type: Type): GoType {
  const name = fullName(type);
  if (SELF_DECODING.has(name)) return OPAQUE;
  let found = structs.get(name);
  if (found === undefined) {
    let fields: Map<string, GoType> | undefined;
    found = {
      kind: 'struct',
      get fields(): ReadonlyMap<string, GoType> {
        if (fields === undefined) {
          fields = new Map();
          const kindLike = type.fields['metadata']?.resolvedType;
          if (
            kindLike instanceof protobufjs.Type &&
            fullName(kindLike) === OBJECT_META &&
            !isTemplate(name)
          ) {
            fields.set('apiVersion', OPAQUE);
            fields.set('kind', OPAQUE);
          }
          addFields(type, fields);
        }
        return fields;
      },
    };
    structs.set(name, found);
  }
  return found;
}

/**
 * The Go type of a built-in kind, with `apiVersion` and `kind`; undefined when the simulator has no
 * definition of it (the OpenShift aggregated kinds, custom resources).
 *
 * @param group The API group (`''` for the core group).
 */
export function kindGoType(group: string, version: string, kind: string): StructType | undefined {
  const message = kindMessage(group, version, kind);
  if (message === undefined) return undefined;
  const name = fullName(message);
  let found = kinds.get(name);
  if (found === undefined) {
    const type = messageGoType(message);
    if (type.kind !== 'struct') return undefined;
    let fields: Map<string, GoType> | undefined;
    // A kind always has TypeMeta, also one without metadata (a review).
    found = {
      kind: 'struct',
      get fields(): ReadonlyMap<string, GoType> {
        fields ??= new Map<string, GoType>([['apiVersion', OPAQUE], ['kind', OPAQUE], ...type.fields]);
        return fields;
      },
    };
    kinds.set(name, found);
  }
  return found;
}

/** `metav1.ObjectMeta`, which a custom resource's `metadata` is decoded into. */
export function objectMetaGoType(): GoType {
  const message = namedMessage(OBJECT_META);
  return message === undefined ? ANY : messageGoType(message);
}
