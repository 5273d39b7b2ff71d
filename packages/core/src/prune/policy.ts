import type { ImagePrunerSpec } from '../cluster/openshift-objects.js';
import type { NamespacePolicy, NamespaceRulesSource, PrunePolicy, RetentionRule } from './types.js';
import {
  describeKeep,
  invalid,
  namespaceRulesSource,
  parseReferenceSources,
  parseRules,
  pattern,
} from './rules.js';
import { formatDuration, parseDuration } from './quantities.js';

/** Per-namespace changes, as a user writes them. */
export interface NamespacePolicyInput {
  /** Never prune the namespace's streams. */
  exclude?: boolean;
  keepTagRevisions?: number;
  /** A Go duration such as `24h`. */
  keepYoungerThan?: string;
}

/**
 * A retention rule as a user writes it: what it selects (regular expressions, unanchored as in
 * `tagInclude`; absent means any) and exactly one of `keepLast`, `keepWithin`, `keepTags`.
 */
export interface RetentionRuleInput {
  /** How the plan names the rule (default `rules[<index>]`). */
  name?: string;
  /** Namespaces it is about (cluster rules only; a namespace's own rules are about that namespace). */
  namespace?: string;
  /** Stream names it is about. */
  stream?: string;
  /** Tags it is about. */
  tag?: string;
  /** Keep the N history items of the selected tags pushed last, per stream. */
  keepLast?: number;
  /** Keep the selected items pushed within this duration: a Go duration (`36h`) or whole days (`7d`). */
  keepWithin?: string;
  /** Keep revision 0 of each selected tag whose name matches this regular expression. */
  keepTags?: string;
}

/**
 * A custom resource whose image references protect images: a preset's name (`knative`, `tekton`, `olm`,
 * `argo-rollouts`), or a kind written out.
 */
export type ReferenceSourceInput =
  | string
  | {
      group: string;
      version: string;
      /** Plural resource name. */
      resource: string;
      /** Default: the resource name. */
      kind?: string;
      /** Default true. */
      namespaced?: boolean;
      /** Field paths: `spec.steps[].image`; a leading `$.` or `.` and `[*]` are accepted too. */
      paths: string[];
    };

/** Turns namespaces' own rules on: where they are read from (defaults {@link DEFAULT_NAMESPACE_RULES}). */
export interface NamespaceRulesInput {
  annotation?: string;
  configMap?: string;
  key?: string;
}

/** Input of {@link resolvePrunePolicy}: the ImagePruner spec, then explicit settings that win over it. */
export interface PrunePolicyInput {
  /** The ImagePruner CR's `spec` (defaults: 3 revisions, 60m, invalid references fail the run). */
  pruner?: ImagePrunerSpec;
  keepTagRevisions?: number;
  /** A Go duration such as `60m`. */
  keepYoungerThan?: string;
  ignoreInvalidImageReferences?: boolean;
  /**
   * Delete history items whose image is larger than its namespace's LimitRange `openshift.io/Image`
   * `max.storage`, instead of counting revisions. Age protection then applies only when `keepYoungerThan`
   * is given here explicitly.
   */
  pruneOverSizeLimit?: boolean;
  /** Also delete Image objects the integrated registry does not manage. Default false (oc's default is true). */
  all?: boolean;
  /** Only tags matching this regular expression are pruned. */
  tagInclude?: string;
  /** Tags matching this regular expression are never pruned. */
  tagExclude?: string;
  /** Annotation that protects an Image or ImageStream when `"true"`. Default {@link DEFAULT_PROTECT_ANNOTATION}. */
  protectAnnotation?: string;
  namespaces?: Record<string, NamespacePolicyInput>;
  /** Cluster retention rules (at most {@link MAX_CLUSTER_RULES}), OR-ed. */
  rules?: RetentionRuleInput[];
  /**
   * Let namespaces add rules of their own (an annotation on the Namespace, a ConfigMap in it), which can
   * only keep more: `true` for the default names. Needs `get`/`list` on namespaces and configmaps.
   */
  namespaceRules?: boolean | NamespaceRulesInput;
  /** Custom resources whose image references are uses: presets or kinds written out. */
  referenceSources?: ReferenceSourceInput[];
}

