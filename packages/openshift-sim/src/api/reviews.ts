// TokenReview (authentication.k8s.io/v1) and SubjectAccessReview (authorization.k8s.io/v1): how a server
// that delegates to the API (a dashboard, a proxy) asks who a bearer token is and what that subject may do.
// Answered as kube-apiserver's registry does: the review comes back with its spec and a status, and only a
// malformed request is an error (a token that does not authenticate is `authenticated: false`, a subject
// without the right is `allowed: false`).
import { objectAt, stringAt, type JsonObject, type JsonValue } from '../json.js';
import { ruleAllows, type Authorizer, type Grant, type PolicyRule, type Subject } from './rbac.js';
import { ApiError, errors, type StatusCause } from './status.js';
import { API_AUDIENCE } from './tokens.js';

const AUTHENTICATION_GROUP = 'authentication.k8s.io';
const AUTHORIZATION_GROUP = 'authorization.k8s.io';

/** What a token is, for a TokenReview: its subject, and whether it is bound to the API's audience. */
export interface ReviewedToken {
  subject: Subject;
  /** Service-account tokens are valid for the API's audience only; user (OAuth) tokens for any. */
  audienceBound: boolean;
}

/** Looks a bearer token up for a TokenReview; undefined when it does not authenticate. */
export type TokenLookup = (token: string) => ReviewedToken | undefined;

function stringList(value: JsonValue | undefined): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** The JSON `field.Invalid` renders for a bad value: `"text"`, or `"null"` for an absent object. */
function badValue(value: JsonValue | undefined): string {
  if (value === undefined || value === null) return '"null"';
  return typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(JSON.stringify(value));
}

function invalidCause(field: string, value: JsonValue | undefined, message: string): StatusCause {
  return { reason: 'FieldValueInvalid', message: `Invalid value: ${badValue(value)}: ${message}`, field };
}

/** kube's `NewInvalid` for a kind of the authorization group: the message names the qualified kind. */
function invalidReview(kind: string, causes: StatusCause[]): ApiError {
  const summary = causes.map((c) => `${c.field ?? ''}: ${c.message}`);
  const list = summary.length === 1 ? (summary[0] ?? '') : `[${summary.join(', ')}]`;
  return new ApiError(422, 'Invalid', `${kind}.${AUTHORIZATION_GROUP} "" is invalid: ${list}`, {
    group: AUTHORIZATION_GROUP,
    kind,
    causes,
  });
}

/** kube's `ValidateSubjectAccessReview`: exactly one kind of attributes, a user or groups, no metadata. */
function subjectAccessReviewCauses(body: JsonObject, spec: JsonObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const resource = spec['resourceAttributes'];
  const nonResource = spec['nonResourceAttributes'];
  const has = (value: JsonValue | undefined): boolean => value !== undefined && value !== null;
  if (has(resource) && has(nonResource)) {
    causes.push({
      reason: 'FieldValueInvalid',
      // Go's %#v of the struct, as field.Invalid prints a non-nil pointer's value.
      message: `Invalid value: authorization.NonResourceAttributes{Path:${JSON.stringify(
        stringAt(objectAt(spec, 'nonResourceAttributes'), 'path') ?? '',
      )}, Verb:${JSON.stringify(stringAt(objectAt(spec, 'nonResourceAttributes'), 'verb') ?? '')}}: cannot be specified in combination with resourceAttributes`,
      field: 'spec.nonResourceAttributes',
    });
  }
  if (!has(resource) && !has(nonResource)) {
    causes.push(
      invalidCause(
        'spec.resourceAttributes',
        nonResource,
        'exactly one of nonResourceAttributes or resourceAttributes must be specified',
      ),
    );
  }
  const user = stringAt(spec, 'user') ?? '';
  if (user === '' && stringList(spec['groups']).length === 0)
    causes.push(invalidCause('spec.user', user, 'at least one of user or group must be specified'));
  const meta = objectAt(body, 'metadata') ?? {};
  // Go compares with an empty ObjectMeta: zero values (an empty name, a null timestamp) are empty.
  const set = Object.entries(meta).filter(([, value]) => !isZero(value));
  if (set.length > 0) causes.push(invalidCause('metadata', meta, 'must be empty'));
  return causes;
}

