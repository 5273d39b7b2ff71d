/**
 * What kube-apiserver's apiextensions code does with a CRD's structural OpenAPI v3 schema when an object is
 * created or updated, as pure functions: prune unknown fields, apply defaults, validate (OpenAPI keywords,
 * `x-kubernetes-list-type` invariants, `x-kubernetes-validations` CEL rules).
 *
 * CEL runs on `@marcbachmann/cel-js` plus the Kubernetes extension functions that are cheap to provide here
 * (strings, regex, lists, sets, ip/cidr, url, quantity, format). A rule the evaluator cannot compile is
 * skipped rather than failing objects; {@link unsupportedRules} lists those rules. The parts live in
 * `schema/`: `load` (YAML to typed schemas), `prune` (pruning, defaulting), `validate` and `formats`
 * (OpenAPI keywords), `cel-library` and `cel-rules` (CEL), `causes`, `re2`, `ip`, `json-values`, `types`.
 */
import type { JsonObject } from '../json.js';
import type { CompiledCrd, FieldCause, Schema, ValidationResult } from './schema/types.js';
import { isJsonObject } from './schema/json-values.js';
import { invalidCause } from './schema/causes.js';
import { applyDefaults, pruneValue } from './schema/prune.js';
import { validateValue } from './schema/validate.js';
import { BLOCKING_REASONS, childSchemas, rulesOf, validateCel } from './schema/cel-rules.js';

export type {
  SchemaType,
  ValidationRule,
  Schema,
  FieldCause,
  CrdVersion,
  CompiledCrd,
  ValidationResult,
} from './schema/types.js';
export { loadCrd, loadCrdFile } from './schema/load.js';

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
 * @returns the prepared copy, the causes (empty when valid) and the pruned field paths, sorted.
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
  // apiextensions sorts the pruned paths (pruning walks Go maps, which have no order).
  return { object: prepared, result: { causes, unknownFields: unknownFields.sort() } };
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