/** A validated policy and what the user should know about it. */
export interface ResolvedPolicy {
  policy: PrunePolicy;
  warnings: string[];
}

/** The protect annotation unless the policy names another. */
export const DEFAULT_PROTECT_ANNOTATION = 'registry-push.io/prune-protect';
/** Where namespaces' own rules are read from, unless the policy names other places. */
export const DEFAULT_NAMESPACE_RULES: NamespaceRulesSource = {
  annotation: 'registry-push.io/retention-rules',
  configMap: 'registry-push-retention',
  key: 'rules',
};
/** At most this many cluster rules, and this many rules per namespace (annotation and ConfigMap together). */
export const MAX_CLUSTER_RULES = 100;
export const MAX_NAMESPACE_RULES = 20;
/** The operator's defaults. */
export const DEFAULT_KEEP_TAG_REVISIONS = 3;
export const DEFAULT_KEEP_YOUNGER_THAN_MS = 60 * 60_000;

const ANNOTATION_KEY =
  /^(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const NAMESPACE = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

function revisions(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw invalid(
      field,
      `must be a whole number of 0 or more, not ${JSON.stringify(value)}`,
      'For example 3.',
    );
  }
  return value;
}

function duration(value: unknown, field: string): number {
  const ms = typeof value === 'string' ? parseDuration(value) : undefined;
  if (ms === undefined) {
    throw invalid(
      field,
      `must be a duration of 0 or more such as "60m" or "1h30m", not ${JSON.stringify(value)}`,
      'Use Go duration units: h, m, s, ms.',
    );
  }
  return ms;
}

function regex(value: unknown, field: string): string {
  return pattern(value, field, '^v[0-9]+');
}

function bool(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean')
    throw invalid(field, `must be true or false, not ${JSON.stringify(value)}`, '');
  return value;
}

function prunerAge(spec: ImagePrunerSpec): number | undefined {
  if (spec.keepYoungerThanDuration !== undefined && spec.keepYoungerThanDuration !== null) {
    return duration(spec.keepYoungerThanDuration, 'pruner.keepYoungerThanDuration');
  }
  const ns = spec.keepYoungerThan;
  if (ns === undefined || ns === null) return undefined;
  if (typeof ns !== 'number' || !Number.isFinite(ns) || ns < 0) {
    throw invalid(
      'pruner.keepYoungerThan',
      'must be a number of nanoseconds of 0 or more',
      'Prefer keepYoungerThanDuration.',
    );
  }
  return ns / 1e6;
}

function namespacePolicies(
  input: Record<string, NamespacePolicyInput> | undefined,
): Record<string, NamespacePolicy> {
  const result: Record<string, NamespacePolicy> = {};
  for (const [namespace, entry] of Object.entries(input ?? {})) {
    const at = `namespaces.${namespace}`;
    if (!NAMESPACE.test(namespace))
      throw invalid(at, 'is not a namespace name', 'Use the namespace name as the key.');
    if (typeof entry !== 'object' || entry === null) throw invalid(at, 'must be an object', '');
    for (const key of Object.keys(entry)) {
      if (!['exclude', 'keepTagRevisions', 'keepYoungerThan'].includes(key)) {
        throw invalid(
          `${at}.${key}`,
          'is not a known setting',
          'Known: exclude, keepTagRevisions, keepYoungerThan.',
        );
      }
    }
    result[namespace] = {
      ...(entry.exclude !== undefined ? { exclude: bool(entry.exclude, `${at}.exclude`) } : {}),
      ...(entry.keepTagRevisions !== undefined
        ? { keepTagRevisions: revisions(entry.keepTagRevisions, `${at}.keepTagRevisions`) }
        : {}),
      ...(entry.keepYoungerThan !== undefined
        ? { keepYoungerThanMs: duration(entry.keepYoungerThan, `${at}.keepYoungerThan`) }
        : {}),
    };
  }
  return result;
}

