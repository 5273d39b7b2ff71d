// Authorization as OpenShift's default cluster roles grant it, reduced to the resources the simulator
// serves. Role contents follow the shape of the real roles (view < edit < admin; registry-* and
// system:image-* for registry access; system:image-pruner cluster-wide), not their every rule.

/** What a request asks to do. */
export interface Attributes {
  verb: string;
  group: string;
  /** Resource, with the subresource after a slash: `imagestreams/status`. */
  resource: string;
  /** Undefined or empty for cluster-scoped requests. */
  namespace?: string;
  name?: string;
}

/** One RBAC rule. `*` matches anything. */
export interface PolicyRule {
  apiGroups: readonly string[];
  resources: readonly string[];
  verbs: readonly string[];
  /** When set, the rule applies only to requests naming one of these objects. */
  resourceNames?: readonly string[];
  /** Paths outside the resource API (`/metrics`, `*`); only cluster-wide roles have them. */
  nonResourceURLs?: readonly string[];
}

/** The roles the simulator knows. */
export type RoleName =
  | 'cluster-admin'
  | 'admin'
  | 'edit'
  | 'view'
  | 'registry-viewer'
  | 'registry-editor'
  | 'system:image-builder'
  | 'system:image-puller'
  | 'system:image-pruner'
  | 'system:auth-delegator'
  | 'basic-user';

/** A role bound to a user or group, in one namespace or cluster-wide (no namespace). */
export interface RoleBinding {
  role: RoleName;
  /** The rules of an admin's own Role, bound instead of the bootstrap role's (then `role` only names it). */
  rules?: readonly PolicyRule[];
  user?: string;
  group?: string;
  namespace?: string;
}

const READ = ['get', 'list', 'watch'] as const;
const WRITE = ['create', 'update', 'patch', 'delete', 'deletecollection'] as const;
const ALL = [...READ, ...WRITE] as const;

const WORKLOADS: PolicyRule[] = [
  {
    apiGroups: [''],
    resources: ['pods', 'replicationcontrollers', 'configmaps', 'limitranges', 'persistentvolumeclaims'],
    verbs: ALL,
  },
  {
    apiGroups: ['apps'],
    resources: ['deployments', 'replicasets', 'statefulsets', 'daemonsets'],
    verbs: ALL,
  },
  { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: ALL },
  { apiGroups: ['apps.openshift.io'], resources: ['deploymentconfigs'], verbs: ALL },
  { apiGroups: ['build.openshift.io'], resources: ['builds', 'buildconfigs'], verbs: ALL },
  { apiGroups: ['route.openshift.io'], resources: ['routes', 'routes/custom-host'], verbs: ALL },
];
const IMAGE_RESOURCES = [
  'imagestreams',
  'imagestreamtags',
  'imagestreamimages',
  'imagestreammappings',
  'imagetags',
];

function readOnly(rules: readonly PolicyRule[]): PolicyRule[] {
  return rules.map((r) => ({ ...r, verbs: READ }));
}

