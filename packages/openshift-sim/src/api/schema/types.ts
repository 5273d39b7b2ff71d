/** The structural-schema types the CRD code reads and reports: schemas, rules, causes, compiled CRDs. */
import type { JsonValue } from '../../json.js';

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
