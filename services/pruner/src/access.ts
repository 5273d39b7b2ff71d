/**
 * Who may use the pruner's dashboard, decided by the cluster: a TokenReview says whose a bearer token is,
 * then two SubjectAccessReviews say whether that user may `get` the ImagePruner `cluster` (read the
 * dashboard) and `update` it (approve a plan, restore). The worker's own credentials ask, so its
 * ServiceAccount needs `system:auth-delegator` (deploy/rbac.yaml binds it). Answers are kept a short while,
 * keyed by a SHA-256 of the token: the token itself is never stored, logged or put into an error.
 */
import { createHash } from 'node:crypto';
import {
  RegistryNames,
  Resources,
  isRegistryPushError,
  type ClusterApi,
  type KubeObject,
  type ResourceType,
} from '@registry-push/core';
import { PrunerError } from './errors.js';

/** What a token's holder may do on the dashboard. */
export interface AccessDecision {
  /** The user the token belongs to (`system:serviceaccount:<ns>:<name>` for a ServiceAccount). */
  user: string;
  /** May read the dashboard: `get` on the ImagePruner `cluster`. */
  canRead: boolean;
  /** May approve plans and restore: `update` on the ImagePruner `cluster`. */
  canApprove: boolean;
}

/** Options of {@link AccessChecker}. */
export interface AccessCheckerOptions {
  /** How long a decision is reused, in milliseconds (default 10 s): a revoked right takes effect after it. */
  ttlMs?: number;
  /** How many tokens' decisions are kept at most; the oldest goes first (default 1000). */
  maxEntries?: number;
  /** The clock, for tests. */
  now?: () => number;
}

/** The review kinds, for `ClusterClient.create` (they are created, never stored). */
export const ReviewResources = {
  tokenReview: {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenReview',
    plural: 'tokenreviews',
    namespaced: false,
  },
  subjectAccessReview: {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    plural: 'subjectaccessreviews',
    namespaced: false,
  },
} as const satisfies Record<string, ResourceType>;

/** The ClusterRole that grants both reviews, named in the error when the worker lacks them. */
export const AUTH_DELEGATOR_ROLE = 'system:auth-delegator';

const DEFAULT_TTL_MS = 10_000;
const DEFAULT_MAX_ENTRIES = 1000;

interface UserInfo {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

type TokenReview = KubeObject & {
  spec: { token: string };
  status?: { authenticated?: boolean; user?: UserInfo; error?: string };
};

type SubjectAccessReview = KubeObject & {
  spec: {
    user: string;
    uid?: string;
    groups: string[];
    extra?: Record<string, string[]>;
    resourceAttributes: { group: string; resource: string; name: string; verb: string };
  };
  status?: { allowed?: boolean; denied?: boolean };
};

interface CacheEntry {
  expires: number;
  decision: Promise<AccessDecision>;
}

function tokenInvalid(): PrunerError {
  return new PrunerError(
    'PRUNER_TOKEN_INVALID',
    'The cluster did not accept the bearer token: it is unknown, expired or not for this cluster.',
    { hint: 'Log in again and use a fresh token (`oc whoami -t`).' },
  );
}

/** The worker may not create a review kind: it names the ClusterRole to bind. */
function delegationForbidden(type: ResourceType, cause: unknown): PrunerError {
  const group = type.apiVersion.split('/')[0] ?? '';
  return new PrunerError(
    'PRUNER_ACCESS_REVIEW_FORBIDDEN',
    `The worker's credentials may not create ${type.plural}.${group}, which checking dashboard tokens needs.`,
    {
      hint: `Bind the ClusterRole ${AUTH_DELEGATOR_ROLE} to the worker's ServiceAccount (deploy/rbac.yaml has the ClusterRoleBinding registry-pruner-auth-delegator).`,
      cause,
    },
  );
}

/**
 * Decides dashboard access for bearer tokens with the cluster's TokenReview and SubjectAccessReview, and
 * remembers each decision for `ttlMs` under a SHA-256 of the token. Concurrent checks of one token share
 * one set of reviews. Failures are not remembered: the next check asks again.
 */
export class AccessChecker {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(
    private readonly client: ClusterApi,
    options: AccessCheckerOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.now = options.now ?? Date.now;
  }

