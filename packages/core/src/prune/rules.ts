/**
 * Retention rules (cluster and namespace), custom-resource reference sources with their presets, and the
 * cosign tag convention: parsing and checking what users write, and the compiled forms the plan applies.
 */
import { RegistryPushError } from '../errors.js';
import type { NamespaceRulesSource, ReferenceSource, RetentionRule } from './types.js';
import { formatDuration, parseDuration } from './quantities.js';

/** A rule as written (see `RetentionRuleInput` in policy.ts; repeated here to keep this file standalone). */
interface RuleInput {
  name?: unknown;
  namespace?: unknown;
  stream?: unknown;
  tag?: unknown;
  keepLast?: unknown;
  keepWithin?: unknown;
  keepTags?: unknown;
}

const RULE_KEYS = ['name', 'namespace', 'stream', 'tag', 'keepLast', 'keepWithin', 'keepTags'];
const KEEP_KEYS = ['keepLast', 'keepWithin', 'keepTags'] as const;
const ANNOTATION_KEY =
  /^(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const DNS_NAME = /^[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

/** A policy mistake: the field, what is wrong with it, and what to do. */
export function invalid(field: string, message: string, hint: string): RegistryPushError {
  return new RegistryPushError('PRUNE_POLICY_INVALID', `The prune policy's ${field} ${message}.`, {
    hint,
    details: { field },
  });
}

/** A regular expression as written in the policy (checked to compile, kept as text). */
export function pattern(value: unknown, field: string, example = '^pr-'): string {
  if (typeof value !== 'string' || value === '') {
    throw invalid(field, 'must be a non-empty regular expression', `For example "${example}".`);
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

/**
 * A retention duration: a Go duration (`36h`, `90m`) or whole days (`7d`).
 *
 * @returns Milliseconds, or undefined when the text is neither.
 */
export function parseRetentionDuration(text: string): number | undefined {
  const days = /^(\d{1,5})d$/.exec(text);
  if (days !== null) return Number(days[1]) * 86_400_000;
  return parseDuration(text);
}

/**
 * Checks rules as written and compiles them.
 *
 * @param input The list as written.
 * @param at Where it was written, for messages and default labels (`rules`, `namespace demo annotation …`).
 * @param options `namespaced`: a namespace's own rules, which may not name a namespace; `max`: how many.
 * @returns The rules.
 * @throws RegistryPushError `PRUNE_POLICY_INVALID` naming the first bad field.
 */
export function parseRules(
  input: unknown,
  at: string,
  options: { namespaced: boolean; max: number },
): RetentionRule[] {
  if (!Array.isArray(input)) throw invalid(at, 'must be a list of rules', 'For example [{"keepLast":5}].');
  if (input.length > options.max) {
    throw invalid(at, `has ${input.length} rules, more than the ${options.max} allowed`, 'Merge rules.');
  }
  return input.map((entry: unknown, i) => parseRule(entry, `${at}[${i}]`, options.namespaced));
}

function parseRule(entry: unknown, at: string, namespaced: boolean): RetentionRule {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw invalid(at, 'must be an object', 'For example {"tag":"^pr-","keepLast":5}.');
  }
  const rule = entry as RuleInput;
  checkRuleKeys(rule, at, namespaced);
  if (rule.name !== undefined && (typeof rule.name !== 'string' || rule.name === '')) {
    throw invalid(`${at}.name`, 'must be a non-empty string', '');
  }
  const result: RetentionRule = { label: typeof rule.name === 'string' ? rule.name : at };
  for (const key of ['namespace', 'stream', 'tag'] as const) {
    if (rule[key] !== undefined) result[key] = pattern(rule[key], `${at}.${key}`);
  }
  return { ...result, ...keepOf(rule, at) };
}

function checkRuleKeys(rule: RuleInput, at: string, namespaced: boolean): void {
  const allowed = namespaced ? RULE_KEYS.filter((k) => k !== 'namespace') : RULE_KEYS;
  for (const key of Object.keys(rule)) {
    if (allowed.includes(key)) continue;
    throw invalid(
      `${at}.${key}`,
      namespaced && key === 'namespace'
        ? 'cannot be set: a namespace rule is about its own namespace'
        : 'is not a known setting',
      `Known: ${allowed.join(', ')}.`,
    );
  }
  const keeps = KEEP_KEYS.filter((key) => rule[key] !== undefined);
  if (keeps.length !== 1) {
    throw invalid(
      at,
      keeps.length === 0 ? 'keeps nothing' : `has ${keeps.join(' and ')}, but a rule keeps in one way only`,
      'Give exactly one of keepLast, keepWithin, keepTags; write several rules to combine them.',
    );
  }
}

/** The one way a rule keeps, checked. */
function keepOf(rule: RuleInput, at: string): Pick<RetentionRule, 'keepLast' | 'keepWithinMs' | 'keepTags'> {
  if (rule.keepLast !== undefined) {
    const n = rule.keepLast;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
      throw invalid(`${at}.keepLast`, `must be a whole number of 0 or more, not ${JSON.stringify(n)}`, '');
    }
    return { keepLast: n };
  }
  if (rule.keepWithin !== undefined) {
    const ms = typeof rule.keepWithin === 'string' ? parseRetentionDuration(rule.keepWithin) : undefined;
    if (ms === undefined) {
      throw invalid(
        `${at}.keepWithin`,
        `must be a duration such as "36h" or "7d", not ${JSON.stringify(rule.keepWithin)}`,
        'Use Go duration units (h, m, s) or whole days (d).',
      );
    }
    return { keepWithinMs: ms };
  }
  return { keepTags: pattern(rule.keepTags, `${at}.keepTags`) };
}

/** What a rule keeps, in words: `keep last 5 pushed`. */
export function describeKeep(rule: RetentionRule): string {
  if (rule.keepLast !== undefined) return `keep last ${rule.keepLast} pushed`;
  if (rule.keepWithinMs !== undefined) return `keep pushed within ${formatDuration(rule.keepWithinMs)}`;
  return `keep tags /${rule.keepTags ?? ''}/`;
}

/**
 * Where namespaces' own rules are read from.
 *
 * @param input `true`, or the places; anything false-like turns them off.
 * @param defaults The default places.
 */
export function namespaceRulesSource(
  input: unknown,
  defaults: NamespaceRulesSource,
): NamespaceRulesSource | undefined {
  if (input === undefined || input === null || input === false) return undefined;
  if (input === true) return { ...defaults };
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw invalid('namespaceRules', 'must be true, false or {annotation, configMap, key}', '');
  }
  const given = input as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!['annotation', 'configMap', 'key'].includes(key)) {
      throw invalid(`namespaceRules.${key}`, 'is not a known setting', 'Known: annotation, configMap, key.');
    }
  }
  const annotation = checked(
    given.annotation ?? defaults.annotation,
    ANNOTATION_KEY,
    'namespaceRules.annotation',
    'an annotation key',
    'example.com/retention',
  );
  const configMap = checked(
    given.configMap ?? defaults.configMap,
    DNS_NAME,
    'namespaceRules.configMap',
    'a ConfigMap name',
    'image-retention',
  );
  const key = checked(
    given.key ?? defaults.key,
    CONFIG_KEY,
    'namespaceRules.key',
    'a ConfigMap key',
    'rules',
  );
  return { annotation, configMap, key };
}