const VIEW: PolicyRule[] = [
  ...readOnly(
    WORKLOADS.map((r) => ({ ...r, resources: r.resources.filter((x) => x !== 'routes/custom-host') })),
  ),
  { apiGroups: [''], resources: ['namespaces'], verbs: ['get'] },
  // No imagestreams/layers: OpenShift's view role cannot pull from the integrated registry.
  { apiGroups: ['image.openshift.io'], resources: [...IMAGE_RESOURCES, 'imagestreams/status'], verbs: READ },
  { apiGroups: ['route.openshift.io'], resources: ['routes/status'], verbs: READ },
];
const EDIT: PolicyRule[] = [
  ...VIEW,
  ...WORKLOADS.map((r) => ({ ...r, resources: r.resources.filter((x) => x !== 'routes/custom-host') })),
  { apiGroups: ['route.openshift.io'], resources: ['routes/custom-host'], verbs: ['create'] },
  { apiGroups: [''], resources: ['secrets', 'serviceaccounts', 'services'], verbs: ALL },
  { apiGroups: ['image.openshift.io'], resources: IMAGE_RESOURCES, verbs: ALL },
  { apiGroups: ['image.openshift.io'], resources: ['imagestreams/layers'], verbs: ['get', 'update'] },
];
const ADMIN: PolicyRule[] = [
  ...EDIT,
  { apiGroups: ['rbac.authorization.k8s.io'], resources: ['rolebindings', 'roles'], verbs: ALL },
];
const REGISTRY_VIEWER: PolicyRule[] = [
  { apiGroups: [''], resources: ['namespaces'], verbs: ['get'] },
  { apiGroups: ['image.openshift.io'], resources: [...IMAGE_RESOURCES, 'imagestreams/layers'], verbs: READ },
];
const REGISTRY_EDITOR: PolicyRule[] = [
  { apiGroups: [''], resources: ['namespaces'], verbs: ['get'] },
  { apiGroups: [''], resources: ['secrets', 'serviceaccounts'], verbs: ALL },
  { apiGroups: ['image.openshift.io'], resources: IMAGE_RESOURCES, verbs: ALL },
  { apiGroups: ['image.openshift.io'], resources: ['imagestreams/layers'], verbs: ['get', 'update'] },
];
const IMAGE_BUILDER: PolicyRule[] = [
  { apiGroups: ['image.openshift.io'], resources: ['imagestreams/layers'], verbs: ['get', 'update'] },
  { apiGroups: ['image.openshift.io'], resources: ['imagestreams'], verbs: ['create'] },
];
const IMAGE_PULLER: PolicyRule[] = [
  { apiGroups: ['image.openshift.io'], resources: ['imagestreams/layers'], verbs: ['get'] },
];
// The operator's system:image-pruner ClusterRole, rule for rule: reads of what uses images, image deletes
// and PUT (not PATCH) of imagestreams/status.
const IMAGE_PRUNER: PolicyRule[] = [
  {
    apiGroups: [''],
    resources: ['pods', 'replicationcontrollers'],
    verbs: ['get', 'list'],
  },
  { apiGroups: [''], resources: ['limitranges'], verbs: ['list'] },
  { apiGroups: ['build.openshift.io'], resources: ['buildconfigs', 'builds'], verbs: ['get', 'list'] },
  { apiGroups: ['apps.openshift.io'], resources: ['deploymentconfigs'], verbs: ['get', 'list'] },
  { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: ['get', 'list'] },
  {
    apiGroups: ['apps'],
    resources: ['daemonsets', 'deployments', 'replicasets', 'statefulsets'],
    verbs: ['get', 'list'],
  },
  { apiGroups: ['image.openshift.io'], resources: ['images'], verbs: ['get', 'list', 'watch', 'delete'] },
  { apiGroups: ['image.openshift.io'], resources: ['imagestreams'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['image.openshift.io'], resources: ['imagestreams/status'], verbs: ['update'] },
];
// kube's bootstrap system:auth-delegator: what a server that delegates authentication and authorization
// to the API (a dashboard checking a caller's bearer token) needs, and nothing else.
const AUTH_DELEGATOR: PolicyRule[] = [
  { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
  { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
];
const BASIC_USER: PolicyRule[] = [
  { apiGroups: ['user.openshift.io'], resources: ['users'], verbs: ['get'], resourceNames: ['~'] },
  { apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews'], verbs: ['create'] },
];

const ROLES: Record<RoleName, readonly PolicyRule[]> = {
  'cluster-admin': [
    { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
    { apiGroups: [], resources: [], nonResourceURLs: ['*'], verbs: ['*'] },
  ],
  admin: ADMIN,
  edit: EDIT,
  view: VIEW,
  'registry-viewer': REGISTRY_VIEWER,
  'registry-editor': REGISTRY_EDITOR,
  'system:image-builder': IMAGE_BUILDER,
  'system:image-puller': IMAGE_PULLER,
  'system:image-pruner': IMAGE_PRUNER,
  'system:auth-delegator': AUTH_DELEGATOR,
  'basic-user': BASIC_USER,
};

/** The rules of a bootstrap role, for the ClusterRole objects the simulator serves. */
export function bootstrapRules(role: RoleName): readonly PolicyRule[] {
  return ROLES[role];
}

/** Every role name, for validating CLI input. */
export const ROLE_NAMES = Object.keys(ROLES) as RoleName[];

function matches(list: readonly string[], value: string): boolean {
  return list.includes('*') || list.includes(value);
}

/** kube's `ResourceMatches`: `*`, the exact `resource/subresource`, or `*\/subresource`. */
function resourceMatches(list: readonly string[], requested: string): boolean {
  const slash = requested.indexOf('/');
  const subresource = slash < 0 ? undefined : requested.slice(slash + 1);
  return list.some(
    (r) => r === '*' || r === requested || (subresource !== undefined && r === `*/${subresource}`),
  );
}

/** Whether one rule allows the request (an empty `resourceNames` means any name, as in kube). */
export function ruleAllows(rule: PolicyRule, attrs: Attributes): boolean {
  if (
    rule.resourceNames !== undefined &&
    rule.resourceNames.length > 0 &&
    !rule.resourceNames.includes(attrs.name ?? '')
  )
    return false;
  return (
    matches(rule.apiGroups, attrs.group) &&
    resourceMatches(rule.resources, attrs.resource) &&
    matches(rule.verbs, attrs.verb)
  );
}

/** A subject: a user name and its groups. */
export interface Subject {
  name: string;
  groups: readonly string[];
  /** The user's uid, as a TokenReview reports it (a ServiceAccount's uid for its tokens). */
  uid?: string;
}

/** Where the authorizer finds the rules of RBAC objects stored through the API (see rbac-objects.ts). */
export type StoredRules = (subject: Subject, namespace: string) => readonly (readonly PolicyRule[])[];

/**
 * Rules a subject holds through one binding, with kube's description of that binding (the rule resolver's
 * `ClusterRoleBinding "x" of ClusterRole "y" to User "z"`), for the reason of an access review.
 */
export interface Grant {
  source: string;
  rules: readonly PolicyRule[];
}

/** The stored bindings' grants, described (see rbac-objects.ts). */
export type StoredGrants = (subject: Subject, namespace: string) => readonly Grant[];

/** kube's `describeSubject`, for a binding made in code (a user or a group). */
function describeCodeBinding(binding: RoleBinding): string {
  const subject =
    binding.user !== undefined
      ? `User ${JSON.stringify(binding.user)}`
      : `Group ${JSON.stringify(binding.group ?? '')}`;
  const who = binding.user ?? binding.group ?? '';
  // Bindings made in code have no object and no name. They are described with made-up names: a bootstrap
  // role bound to a group as kube names its own (`cluster-admin` for system:masters), one bound to a user
  // `<role>-<user>`, and a user's own rules as a role `<user>-custom`.
  const custom = binding.rules !== undefined;
  const role = custom ? `${who}-custom` : binding.role;
  const roleKind = custom && binding.namespace !== undefined ? 'Role' : 'ClusterRole';
  const name = custom || binding.group !== undefined ? role : `${role}-${who}`;
  return binding.namespace === undefined
    ? `ClusterRoleBinding ${JSON.stringify(name)} of ${roleKind} ${JSON.stringify(role)} to ${subject}`
    : `RoleBinding ${JSON.stringify(`${name}/${binding.namespace}`)} of ${roleKind} ${JSON.stringify(role)} to ${subject}`;
}

/**
 * Decides requests from role bindings: those made in code (seed users, `--user`), and, when given
 * `storedRules`, the RoleBindings and ClusterRoleBindings stored through the API. Every authenticated user
 * also has `basic-user`.
 */
export class Authorizer {
  private readonly bindings: RoleBinding[] = [];

  constructor(
    private readonly storedRules?: StoredRules,
    private readonly storedGrants?: StoredGrants,
  ) {}

  /** Adds a binding (idempotent). */
  bind(binding: RoleBinding): void {
    const same = this.bindings.some(
      (b) =>
        b.role === binding.role &&
        b.rules === binding.rules &&
        b.user === binding.user &&
        b.group === binding.group &&
        b.namespace === binding.namespace,
    );
    if (!same) this.bindings.push({ ...binding });
  }

  /** Removes every binding equal to this one. */
  unbind(binding: RoleBinding): void {
    for (let i = this.bindings.length - 1; i >= 0; i--) {
      const b = this.bindings[i];
      if (
        b &&
        b.role === binding.role &&
        b.user === binding.user &&
        b.group === binding.group &&
        b.namespace === binding.namespace
      ) {
        this.bindings.splice(i, 1);
      }
    }
  }

  /**
   * Every rule the subject holds for requests in `namespace` ('' for the cluster scope): kube's rule
   * resolver, which the escalation check compares a new role or binding with.
   */
  rulesFor(subject: Subject, namespace: string): PolicyRule[] {
    const rules: PolicyRule[] = [];
    if (subject.groups.includes('system:authenticated')) rules.push(...ROLES['basic-user']);
    for (const binding of this.bindings) {
      const bound =
        binding.user === subject.name ||
        (binding.group !== undefined && subject.groups.includes(binding.group));
      if (!bound || (binding.namespace !== undefined && binding.namespace !== namespace)) continue;
      rules.push(...(binding.rules ?? ROLES[binding.role]));
    }
    for (const set of this.storedRules?.(subject, namespace) ?? []) rules.push(...set);
    return rules;
  }

  /**
   * The subject's grants for requests in `namespace` ('' for the cluster scope), each with the binding it
   * comes from: what an access review reads its reason from. Holds the same rules as `rulesFor`.
   */
  grants(subject: Subject, namespace: string): Grant[] {
    const grants: Grant[] = [];
    if (subject.groups.includes('system:authenticated')) {
      grants.push({
        source:
          'ClusterRoleBinding "basic-users" of ClusterRole "basic-user" to Group "system:authenticated"',
        rules: ROLES['basic-user'],
      });
    }
    for (const binding of this.bindings) {
      const bound =
        binding.user === subject.name ||
        (binding.group !== undefined && subject.groups.includes(binding.group));
      if (!bound || (binding.namespace !== undefined && binding.namespace !== namespace)) continue;
      grants.push({ source: describeCodeBinding(binding), rules: binding.rules ?? ROLES[binding.role] });
    }
    grants.push(...(this.storedGrants?.(subject, namespace) ?? []));
    return grants;
  }

  /** True when some binding of the subject allows the request. Authenticated users also have basic-user. */
  allows(subject: Subject, attrs: Attributes): boolean {
    const authenticated = subject.groups.includes('system:authenticated');
    if (authenticated && ROLES['basic-user'].some((rule) => ruleAllows(rule, attrs))) return true;
    const fromCode = this.bindings.some((binding) => {
      const bound =
        binding.user === subject.name ||
        (binding.group !== undefined && subject.groups.includes(binding.group));
      if (!bound) return false;
      // A namespaced binding grants nothing at the cluster scope and nothing in other namespaces.
      if (binding.namespace !== undefined && binding.namespace !== attrs.namespace) return false;
      return (binding.rules ?? ROLES[binding.role]).some((rule) => ruleAllows(rule, attrs));
    });
    if (fromCode || this.storedRules === undefined) return fromCode;
    return this.storedRules(subject, attrs.namespace ?? '').some((rules) =>
      rules.some((rule) => ruleAllows(rule, attrs)),
    );
  }
}

/** kube's forbidden message, word for word. */
export function forbiddenMessage(subject: Subject, attrs: Attributes): string {
  const [resource = '', subresource] = attrs.resource.split('/');
  const qualified = attrs.group === '' ? resource : `${resource}.${attrs.group}`;
  const what = attrs.name !== undefined && attrs.name !== '' ? `${qualified} "${attrs.name}"` : qualified;
  const resourceText = subresource === undefined ? resource : `${resource}/${subresource}`;
  const scope =
    attrs.namespace !== undefined && attrs.namespace !== ''
      ? `in the namespace "${attrs.namespace}"`
      : 'at the cluster scope';
  return `${what} is forbidden: User "${subject.name}" cannot ${attrs.verb} resource "${resourceText}" in API group "${attrs.group}" ${scope}`;
}
