import { RegistryPushError } from '../errors.js';
import type { NamespacePolicy, PrunePolicy } from './types.js';
import { formatDuration, parseDuration } from './units.js';

/** The pruning fields of `imagepruners.imageregistry.operator.openshift.io/cluster` `spec`; others are ignored. */
export interface ImagePrunerSpec {
  keepTagRevisions?: number;
  keepYoungerThanDuration?: string;
  /** Deprecated, in nanoseconds; used only when `keepYoungerThanDuration` is absent. */
  keepYoungerThan?: number;
  ignoreInvalidImageReferences?: boolean;
  [field: string]: unknown;
}

/** Per-namespace changes, as a user writes them. */
export interface NamespacePolicyInput {
  /** Never prune the namespace's streams. */
  exclude?: boolean;
  keepTagRevisions?: number;
  /** A Go duration such as `24h`. */
  keepYoungerThan?: string;
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
}

/** A validated policy and what the user should know about it. */
export interface ResolvedPolicy {
  policy: PrunePolicy;
  warnings: string[];
}

/** The protect annotation unless the policy names another. */
export const DEFAULT_PROTECT_ANNOTATION = 'registry-push.io/prune-protect';
/** The operator's defaults. */
export const DEFAULT_KEEP_TAG_REVISIONS = 3;
export const DEFAULT_KEEP_YOUNGER_THAN_MS = 60 * 60_000;

const ANNOTATION_KEY =
  /^(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const NAMESPACE = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

function invalid(field: string, message: string, hint: string): RegistryPushError {
  return new RegistryPushError('PRUNE_POLICY_INVALID', `The prune policy's ${field} ${message}.`, {
    hint,
    details: { field },
  });
}

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
  if (typeof value !== 'string' || value === '') {
    throw invalid(field, 'must be a non-empty regular expression', 'For example "^v[0-9]+".');
  }
  try {
    new RegExp(value, 'u');
  } catch (error) {
    throw invalid(
      field,
      `is not a valid regular expression (${(error as Error).message})`,
      'Fix the expression.',
    );
  }
  return value;
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
  if (policy.keepTagRevisions === 0 && !overSize) {
    warnings.push('keepTagRevisions 0 keeps the current image of a tag only while something uses the tag.');
  }
  return { policy, warnings };
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
  return parts.join(', ');
}