/** A string matching `format`, or a `PRUNE_POLICY_INVALID` error naming the field. */
function checked(value: unknown, format: RegExp, field: string, what: string, example: string): string {
  if (typeof value !== 'string' || !format.test(value)) {
    throw invalid(field, `is not ${what}: ${JSON.stringify(value)}`, `For example "${example}".`);
  }
  return value;
}

/** Pod spec paths under a prefix: containers, init containers (and ephemeral ones for pods). */
const podSpec = (prefix: string): string[] =>
  ['containers', 'initContainers'].map((list) => `${prefix}.${list}[].image`);

type PresetSource = Omit<ReferenceSource, 'preset'>;

/**
 * The built-in sources. Each names the kinds and the paths where those kinds hold pull specs, including
 * resolved digests in their status (Knative's `imageDigest`, Tekton's `imageID`).
 */
export const REFERENCE_PRESETS: Readonly<Record<string, readonly PresetSource[]>> = {
  knative: [
    {
      group: 'serving.knative.dev',
      version: 'v1',
      resource: 'services',
      kind: 'Service',
      namespaced: true,
      paths: podSpec('spec.template.spec'),
    },
    {
      group: 'serving.knative.dev',
      version: 'v1',
      resource: 'revisions',
      kind: 'Revision',
      namespaced: true,
      paths: [...podSpec('spec'), 'status.containerStatuses[].imageDigest'],
    },
  ],
  tekton: [
    {
      group: 'tekton.dev',
      version: 'v1',
      resource: 'taskruns',
      kind: 'TaskRun',
      namespaced: true,
      paths: [
        'spec.taskSpec.steps[].image',
        'spec.taskSpec.sidecars[].image',
        'status.taskSpec.steps[].image',
        'status.taskSpec.sidecars[].image',
        'status.steps[].imageID',
        'status.sidecars[].imageID',
      ],
    },
    {
      group: 'tekton.dev',
      version: 'v1',
      resource: 'pipelineruns',
      kind: 'PipelineRun',
      namespaced: true,
      paths: [
        'spec.pipelineSpec.tasks[].taskSpec.steps[].image',
        'spec.pipelineSpec.finally[].taskSpec.steps[].image',
        'status.pipelineSpec.tasks[].taskSpec.steps[].image',
        'status.pipelineSpec.finally[].taskSpec.steps[].image',
      ],
    },
  ],
  olm: [
    {
      group: 'operators.coreos.com',
      version: 'v1alpha1',
      resource: 'clusterserviceversions',
      kind: 'ClusterServiceVersion',
      namespaced: true,
      paths: ['spec.relatedImages[].image', ...podSpec('spec.install.spec.deployments[].spec.template.spec')],
    },
  ],
  'argo-rollouts': [
    {
      group: 'argoproj.io',
      version: 'v1alpha1',
      resource: 'rollouts',
      kind: 'Rollout',
      namespaced: true,
      paths: podSpec('spec.template.spec'),
    },
  ],
};

