// ConfigMaps and Secrets as a real API server checks them. Their keys become file names when mounted, so
// kube allows only `[-._a-zA-Z0-9]+` (no `/`, no `:`), at most 253 characters, never `.`, `..` or a
// leading `..` (IsConfigMapKey). A Secret's `data` values are base64 in JSON; one that does not decode
// cannot even be read into a Secret, so the server answers 400 before any validation (422 is for a
// Secret it could read). The core relies on this: a registry's `host:port` CA key must be encoded.
import { isJsonObject, objectAt, textOf, type JsonObject } from '../json.js';
import { errors, type StatusCause } from './status.js';
import type { Strategy } from './types.js';

const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const CONFIG_KEY_RULE =
  "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

/** What kube says is wrong with a ConfigMap or Secret key (nothing when it is valid). */
export function configKeyProblems(key: string): string[] {
  const problems: string[] = [];
  if (key.length > 253) problems.push('must be no more than 253 characters');
  if (!CONFIG_KEY.test(key)) problems.push(CONFIG_KEY_RULE);
  if (key === '.') problems.push("must not be '.'");
  else if (key === '..') problems.push("must not be '..'");
  else if (key.startsWith('..')) problems.push("must not start with '..'");
  return problems;
}

function keyCauses(map: JsonObject | undefined, field: string): StatusCause[] {
  return Object.keys(map ?? {}).flatMap((key) =>
    configKeyProblems(key).map((problem) => ({
      reason: 'FieldValueInvalid',
      message: `Invalid value: ${JSON.stringify(key)}: ${problem}`,
      field: `${field}[${key}]`,
    })),
  );
}

const BASE64_ALPHABET = /[A-Za-z0-9+/]/;

/**
 * Where standard base64 (with padding) stops decoding, as Go's decoder reports it, or -1 when the text
 * decodes: the first byte outside the alphabet, padding that is misplaced, or the start of an incomplete
 * last group.
 */
export function base64ErrorOffset(text: string): number {
  const padding = /=*$/.exec(text)?.[0].length ?? 0;
  const body = text.length - padding;
  for (let i = 0; i < body; i++) if (!BASE64_ALPHABET.test(text[i]!)) return i;
  if (padding > 2 || (padding > 0 && text.length % 4 !== 0)) return body;
  if (text.length % 4 !== 0) return text.length - (text.length % 4);
  return -1;
}

/** A Secret whose `data` does not decode is refused as a body the server cannot read (400). */
function checkDecodable(object: JsonObject): void {
  for (const [key, value] of Object.entries(objectAt(object, 'data') ?? {})) {
    const offset = typeof value === 'string' ? base64ErrorOffset(value) : 0;
    if (offset >= 0) {
      throw errors.badRequest(
        `Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte ${offset} (key ${JSON.stringify(key)})`,
      );
    }
  }
}

export const configMap: Strategy = {
  validate: (object) => {
    const data = objectAt(object, 'data');
    const binary = objectAt(object, 'binaryData');
    const duplicates = Object.keys(binary ?? {})
      .filter((key) => Object.hasOwn(data ?? {}, key))
      .map((key) => ({
        reason: 'FieldValueInvalid',
        message: `Invalid value: ${JSON.stringify(key)}: duplicate of key present in data`,
        field: `binaryData[${key}]`,
      }));
    return [...keyCauses(data, 'data'), ...keyCauses(binary, 'binaryData'), ...duplicates];
  },
};

function required(field: string): StatusCause {
  return { reason: 'FieldValueRequired', message: 'Required value', field };
}

export const secret: Strategy = {
  validate: (object) => {
    checkDecodable(object);
    const data = objectAt(object, 'data') ?? {};
    const causes: StatusCause[] = [
      ...keyCauses(data, 'data'),
      ...(isJsonObject(object['stringData']) ? keyCauses(object['stringData'], 'stringData') : []),
    ];
    if (object['type'] === 'kubernetes.io/tls') {
      for (const key of ['tls.crt', 'tls.key']) if (!(key in data)) causes.push(required(`data[${key}]`));
    }
    return causes;
  },
  fields: (object) => ({ type: textOf(object['type']) }),
  prepareCreate: (object) => {
    object['type'] ??= 'Opaque';
  },
};
