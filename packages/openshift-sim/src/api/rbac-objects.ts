// RBAC as API objects: Role, ClusterRole, RoleBinding and ClusterRoleBinding (rbac.authorization.k8s.io/v1)
// and ServiceAccounts, validated as kube-apiserver validates them, and read back by the authorizer: what a
// binding in the store grants is decided from the Role or ClusterRole it references, at request time.
import { isJsonObject, jsonEqual, objectAt, stringAt, type JsonObject, type JsonValue } from '../json.js';
import { bootstrapRules, ROLE_NAMES, type Grant, type PolicyRule, type Subject } from './rbac.js';
import type { ResourceService } from './service.js';
import { errors, type StatusCause } from './status.js';
import type { ObjectStore } from './store.js';
import type { RequestContext, ResourceType, Strategy } from './types.js';

export const RBAC_GROUP = 'rbac.authorization.k8s.io';
export const ROLES_KEY = `roles.${RBAC_GROUP}`;
export const CLUSTER_ROLES_KEY = `clusterroles.${RBAC_GROUP}`;
export const ROLE_BINDINGS_KEY = `rolebindings.${RBAC_GROUP}`;
export const CLUSTER_ROLE_BINDINGS_KEY = `clusterrolebindings.${RBAC_GROUP}`;

const PATH_SEGMENT_BAD = ['.', '..'];

function required(field: string, message = 'Required value'): StatusCause {
  return { reason: 'FieldValueRequired', message, field };
}

function unsupported(field: string, value: JsonValue | undefined, supported: readonly string[]): StatusCause {
  return {
    reason: 'FieldValueNotSupported',
    message: `Unsupported value: ${JSON.stringify(value ?? '')}: supported values: ${supported.map((s) => `"${s}"`).join(', ')}`,
    field,
  };
}

function invalid(field: string, value: string, message: string): StatusCause {
  return { reason: 'FieldValueInvalid', message: `Invalid value: ${value}: ${message}`, field };
}

function stringList(value: JsonValue | undefined): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** kube's `ValidatePolicyRule`: verbs always; resource rules need groups and resources; URLs only cluster-wide. */
function ruleCauses(rule: JsonValue, at: string, namespaced: boolean): StatusCause[] {
  if (!isJsonObject(rule)) return [invalid(at, 'the rule', 'must be an object')];
  const causes: StatusCause[] = [];
  const verbs = stringList(rule['verbs']);
  const groups = rule['apiGroups'];
  const resources = rule['resources'];
  const urls = stringList(rule['nonResourceURLs']);
  if (verbs.length === 0) causes.push(required(`${at}.verbs`, 'verbs must contain at least one value'));
  if (urls.length > 0) {
    if (namespaced) {
      causes.push(
        invalid(
          `${at}.nonResourceURLs`,
          JSON.stringify(urls),
          'namespaced rules cannot apply to non-resource URLs',
        ),
      );
    }
    if (stringList(groups).length > 0 || stringList(resources).length > 0) {
      causes.push(
        invalid(
          `${at}.nonResourceURLs`,
          JSON.stringify(urls),
          'rules cannot apply to both regular resources and non-resource URLs',
        ),
      );
    }
    return causes;
  }
  if (!Array.isArray(groups) || groups.length === 0)
    causes.push(required(`${at}.apiGroups`, 'resource rules must supply at least one api group'));
  if (stringList(resources).length === 0)
    causes.push(required(`${at}.resources`, 'resource rules must supply at least one resource'));
  return causes;
}

function rulesCauses(object: JsonObject, namespaced: boolean): StatusCause[] {
  const rules = object['rules'];
  if (rules === undefined || rules === null) return [];
  if (!Array.isArray(rules)) return [invalid('rules', 'the rules', 'must be a list')];
  return rules.flatMap((rule, i) => ruleCauses(rule, `rules[${i}]`, namespaced));
}