const GROUP = /^[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?$/;
const VERSION = /^v[0-9]+(?:(?:alpha|beta)[0-9]+)?$/;
const RESOURCE = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/;
const PATH = /^[A-Za-z0-9_-]+(?:\[\])?(?:\.[A-Za-z0-9_-]+(?:\[\])?)*$/;

/** `$.spec.x[*].image`, `.spec.x[*].image` and `{.spec.x[*].image}` as `spec.x[].image`. */
export function normalizePath(path: string): string {
  let text = path.trim();
  if (text.startsWith('{') && text.endsWith('}')) text = text.slice(1, -1);
  if (text.startsWith('$')) text = text.slice(1);
  if (text.startsWith('.')) text = text.slice(1);
  return text.replaceAll('[*]', '[]');
}

/**
 * Checks the reference sources as written: preset names expand to their kinds, written-out kinds are
 * checked. The same kind twice is merged (its paths joined).
 *
 * @throws RegistryPushError `PRUNE_POLICY_INVALID` naming the first bad entry.
 */
export function parseReferenceSources(input: unknown): ReferenceSource[] {
  if (input === undefined || input === null) return [];
  if (!Array.isArray(input)) {
    throw invalid('referenceSources', 'must be a list', 'For example ["tekton", "knative"].');
  }
  const merged = new Map<string, ReferenceSource>();
  const add = (source: ReferenceSource): void => {
    const key = `${source.group}/${source.version}/${source.resource}`;
    const known = merged.get(key);
    if (known === undefined) merged.set(key, { ...source, paths: [...source.paths] });
    else for (const path of source.paths) if (!known.paths.includes(path)) known.paths.push(path);
  };
  input.forEach((entry: unknown, i) => {
    const at = `referenceSources[${i}]`;
    if (typeof entry === 'string') {
      const preset = REFERENCE_PRESETS[entry];
      if (preset === undefined) {
        throw invalid(
          at,
          `names no preset: "${entry}"`,
          `Presets: ${Object.keys(REFERENCE_PRESETS).join(', ')}.`,
        );
      }
      for (const source of preset) add({ preset: entry, ...source, paths: [...source.paths] });
      return;
    }
    add(writtenSource(entry, at));
  });
  return [...merged.values()];
}

function writtenSource(entry: unknown, at: string): ReferenceSource {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw invalid(at, 'must be a preset name or {group, version, resource, paths}', '');
  }
  const given = entry as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!['group', 'version', 'resource', 'kind', 'namespaced', 'paths'].includes(key)) {
      throw invalid(
        `${at}.${key}`,
        'is not a known setting',
        'Known: group, version, resource, kind, namespaced, paths.',
      );
    }
  }
  const { kind, namespaced, paths } = given;
  const group = checked(given.group, GROUP, `${at}.group`, 'an API group', 'tekton.dev');
  const version = checked(given.version, VERSION, `${at}.version`, 'an API version', 'v1');
  const resource = checked(given.resource, RESOURCE, `${at}.resource`, 'a plural resource name', 'taskruns');
  if (kind !== undefined) checked(kind, /^[A-Z][A-Za-z0-9]*$/, `${at}.kind`, 'a kind', 'TaskRun');
  if (namespaced !== undefined && typeof namespaced !== 'boolean')
    throw invalid(`${at}.namespaced`, 'must be true or false', '');
  if (!Array.isArray(paths) || paths.length === 0)
    throw invalid(`${at}.paths`, 'must list at least one field path', 'For example ["spec.steps[].image"].');
  const normalized = paths.map((path: unknown, j) => {
    const text = typeof path === 'string' ? normalizePath(path) : '';
    if (!PATH.test(text)) {
      throw invalid(
        `${at}.paths[${j}]`,
        `is not a field path: ${JSON.stringify(path)}`,
        'Write fields with dots and [] (or [*]) for every element of a list: spec.steps[].image.',
      );
    }
    return text;
  });
  return {
    group,
    version,
    resource,
    kind: typeof kind === 'string' ? kind : resource,
    namespaced: namespaced !== false,
    paths: normalized,
  };
}