/**
 * Builds the policy the plan applies: the ImagePruner CR's settings with the operator's defaults, then the
 * explicit settings, then our additions. Every value is checked; the first bad one is a
 * `PRUNE_POLICY_INVALID` error naming the field.
 *
 * @param input The CR spec and explicit settings.
 * @returns The policy and warnings (settings that have no effect).
 */
export function resolvePrunePolicy(input: PrunePolicyInput = {}): ResolvedPolicy {
  const spec = input.pruner ?? {};
  const warnings: string[] = [];
  const overSize = optionalBool(input.pruneOverSizeLimit, 'pruneOverSizeLimit') ?? false;
  const keepTagRevisions = revisionsSetting(input, spec, overSize, warnings);
  const keepYoungerThanMs = ageSetting(input, spec, overSize, warnings);
  const protectAnnotation = input.protectAnnotation ?? DEFAULT_PROTECT_ANNOTATION;
  if (typeof protectAnnotation !== 'string' || !ANNOTATION_KEY.test(protectAnnotation)) {
    throw invalid(
      'protectAnnotation',
      `is not an annotation key: ${JSON.stringify(protectAnnotation)}`,
      'For example "example.com/keep".',
    );
  }
  const policy: PrunePolicy = {
    keepTagRevisions,
    keepYoungerThanMs,
    ignoreInvalidImageReferences:
      optionalBool(input.ignoreInvalidImageReferences, 'ignoreInvalidImageReferences') ??
      optionalBool(spec.ignoreInvalidImageReferences, 'pruner.ignoreInvalidImageReferences') ??
      false,
    pruneOverSizeLimit: overSize,
    all: optionalBool(input.all, 'all') ?? false,
    ...(input.tagInclude !== undefined ? { tagInclude: regex(input.tagInclude, 'tagInclude') } : {}),
    ...(input.tagExclude !== undefined ? { tagExclude: regex(input.tagExclude, 'tagExclude') } : {}),
    protectAnnotation,
    namespaces: namespacePolicies(input.namespaces),
  };
  addRuleSettings(policy, input);
  if (policy.keepTagRevisions === 0 && !overSize) {
    warnings.push('keepTagRevisions 0 keeps the current image of a tag only while something uses the tag.');
  }
  return { policy, warnings };
}

/** The retention rules, namespaces' own rules and reference sources, each only when given. */
function addRuleSettings(policy: PrunePolicy, input: PrunePolicyInput): void {
  if (input.rules !== undefined && input.rules !== null) {
    const rules = parseRules(input.rules, 'rules', { namespaced: false, max: MAX_CLUSTER_RULES });
    if (rules.length > 0 && policy.pruneOverSizeLimit) {
      throw invalid(
        'rules',
        'cannot be combined with pruneOverSizeLimit',
        'Size-limit pruning replaces revision counting and so do rules; drop one of the two.',
      );
    }
    if (rules.length > 0) policy.rules = rules;
  }
  const own = namespaceRulesSource(input.namespaceRules, DEFAULT_NAMESPACE_RULES);
  if (own !== undefined) policy.namespaceRules = own;
  const sources = parseReferenceSources(input.referenceSources);
  if (sources.length > 0) policy.referenceSources = sources;
}

/**
 * A namespace's own rules, as its annotation or ConfigMap holds them: a JSON list of rules without
 * `namespace` (see {@link RetentionRuleInput}).
 *
 * @param text The annotation value or ConfigMap key.
 * @param where `annotation` or `configmap`, for labels and messages.
 * @returns The rules.
 * @throws RegistryPushError `PRUNE_POLICY_INVALID` when the text is not such a list.
 */
export function parseNamespaceRules(text: string, where: string): RetentionRule[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw invalid(
      where,
      `is not JSON (${(error as Error).message})`,
      'Write a JSON list such as [{"keepLast":5}].',
    );
  }
  return parseRules(value, where, { namespaced: true, max: MAX_NAMESPACE_RULES });
}

