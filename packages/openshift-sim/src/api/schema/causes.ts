/** Field causes worded like k8s.io/apimachinery field errors. */
import type { JsonValue } from '../../json.js';
import type { FieldCause } from './types.js';

type BadValue = JsonValue | undefined;

/** Formats a bad value like field.Error does: strings quoted, numbers bare, the rest as JSON. */
export function describe(value: BadValue): string {
  if (value === undefined || value === null) return '"null"';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** The subject of go-openapi messages: `spec.replicas in body ...`. */
export function subject(path: string): string {
  return `${path === '' ? '<root>' : path} in body`;
}

export function requiredCause(path: string, detail = ''): FieldCause {
  return {
    reason: 'FieldValueRequired',
    field: path,
    message: detail ? `Required value: ${detail}` : 'Required value',
  };
}

export function invalidCause(path: string, value: BadValue, detail: string): FieldCause {
  return {
    reason: 'FieldValueInvalid',
    field: path,
    message: `Invalid value: ${describe(value)}: ${detail}`,
  };
}

export function typeInvalidCause(path: string, value: BadValue, detail: string): FieldCause {
  return {
    reason: 'FieldValueTypeInvalid',
    field: path,
    message: `Invalid value: ${describe(value)}: ${detail}`,
  };
}

export function notSupportedCause(path: string, value: BadValue, allowed: JsonValue[]): FieldCause {
  const quoted = allowed.map((item) =>
    JSON.stringify(typeof item === 'string' ? item : JSON.stringify(item)),
  );
  return {
    reason: 'FieldValueNotSupported',
    field: path,
    message: `Unsupported value: ${describe(value)}: supported values: ${quoted.join(', ')}`,
  };
}

export function tooLongCause(path: string, max: number): FieldCause {
  return { reason: 'FieldValueTooLong', field: path, message: `Too long: may not be more than ${max} bytes` };
}

export function tooManyCause(path: string, actual: number, max: number): FieldCause {
  return {
    reason: 'FieldValueTooMany',
    field: path,
    message: `Too many: ${actual}: must have at most ${max} items`,
  };
}

export function duplicateCause(path: string, value: BadValue): FieldCause {
  return { reason: 'FieldValueDuplicate', field: path, message: `Duplicate value: ${describe(value)}` };
}

export function forbiddenCause(path: string, detail: string): FieldCause {
  return { reason: 'FieldValueForbidden', field: path, message: `Forbidden: ${detail}` };
}