/** Whether a JSON value is what Go would decode as a zero value. */
function isZero(value: JsonValue): boolean {
  if (value === null || value === '' || value === 0 || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === 'object' && Object.keys(value).length === 0;
}

/** kube's `NonResourceURLMatches`: the exact path, `*`, or a prefix ending in `*`. */
function nonResourceAllows(rule: PolicyRule, path: string, verb: string): boolean {
  const urls = rule.nonResourceURLs ?? [];
  const urlMatches = urls.some(
    (url) => url === '*' || url === path || (url.endsWith('*') && path.startsWith(url.slice(0, -1))),
  );
  return urlMatches && (rule.verbs.includes('*') || rule.verbs.includes(verb));
}

function checkKind(body: JsonObject, kind: string, group: string): void {
  const given = stringAt(body, 'kind');
  if (given !== undefined && given !== kind)
    throw errors.badRequest(`not a ${kind}: kind ${JSON.stringify(given)} in ${group}`);
}

/** Answers TokenReviews and SubjectAccessReviews. */
export class AccessReviews {
  constructor(
    private readonly lookup: TokenLookup,
    private readonly authorizer: Authorizer,
  ) {}

  /**
   * POST tokenreviews: who `spec.token` is. An empty token is a 400, as upstream; a token that does not
   * authenticate (unknown, expired, another audience) is `authenticated: false` with `status.error`.
   */
  tokenReview(body: JsonObject): JsonObject {
    checkKind(body, 'TokenReview', AUTHENTICATION_GROUP);
    const spec = objectAt(body, 'spec') ?? {};
    const token = stringAt(spec, 'token') ?? '';
    if (token === '') throw errors.badRequest('token is required for TokenReview in authentication');
    const requested = stringList(spec['audiences']);
    // Without audiences the API server checks for its own (and reports them), as `--api-audiences` does.
    const audiences = requested.length > 0 ? requested : [API_AUDIENCE];
    const found = this.lookup(token);
    const echo: JsonObject = {
      kind: 'TokenReview',
      apiVersion: `${AUTHENTICATION_GROUP}/v1`,
      metadata: { creationTimestamp: null },
      spec,
    };
    if (found === undefined) return { ...echo, status: { user: {}, error: 'invalid bearer token' } };
    if (found.audienceBound && !audiences.includes(API_AUDIENCE)) {
      return {
        ...echo,
        status: {
          user: {},
          error: `[invalid bearer token, token audiences ${JSON.stringify([API_AUDIENCE])} is invalid for the target audiences ${JSON.stringify(audiences)}]`,
        },
      };
    }
    const { subject } = found;
    return {
      ...echo,
      status: {
        authenticated: true,
        user: {
          username: subject.name,
          ...(subject.uid !== undefined ? { uid: subject.uid } : {}),
          groups: [...subject.groups],
        },
        // Audience-agnostic tokens are valid for whatever was asked; bound ones for the API's audience.
        audiences: found.audienceBound ? [API_AUDIENCE] : audiences,
      },
    };
  }

  /**
   * POST subjectaccessreviews: whether `spec.user` with `spec.groups` may do what the attributes say, by
   * the simulator's RBAC. RBAC never denies, so `denied` is never set; an allowed review's reason names the
   * binding that allowed it, as kube's RBAC authorizer does, and a refused one has no reason.
   */
  subjectAccessReview(body: JsonObject): JsonObject {
    checkKind(body, 'SubjectAccessReview', AUTHORIZATION_GROUP);
    const spec = objectAt(body, 'spec') ?? {};
    const causes = subjectAccessReviewCauses(body, spec);
    if (causes.length > 0) throw invalidReview('SubjectAccessReview', causes);
    const subject: Subject = { name: stringAt(spec, 'user') ?? '', groups: stringList(spec['groups']) };
    const grant = this.allowingGrant(subject, spec);
    return {
      kind: 'SubjectAccessReview',
      apiVersion: `${AUTHORIZATION_GROUP}/v1`,
      metadata: { creationTimestamp: null },
      spec,
      status: grant ? { allowed: true, reason: `RBAC: allowed by ${grant.source}` } : { allowed: false },
    };
  }

  private allowingGrant(subject: Subject, spec: JsonObject): Grant | undefined {
    const attrs = objectAt(spec, 'resourceAttributes');
    if (attrs === undefined) {
      const nonResource = objectAt(spec, 'nonResourceAttributes') ?? {};
      const path = stringAt(nonResource, 'path') ?? '';
      const verb = stringAt(nonResource, 'verb') ?? '';
      return this.authorizer
        .grants(subject, '')
        .find((g) => g.rules.some((rule) => nonResourceAllows(rule, path, verb)));
    }
    const resource = stringAt(attrs, 'resource') ?? '';
    const subresource = stringAt(attrs, 'subresource') ?? '';
    const namespace = stringAt(attrs, 'namespace') ?? '';
    const name = stringAt(attrs, 'name') ?? '';
    const request = {
      verb: stringAt(attrs, 'verb') ?? '',
      group: stringAt(attrs, 'group') ?? '',
      resource: subresource === '' ? resource : `${resource}/${subresource}`,
      ...(namespace !== '' ? { namespace } : {}),
      ...(name !== '' ? { name } : {}),
    };
    return this.authorizer
      .grants(subject, namespace)
      .find((g) => g.rules.some((rule) => ruleAllows(rule, request)));
  }
}