function optionalBool(value: unknown, field: string): boolean | undefined {
  return value === undefined || value === null ? undefined : bool(value, field);
}

function revisionsSetting(
  input: PrunePolicyInput,
  spec: ImagePrunerSpec,
  overSize: boolean,
  warnings: string[],
): number {
  const fromSpec =
    spec.keepTagRevisions === undefined || spec.keepTagRevisions === null
      ? undefined
      : revisions(spec.keepTagRevisions, 'pruner.keepTagRevisions');
  const explicit =
    input.keepTagRevisions === undefined ? undefined : revisions(input.keepTagRevisions, 'keepTagRevisions');
  if (overSize && explicit !== undefined) {
    throw invalid(
      'keepTagRevisions',
      'cannot be combined with pruneOverSizeLimit',
      'Size-limit pruning replaces revision counting; drop one of the two.',
    );
  }
  if (overSize && fromSpec !== undefined) {
    warnings.push('pruneOverSizeLimit ignores the ImagePruner keepTagRevisions setting.');
  }
  return explicit ?? fromSpec ?? DEFAULT_KEEP_TAG_REVISIONS;
}

function ageSetting(
  input: PrunePolicyInput,
  spec: ImagePrunerSpec,
  overSize: boolean,
  warnings: string[],
): number {
  const fromSpec = prunerAge(spec);
  const explicit =
    input.keepYoungerThan === undefined ? undefined : duration(input.keepYoungerThan, 'keepYoungerThan');
  if (!overSize) return explicit ?? fromSpec ?? DEFAULT_KEEP_YOUNGER_THAN_MS;
  if (explicit === undefined)
    warnings.push('pruneOverSizeLimit without an explicit keepYoungerThan prunes young items too.');
  return explicit ?? 0;
}

/** The settings that apply to one namespace. */
export interface EffectivePolicy {
  exclude: boolean;
  keepTagRevisions: number;
  keepYoungerThanMs: number;
}

/**
 * The policy for one namespace: its overrides over the cluster-wide values.
 *
 * @param policy The resolved policy.
 * @param namespace The namespace.
 * @returns The effective settings.
 */
export function policyFor(policy: PrunePolicy, namespace: string): EffectivePolicy {
  const own = policy.namespaces[namespace];
  return {
    exclude: own?.exclude === true,
    keepTagRevisions: own?.keepTagRevisions ?? policy.keepTagRevisions,
    keepYoungerThanMs: own?.keepYoungerThanMs ?? policy.keepYoungerThanMs,
  };
}

/** A one-line description of a policy, for logs and the human report. */
export function describePolicy(policy: PrunePolicy): string {
  const parts = [
    policy.pruneOverSizeLimit ? 'over-size-limit' : `keep ${policy.keepTagRevisions} revisions`,
    `younger than ${formatDuration(policy.keepYoungerThanMs)}`,
    policy.all ? 'all images' : 'managed images only',
  ];
  if (policy.tagInclude !== undefined) parts.push(`tags /${policy.tagInclude}/`);
  if (policy.tagExclude !== undefined) parts.push(`except /${policy.tagExclude}/`);
  if (policy.ignoreInvalidImageReferences) parts.push('invalid references protect their namespace');
  const overrides = Object.keys(policy.namespaces).length;
  if (overrides > 0) parts.push(`${overrides} namespace override(s)`);
  for (const rule of policy.rules ?? []) {
    const about = [rule.namespace, rule.stream, rule.tag].map((p) => p ?? '*').join('/');
    parts.push(`rule ${rule.label} (${about}): ${describeKeep(rule)}`);
  }
  if (policy.namespaceRules !== undefined) parts.push('namespace rules on');
  if (policy.referenceSources !== undefined) {
    parts.push(`images used by ${policy.referenceSources.map((s) => `${s.resource}.${s.group}`).join(', ')}`);
  }
  return parts.join(', ');
}