  /**
   * What the holder of `token` may do. Throws `PRUNER_TOKEN_INVALID` for a token the cluster does not
   * accept (an empty one too), `PRUNER_ACCESS_REVIEW_FORBIDDEN` when the worker may not ask, and the
   * client's coded errors when the cluster cannot be reached.
   */
  async check(token: string): Promise<AccessDecision> {
    if (token === '') throw tokenInvalid();
    const key = createHash('sha256').update(token).digest('hex');
    const now = this.now();
    const cached = this.cache.get(key);
    if (cached !== undefined && cached.expires > now) return cached.decision;
    this.cache.delete(key);
    const decision = this.review(token);
    this.remember(key, { expires: now + this.ttlMs, decision });
    try {
      return await decision;
    } catch (error) {
      if (this.cache.get(key)?.decision === decision) this.cache.delete(key);
      throw error;
    }
  }

  /** Forgets every decision (after a change of rights that must apply at once). */
  clear(): void {
    this.cache.clear();
  }

  private remember(key: string, entry: CacheEntry): void {
    // Map order is insertion order: the first key is the oldest decision.
    while (this.cache.size >= this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
    this.cache.set(key, entry);
  }

  private async review(token: string): Promise<AccessDecision> {
    const review = await this.create<TokenReview>(ReviewResources.tokenReview, {
      apiVersion: ReviewResources.tokenReview.apiVersion,
      kind: ReviewResources.tokenReview.kind,
      metadata: { name: '' },
      spec: { token },
    });
    const user = review.status?.user;
    // status.error is not passed on: what an authenticator says about a token is not for the caller.
    if (review.status?.authenticated !== true || user?.username === undefined || user.username === '')
      throw tokenInvalid();
    const [canRead, canApprove] = await Promise.all([
      this.allowed(user, 'get'),
      this.allowed(user, 'update'),
    ]);
    return { user: user.username, canRead, canApprove };
  }

  private async allowed(user: UserInfo, verb: string): Promise<boolean> {
    const review = await this.create<SubjectAccessReview>(ReviewResources.subjectAccessReview, {
      apiVersion: ReviewResources.subjectAccessReview.apiVersion,
      kind: ReviewResources.subjectAccessReview.kind,
      metadata: { name: '' },
      spec: {
        user: user.username ?? '',
        ...(user.uid !== undefined ? { uid: user.uid } : {}),
        groups: user.groups ?? [],
        // OpenShift puts a scoped token's scopes in extra; passing them on keeps the review as narrow.
        ...(user.extra !== undefined ? { extra: user.extra } : {}),
        resourceAttributes: {
          group: 'imageregistry.operator.openshift.io',
          resource: Resources.imagePruner.plural,
          name: RegistryNames.operatorConfig,
          verb,
        },
      },
    });
    return review.status?.allowed === true && review.status.denied !== true;
  }

  private async create<T extends KubeObject>(type: ResourceType, body: T): Promise<T> {
    try {
      return await this.client.create<T>(type, body);
    } catch (error) {
      if (isRegistryPushError(error) && error.code === 'FORBIDDEN') throw delegationForbidden(type, error);
      throw error;
    }
  }
}

const checkers = new WeakMap<ClusterApi, AccessChecker>();

/**
 * What the holder of `token` may do on the dashboard, asked with `client`'s credentials (one
 * {@link AccessChecker} with the default 10 s cache per client). See {@link AccessChecker.check}.
 */
export async function checkAccess(client: ClusterApi, token: string): Promise<AccessDecision> {
  let checker = checkers.get(client);
  if (checker === undefined) {
    checker = new AccessChecker(client);
    checkers.set(client, checker);
  }
  return checker.check(token);
}