/**
 * The subject digest a cosign-style tag names: `sha256-<hex>.sig`, `.att`, `.sbom`, and `sha256-<hex>`
 * itself (the OCI referrers tag schema's index of referrers, for registries without the referrers API).
 *
 * @returns `sha256:<hex>`, or undefined for any other tag.
 */
export function signatureSubject(tag: string): string | undefined {
  const match = /^sha256-([a-f0-9]{64})(?:\.(?:sig|att|sbom))?$/.exec(tag);
  return match === null ? undefined : `sha256:${match[1]}`;
}

/** Rules compiled for matching: the expressions built once per plan. */
export interface CompiledRule {
  rule: RetentionRule;
  /** The plan's `referrer` text for what it keeps. */
  text: string;
  namespace?: RegExp;
  stream?: RegExp;
  tag?: RegExp;
  keepTags?: RegExp;
}

/**
 * Compiles rules.
 *
 * @param rules The rules.
 * @param owner `undefined` for cluster rules, else the namespace whose own rules they are.
 */
export function compileRules(rules: readonly RetentionRule[], owner?: string): CompiledRule[] {
  const re = (source: string | undefined): RegExp | undefined =>
    source === undefined ? undefined : new RegExp(source, 'u');
  return rules.map((rule) => {
    const compiled: CompiledRule = {
      rule,
      text: `${owner === undefined ? 'rule' : `namespace ${owner} rule`} ${rule.label}: ${describeKeep(rule)}`,
    };
    const namespace = re(rule.namespace);
    const stream = re(rule.stream);
    const tag = re(rule.tag);
    const keepTags = re(rule.keepTags);
    if (namespace !== undefined) compiled.namespace = namespace;
    if (stream !== undefined) compiled.stream = stream;
    if (tag !== undefined) compiled.tag = tag;
    if (keepTags !== undefined) compiled.keepTags = keepTags;
    return compiled;
  });
}

/** Whether a rule is about a tag of a stream. */
export function selects(rule: CompiledRule, namespace: string, stream: string, tag: string): boolean {
  return (
    (rule.namespace === undefined || rule.namespace.test(namespace)) &&
    (rule.stream === undefined || rule.stream.test(stream)) &&
    (rule.tag === undefined || rule.tag.test(tag))
  );
}
