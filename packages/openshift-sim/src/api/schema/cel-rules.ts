/** Compiling `x-kubernetes-validations` rules and evaluating them over a value (and its old value). */
import { Optional } from '@marcbachmann/cel-js';
import type { ParseResult } from '@marcbachmann/cel-js';
import type { JsonValue } from '../../json.js';
import type { FieldCause, Schema, ValidationRule } from './types.js';
import {
  childPath,
  errorMessage,
  indexPath,
  isJsonObject,
  ownProperty,
  stableStringify,
} from './json-values.js';
import { duplicateCause, forbiddenCause, invalidCause, requiredCause } from './causes.js';
import { propertySchema } from './prune.js';
import { type Causes, mapListKey } from './validate.js';
import { type CelValue, celEnv, celSelf, toCel } from './cel-library.js';

interface CompiledRule {
  readonly rule: ValidationRule;
  /** Undefined when the rule is unsupported (see `unsupported`). */
  readonly program?: ParseResult;
  readonly messageProgram?: ParseResult;
  readonly usesOldSelf: boolean;
  /** Why the rule is skipped. */
  readonly unsupported?: string;
}

/** End of a CEL string literal starting at `start` (a quote), honouring triple quotes and raw strings. */
function skipCelString(expr: string, start: number, raw: boolean): number {
  const quote = expr.charAt(start);
  const delimiter = expr.startsWith(quote.repeat(3), start) ? quote.repeat(3) : quote;
  let i = start + delimiter.length;
  while (i < expr.length) {
    if (!raw && expr.charAt(i) === '\\') i += 2;
    else if (expr.startsWith(delimiter, i)) return i + delimiter.length;
    else i += 1;
  }
  return expr.length;
}

/** Renames `matches(` calls (outside string literals) to the RE2-aware `re2Matches(`. */
function rewriteRegexCalls(expr: string): string {
  let out = '';
  let i = 0;
  while (i < expr.length) {
    const ch = expr.charAt(i);
    if (ch === '"' || ch === "'") {
      const end = skipCelString(expr, i, false);
      out += expr.slice(i, end);
      i = end;
    } else if (/[A-Za-z_]/.test(ch)) {
      const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(expr.slice(i))?.[0] ?? ch;
      const after = expr.charAt(i + word.length);
      const end =
        /^[rRbB]{1,2}$/.test(word) && (after === '"' || after === "'")
          ? skipCelString(expr, i + word.length, /r/i.test(word))
          : i + word.length;
      const isCall = word === 'matches' && /^\s*\(/.test(expr.slice(end));
      out += isCall ? 're2Matches' : expr.slice(i, end);
      i = end;
    } else {
      out += ch;
      i += 1;
    }
  }
  return out;
}

/** Compiles and type-checks an expression; returns the reason as a string when it cannot be supported. */
function compileExpression(source: string, optionalOldSelf: boolean): ParseResult | string {
  try {
    const program = celEnv(optionalOldSelf).parse(rewriteRegexCalls(source));
    const checked = program.check();
    if (!checked.valid) return errorMessage(checked.error ?? 'type check failed');
    return program;
  } catch (error) {
    return errorMessage(error);
  }
}

/** Whether a parsed expression refers to the `oldSelf` variable (a transition rule). */
function referencesOldSelf(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(referencesOldSelf);
  if (typeof node !== 'object' || node === null || !('op' in node) || !('args' in node)) return false;
  return node.op === 'id' ? node.args === 'oldSelf' : referencesOldSelf(node.args);
}

function compileRule(rule: ValidationRule): CompiledRule {
  const optionalOldSelf = rule.optionalOldSelf === true;
  const program = compileExpression(rule.rule, optionalOldSelf);
  if (typeof program === 'string') {
    return { rule, usesOldSelf: /\boldSelf\b/.test(rule.rule), unsupported: program };
  }
  const message =
    rule.messageExpression === undefined
      ? undefined
      : compileExpression(rule.messageExpression, optionalOldSelf);
  return {
    rule,
    program,
    usesOldSelf: referencesOldSelf(program.ast),
    ...(typeof message === 'function' ? { messageProgram: message } : {}),
  };
}

const compiledRules = new WeakMap<Schema, CompiledRule[]>();

export function rulesOf(schema: Schema): CompiledRule[] {
  let compiled = compiledRules.get(schema);
  if (!compiled) {
    compiled = (schema['x-kubernetes-validations'] ?? []).map(compileRule);
    compiledRules.set(schema, compiled);
  }
  return compiled;
}

export function childSchemas(schema: Schema): Array<[string, Schema]> {
  const children: Array<[string, Schema]> = Object.entries(schema.properties ?? {}).map(([key, sub]) => [
    `.${key}`,
    sub,
  ]);
  if (schema.items) children.push(['[*]', schema.items]);
  if (typeof schema.additionalProperties === 'object') children.push(['.*', schema.additionalProperties]);
  return children;
}

const subtreeHasRules = new WeakMap<Schema, boolean>();

/** Whether `schema` or anything below it carries x-kubernetes-validations. */
function hasRules(schema: Schema): boolean {
  let result = subtreeHasRules.get(schema);
  if (result === undefined) {
    result =
      (schema['x-kubernetes-validations']?.length ?? 0) > 0 ||
      childSchemas(schema).some(([, sub]) => hasRules(sub));
    subtreeHasRules.set(schema, result);
  }
  return result;
}

// Evaluating rules

interface CelNode {
  value: JsonValue;
  old: JsonValue | undefined;
  schema: Schema;
  path: string;
  root: boolean;
}

function ruleErrorString(rule: ValidationRule): string {
  return (rule.message ?? '').trim() || rule.rule.trim();
}

/** `.spec.foo['bar']` (relative to the node) joined onto the node's field path. */
function joinFieldPath(base: string, fieldPath: string): string {
  const relative = fieldPath.replace(/\[\s*'((?:[^'\\]|\\.)*)'\s*\]/g, '[$1]').replace(/^\./, '');
  if (base === '' || relative.startsWith('[')) return `${base}${relative}`;
  return `${base}.${relative}`;
}