function roleRefText(ref: JsonObject | undefined): string {
  return `rbac.RoleRef{APIGroup:${JSON.stringify(stringAt(ref, 'apiGroup') ?? '')}, Kind:${JSON.stringify(
    stringAt(ref, 'kind') ?? '',
  )}, Name:${JSON.stringify(stringAt(ref, 'name') ?? '')}}`;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function serviceAccountSubjectCauses(subject: JsonObject, at: string, namespaced: boolean): StatusCause[] {
  const causes: StatusCause[] = [];
  const name = stringAt(subject, 'name') ?? '';
  const apiGroup = stringAt(subject, 'apiGroup') ?? '';
  if (name !== '' && (name.length > 253 || !DNS_SUBDOMAIN.test(name))) {
    causes.push(
      invalid(
        `${at}.name`,
        JSON.stringify(name),
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
      ),
    );
  }
  if (apiGroup !== '') causes.push(unsupported(`${at}.apiGroup`, apiGroup, ['']));
  // A ClusterRoleBinding has no namespace of its own to default it from.
  if (!namespaced && (stringAt(subject, 'namespace') ?? '') === '') causes.push(required(`${at}.namespace`));
  return causes;
}

/** kube's `ValidateRoleBindingSubject`. */
function subjectCauses(subject: JsonValue, at: string, namespaced: boolean): StatusCause[] {
  if (!isJsonObject(subject)) return [invalid(at, 'the subject', 'must be an object')];
  const causes: StatusCause[] = [];
  const kind = stringAt(subject, 'kind') ?? '';
  const apiGroup = stringAt(subject, 'apiGroup') ?? '';
  if ((stringAt(subject, 'name') ?? '') === '') causes.push(required(`${at}.name`));
  if (kind === 'ServiceAccount') causes.push(...serviceAccountSubjectCauses(subject, at, namespaced));
  else if (kind === 'User' || kind === 'Group') {
    if (apiGroup !== RBAC_GROUP) causes.push(unsupported(`${at}.apiGroup`, apiGroup, [RBAC_GROUP]));
  } else causes.push(unsupported(`${at}.kind`, kind, ['ServiceAccount', 'User', 'Group']));
  return causes;
}

/** kube's `ValidateRoleBinding` / `ValidateClusterRoleBinding`, and the immutable roleRef on update. */
function bindingCauses(object: JsonObject, old: JsonObject | undefined, namespaced: boolean): StatusCause[] {
  const causes: StatusCause[] = [];
  const ref = objectAt(object, 'roleRef');
  const apiGroup = stringAt(ref, 'apiGroup') ?? '';
  const kind = stringAt(ref, 'kind') ?? '';
  const name = stringAt(ref, 'name') ?? '';
  if (apiGroup !== RBAC_GROUP) causes.push(unsupported('roleRef.apiGroup', apiGroup, [RBAC_GROUP]));
  const kinds = namespaced ? ['Role', 'ClusterRole'] : ['ClusterRole'];
  if (!kinds.includes(kind)) causes.push(unsupported('roleRef.kind', kind, kinds));
  if (name === '') causes.push(required('roleRef.name'));
  else if (PATH_SEGMENT_BAD.includes(name) || name.includes('/') || name.includes('%')) {
    causes.push(
      invalid('roleRef.name', JSON.stringify(name), `may not contain '/' or '%' or be '.' or '..'`),
    );
  }
  const subjects = object['subjects'];
  if (Array.isArray(subjects))
    subjects.forEach((s, i) => causes.push(...subjectCauses(s, `subjects[${i}]`, namespaced)));
  if (old !== undefined && !jsonEqual(objectAt(old, 'roleRef'), ref)) {
    causes.push(invalid('roleRef', roleRefText(ref), 'cannot change roleRef'));
  }
  return causes;
}

/** One permission a rule grants: a verb on one group and resource (and name), or on one URL. */
interface Atom {
  verb: string;
  group?: string;
  resource?: string;
  name?: string;
  url?: string;
}

function atomsOf(rule: PolicyRule): Atom[] {
  const atoms: Atom[] = [];
  for (const verb of rule.verbs) {
    for (const url of rule.nonResourceURLs ?? []) atoms.push({ verb, url });
    for (const group of rule.apiGroups)
      for (const resource of rule.resources) {
        const names = rule.resourceNames ?? [];
        if (names.length === 0) atoms.push({ verb, group, resource });
        for (const name of names) atoms.push({ verb, group, resource, name });
      }
  }
  return atoms;
}

function resourceCovered(owned: readonly string[], resource: string): boolean {
  const slash = resource.indexOf('/');
  return (
    owned.includes('*') ||
    owned.includes(resource) ||
    (slash > 0 && owned.includes(`*${resource.slice(slash)}`))
  );
}

/** kube's `ruleCovers`: whether a rule the user holds grants at least this permission. */
function covers(owner: PolicyRule, atom: Atom): boolean {
  if (!owner.verbs.includes('*') && !owner.verbs.includes(atom.verb)) return false;
  if (atom.url !== undefined) {
    const url = atom.url;
    return (owner.nonResourceURLs ?? []).some(
      (u) => u === '*' || u === url || (u.endsWith('*') && url.startsWith(u.slice(0, -1))),
    );
  }
  if (!owner.apiGroups.includes('*') && !owner.apiGroups.includes(atom.group ?? '')) return false;
  if (!resourceCovered(owner.resources, atom.resource ?? '')) return false;
  const names = owner.resourceNames ?? [];
  return names.length === 0 || (atom.name !== undefined && names.includes(atom.name));
}

function atomText(atom: Atom): string {
  const verbs = `Verbs:[${JSON.stringify(atom.verb)}]`;
  if (atom.url !== undefined) return `{NonResourceURLs:[${JSON.stringify(atom.url)}], ${verbs}}`;
  const names = atom.name !== undefined ? ` ResourceNames:[${JSON.stringify(atom.name)}],` : '';
  return `{APIGroups:[${JSON.stringify(atom.group ?? '')}], Resources:[${JSON.stringify(atom.resource ?? '')}],${names} ${verbs}}`;
}

/**
 * kube's `ConfirmNoEscalation`: a user may only grant (in a role, or by binding one) what they hold
 * themselves in that namespace, else 403 listing what they lack.
 */
function confirmNoEscalation(
  ctx: RequestContext,
  target: { resource: string; name: string },
  namespace: string,
  rules: readonly PolicyRule[],
): void {
  const owned = ctx.authorizer.rulesFor(ctx.user, namespace);
  const missing = rules.flatMap(atomsOf).filter((atom) => !owned.some((rule) => covers(rule, atom)));
  if (missing.length === 0) return;
  const groups = ctx.user.groups.map((g) => JSON.stringify(g)).join(' ');
  throw errors.forbidden(
    `${target.resource}.${RBAC_GROUP} "${target.name}" is forbidden: user "${ctx.user.name}" (groups=[${groups}]) is attempting to grant RBAC permissions not currently held:\n${missing.map(atomText).join('\n')}`,
    { group: RBAC_GROUP, resource: target.resource, name: target.name },
  );
}

function namespaceOf(object: JsonObject, ctx: RequestContext): string {
  return stringAt(objectAt(object, 'metadata'), 'namespace') ?? ctx.namespace;
}

/** Privileged callers (system:masters, the simulator's controllers) skip the escalation checks, as in kube. */
function escalationAllowed(ctx: RequestContext): boolean {
  return ctx.user.groups.includes('system:masters');
}

/** A Role or ClusterRole may hold only rules its writer holds, unless they may `escalate` roles. */
function checkRoleEscalation(
  object: JsonObject,
  old: JsonObject | undefined,
  ctx: RequestContext,
  resource: 'roles' | 'clusterroles',
): void {
  if (escalationAllowed(ctx) || (old !== undefined && jsonEqual(old['rules'], object['rules']))) return;
  const namespace = resource === 'roles' ? namespaceOf(object, ctx) : '';
  const name = stringAt(objectAt(object, 'metadata'), 'name') ?? '';
  const escalate = ctx.authorizer.allows(ctx.user, {
    verb: 'escalate',
    group: RBAC_GROUP,
    resource,
    name,
    ...(namespace !== '' ? { namespace } : {}),
  });
  if (!escalate) confirmNoEscalation(ctx, { resource, name }, namespace, policyRulesOf(object));
}

/** A binding may name a role only for a writer who may `bind` it or holds all its rules there. */
function checkBindingEscalation(
  object: JsonObject,
  old: JsonObject | undefined,
  ctx: RequestContext,
  resource: 'rolebindings' | 'clusterrolebindings',
): void {
  if (escalationAllowed(ctx) || (old !== undefined && jsonEqual(old['subjects'], object['subjects']))) return;
  const namespace = resource === 'rolebindings' ? namespaceOf(object, ctx) : '';
  const ref = objectAt(object, 'roleRef');
  const roleName = stringAt(ref, 'name') ?? '';
  const roleResource = stringAt(ref, 'kind') === 'Role' ? 'roles' : 'clusterroles';
  const bind = ctx.authorizer.allows(ctx.user, {
    verb: 'bind',
    group: RBAC_GROUP,
    resource: roleResource,
    name: roleName,
    ...(namespace !== '' ? { namespace } : {}),
  });
  if (bind) return;
  const role =
    roleResource === 'roles'
      ? ctx.store.get(ROLES_KEY, namespace, roleName)
      : ctx.store.get(CLUSTER_ROLES_KEY, '', roleName);
  if (!role) throw errors.notFound({ group: RBAC_GROUP, resource: roleResource, name: roleName });
  const name = stringAt(objectAt(object, 'metadata'), 'name') ?? '';
  confirmNoEscalation(ctx, { resource, name }, namespace, policyRulesOf(role));
}

/** Validation first (422 with every cause); only a valid object is checked for escalation (403). */
function strategy(
  causesOf: (object: JsonObject, old: JsonObject | undefined) => StatusCause[],
  escalation: (object: JsonObject, old: JsonObject | undefined, ctx: RequestContext) => void,
): Strategy {
  return {
    validate: (object, old, ctx) => {
      const causes = causesOf(object, old);
      if (causes.length === 0) escalation(object, old, ctx);
      return causes;
    },
  };
}

export const roleStrategy = strategy(
  (object) => rulesCauses(object, true),
  (object, old, ctx) => checkRoleEscalation(object, old, ctx, 'roles'),
);
export const clusterRoleStrategy = strategy(
  (object) => rulesCauses(object, false),
  (object, old, ctx) => checkRoleEscalation(object, old, ctx, 'clusterroles'),
);
export const roleBindingStrategy = strategy(
  (object, old) => bindingCauses(object, old, true),
  (object, old, ctx) => checkBindingEscalation(object, old, ctx, 'rolebindings'),
);
export const clusterRoleBindingStrategy = strategy(
  (object, old) => bindingCauses(object, old, false),
  (object, old, ctx) => checkBindingEscalation(object, old, ctx, 'clusterrolebindings'),
);

/** The rules of a stored Role or ClusterRole, in the authorizer's shape. */
export function policyRulesOf(role: JsonObject | undefined): PolicyRule[] {
  const rules = role?.['rules'];
  if (!Array.isArray(rules)) return [];
  return rules.filter(isJsonObject).map((rule) => {
    const names = stringList(rule['resourceNames']);
    const urls = stringList(rule['nonResourceURLs']);
    return {
      apiGroups: stringList(rule['apiGroups']),
      resources: stringList(rule['resources']),
      verbs: stringList(rule['verbs']),
      ...(names.length > 0 ? { resourceNames: names } : {}),
      ...(urls.length > 0 ? { nonResourceURLs: urls } : {}),
    };
  });
}

/** A stored policy rule from the authorizer's shape. */
export function ruleObject(rule: PolicyRule): JsonObject {
  if (rule.nonResourceURLs !== undefined)
    return { nonResourceURLs: [...rule.nonResourceURLs], verbs: [...rule.verbs] };
  return {
    apiGroups: [...rule.apiGroups],
    resources: [...rule.resources],
    verbs: [...rule.verbs],
    ...(rule.resourceNames !== undefined ? { resourceNames: [...rule.resourceNames] } : {}),
  };
}

/** Whether a binding's subject names the requester (kube's `appliesToUser`). */
function subjectApplies(subject: JsonValue, who: Subject, bindingNamespace: string): boolean {
  if (!isJsonObject(subject)) return false;
  const name = stringAt(subject, 'name') ?? '';
  switch (stringAt(subject, 'kind') ?? '') {
    case 'User':
      return who.name === name;
    case 'Group':
      return who.groups.includes(name);
    case 'ServiceAccount': {
      const namespace = stringAt(subject, 'namespace') || bindingNamespace;
      return who.name === `system:serviceaccount:${namespace}:${name}`;
    }
    default:
      return false;
  }
}

/** kube's `describeSubject`: `User "x"`, `Group "g"`, `ServiceAccount "name/namespace"`. */
function describeSubject(subject: JsonValue, bindingNamespace: string): string {
  if (!isJsonObject(subject)) return '';
  const kind = stringAt(subject, 'kind') ?? '';
  const name = stringAt(subject, 'name') ?? '';
  if (kind !== 'ServiceAccount') return `${kind} ${JSON.stringify(name)}`;
  const namespace = stringAt(subject, 'namespace') || bindingNamespace;
  return `${kind} ${JSON.stringify(`${name}/${namespace}`)}`;
}

interface StoredBinding {
  /** The binding's name, and its namespace ('' for a ClusterRoleBinding). */
  name: string;
  namespace: string;
  subjects: JsonValue[];
  /** `roles` or `clusterroles`. */
  roleResource: string;
  roleName: string;
}

/** The stored RBAC objects, parsed once per change of any of them (not once per request). */
interface RbacIndex {
  clusterBindings: StoredBinding[];
  /** RoleBindings by namespace. */
  roleBindings: Map<string, StoredBinding[]>;
  /** Rules by `roles/<ns>/<name>` and `clusterroles//<name>`. */
  rules: Map<string, PolicyRule[]>;
}

function storedBinding(object: JsonObject): StoredBinding {
  const ref = objectAt(object, 'roleRef');
  const subjects = object['subjects'];
  const meta = objectAt(object, 'metadata');
  return {
    name: stringAt(meta, 'name') ?? '',
    namespace: stringAt(meta, 'namespace') ?? '',
    subjects: Array.isArray(subjects) ? subjects : [],
    roleResource: stringAt(ref, 'kind') === 'Role' ? 'roles' : 'clusterroles',
    roleName: stringAt(ref, 'name') ?? '',
  };
}

/**
 * What the stored bindings grant, for the authorizer: every ClusterRoleBinding naming the requester, and
 * the RoleBindings of the request's namespace, each with the rules of the Role or ClusterRole it
 * references at that moment. A binding whose role does not exist grants nothing, as in kube.
 */
export class StoredRbac {
  private index: RbacIndex | undefined;
  private readonly unsubscribe: Array<() => void>;

  constructor(private readonly store: ObjectStore) {
    const invalidate = (): void => {
      this.index = undefined;
    };
    this.unsubscribe = [ROLES_KEY, CLUSTER_ROLES_KEY, ROLE_BINDINGS_KEY, CLUSTER_ROLE_BINDINGS_KEY].map(
      (key) => store.subscribe(key, undefined, invalidate),
    );
  }

  stop(): void {
    for (const unsubscribe of this.unsubscribe) unsubscribe();
  }

  private build(): RbacIndex {
    const name = (object: JsonObject): string => stringAt(objectAt(object, 'metadata'), 'name') ?? '';
    const namespace = (object: JsonObject): string =>
      stringAt(objectAt(object, 'metadata'), 'namespace') ?? '';
    const rules = new Map<string, PolicyRule[]>();
    for (const role of this.store.list(ROLES_KEY))
      rules.set(`roles/${namespace(role)}/${name(role)}`, policyRulesOf(role));
    for (const role of this.store.list(CLUSTER_ROLES_KEY))
      rules.set(`clusterroles//${name(role)}`, policyRulesOf(role));
    const roleBindings = new Map<string, StoredBinding[]>();
    for (const object of this.store.list(ROLE_BINDINGS_KEY)) {
      const list = roleBindings.get(namespace(object)) ?? [];
      list.push(storedBinding(object));
      roleBindings.set(namespace(object), list);
    }
    return {
      clusterBindings: this.store.list(CLUSTER_ROLE_BINDINGS_KEY).map(storedBinding),
      roleBindings,
      rules,
    };
  }

  /** The rule sets granted to `who` for a request in `namespace` ('' for the cluster scope). */
  ruleSets(who: Subject, namespace: string): PolicyRule[][] {
    const index = (this.index ??= this.build());
    const applies = (binding: StoredBinding, bindingNamespace: string): boolean =>
      binding.subjects.some((s) => subjectApplies(s, who, bindingNamespace));
    const sets: PolicyRule[][] = [];
    for (const binding of index.clusterBindings) {
      if (applies(binding, '')) sets.push(index.rules.get(`clusterroles//${binding.roleName}`) ?? []);
    }
    if (namespace === '') return sets;
    for (const binding of index.roleBindings.get(namespace) ?? []) {
      if (!applies(binding, namespace)) continue;
      const roleNamespace = binding.roleResource === 'roles' ? namespace : '';
      sets.push(index.rules.get(`${binding.roleResource}/${roleNamespace}/${binding.roleName}`) ?? []);
    }
    return sets;
  }

  /**
   * The same grants as `ruleSets`, each described as kube's rule resolver describes its binding
   * (`ClusterRoleBinding "x" of ClusterRole "y" to User "z"`, `RoleBinding "x/ns" of Role "y" to …`).
   */
  grants(who: Subject, namespace: string): Grant[] {
    const index = (this.index ??= this.build());
    const grants: Grant[] = [];
    const add = (binding: StoredBinding, bindingNamespace: string, rules: PolicyRule[]): void => {
      const subject = binding.subjects.find((s) => subjectApplies(s, who, bindingNamespace));
      if (subject === undefined) return;
      const kind = binding.roleResource === 'roles' ? 'Role' : 'ClusterRole';
      const what =
        bindingNamespace === ''
          ? `ClusterRoleBinding ${JSON.stringify(binding.name)}`
          : `RoleBinding ${JSON.stringify(`${binding.name}/${bindingNamespace}`)}`;
      grants.push({
        source: `${what} of ${kind} ${JSON.stringify(binding.roleName)} to ${describeSubject(subject, bindingNamespace)}`,
        rules,
      });
    };
    for (const binding of index.clusterBindings)
      add(binding, '', index.rules.get(`clusterroles//${binding.roleName}`) ?? []);
    if (namespace === '') return grants;
    for (const binding of index.roleBindings.get(namespace) ?? []) {
      const roleNamespace = binding.roleResource === 'roles' ? namespace : '';
      add(
        binding,
        namespace,
        index.rules.get(`${binding.roleResource}/${roleNamespace}/${binding.roleName}`) ?? [],
      );
    }
    return grants;
  }
}

/**
 * The bootstrap roles as ClusterRole objects, for bindings created through the API to reference (the
 * operator's system:image-pruner among them), labelled as kube labels its defaults.
 */
export function bootstrapClusterRoles(
  service: ResourceService,
  clusterRoles: ResourceType,
  ctx: RequestContext,
): void {
  for (const role of ROLE_NAMES) {
    service.create(
      clusterRoles,
      '',
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: {
          name: role,
          labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' },
          annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true' },
        },
        rules: bootstrapRules(role).map(ruleObject),
      },
      {},
      ctx,
    );
  }
}