function failureDetail(compiled: CompiledRule, context: Record<string, unknown>): string {
  if (compiled.messageProgram) {
    try {
      const message: unknown = compiled.messageProgram(context);
      if (typeof message === 'string' && message.trim() !== '' && !message.includes('\n')) return message;
    } catch {
      // kube falls back to message when messageExpression fails
    }
  }
  const message = (compiled.rule.message ?? '').trim();
  return message === '' ? `failed rule: ${compiled.rule.rule.trim()}` : message;
}

function causeForReason(rule: ValidationRule, path: string, typeName: string, detail: string): FieldCause {
  switch (rule.reason) {
    case 'FieldValueForbidden':
      return forbiddenCause(path, detail);
    case 'FieldValueRequired':
      return requiredCause(path, detail);
    case 'FieldValueDuplicate':
      return duplicateCause(path, typeName);
    case 'FieldValueInvalid':
    case undefined:
      return invalidCause(path, typeName, detail);
  }
}

function evaluateRule(
  compiled: CompiledRule,
  program: ParseResult,
  node: CelNode,
  self: CelValue,
): FieldCause | undefined {
  const { rule } = compiled;
  const old = node.old === undefined ? undefined : toCel(node.old, node.schema);
  const oldSelf =
    rule.optionalOldSelf === true ? (old === undefined ? Optional.none() : Optional.of(old)) : (old ?? null);
  const context = { self, oldSelf };
  const typeName = node.schema.type ?? '';
  let result: unknown;
  try {
    result = program(context);
  } catch (error) {
    return invalidCause(
      node.path,
      typeName,
      `${errorMessage(error)} evaluating rule: ${ruleErrorString(rule)}`,
    );
  }
  if (result === true) return undefined;
  const path = rule.fieldPath === undefined ? node.path : joinFieldPath(node.path, rule.fieldPath);
  return causeForReason(rule, path, typeName, failureDetail(compiled, context));
}

function runRules(node: CelNode, out: Causes): void {
  let self: CelValue | undefined;
  for (const compiled of rulesOf(node.schema)) {
    const { program } = compiled;
    if (program === undefined) continue;
    // Transition rules only run when there is an old value (unless they opted into optionalOldSelf).
    if (compiled.usesOldSelf && node.old === undefined && compiled.rule.optionalOldSelf !== true) continue;
    self ??= celSelf(node.value, node.schema, node.root);
    const cause = evaluateRule(compiled, program, node, self);
    if (cause) out.push(cause);
  }
}

/** Finds the old item an item correlates with: only `list-type: map` items correlate, by their keys. */
function oldItemFinder(node: CelNode): (item: JsonValue) => JsonValue | undefined {
  const keys = node.schema['x-kubernetes-list-map-keys'];
  if (node.schema['x-kubernetes-list-type'] !== 'map' || !keys || !Array.isArray(node.old))
    return () => undefined;
  const index = new Map<string, JsonValue>();
  for (const old of node.old) {
    const key = mapListKey(old, keys);
    if (key) index.set(stableStringify(key), old);
  }
  return (item) => {
    const key = mapListKey(item, keys);
    return key ? index.get(stableStringify(key)) : undefined;
  };
}

export function validateCel(node: CelNode, out: Causes): void {
  if (node.value === null || !hasRules(node.schema)) return;
  runRules(node, out);
  const { value, schema, old } = node;
  if (Array.isArray(value)) {
    const items = schema.items;
    if (!items) return;
    const findOld = oldItemFinder(node);
    value.forEach((item, i) => {
      validateCel(
        { value: item, old: findOld(item), schema: items, path: indexPath(node.path, i), root: false },
        out,
      );
    });
  } else if (isJsonObject(value)) {
    for (const [key, child] of Object.entries(value)) {
      const sub = node.root && key === 'metadata' ? undefined : propertySchema(schema, key);
      const oldChild = isJsonObject(old) ? ownProperty(old, key) : undefined;
      if (sub)
        validateCel(
          { value: child, old: oldChild, schema: sub, path: childPath(node.path, key), root: false },
          out,
        );
    }
  }
}

/** Errors after which kube does not run CEL rules (they would see ill-typed data). */
export const BLOCKING_REASONS: ReadonlySet<FieldCause['reason']> = new Set<FieldCause['reason']>([
  'FieldValueNotSupported',
  'FieldValueRequired',
  'FieldValueTooLong',
  'FieldValueTooMany',
  'FieldValueTypeInvalid',
]);
