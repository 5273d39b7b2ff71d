// Service-account tokens as kube-apiserver issues them through the TokenRequest API
// (`POST /api/v1/namespaces/<ns>/serviceaccounts/<name>/token`): RS256 JWTs bound to the ServiceAccount's
// uid, valid until they expire or the ServiceAccount is deleted (a new one of the same name has another
// uid), and only for the API's audience. The kubelet puts such a token in a pod's projected volume.
import { createSign, createVerify, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { isJsonObject, objectAt, stringAt, type JsonObject } from '../json.js';
import type { Subject } from './rbac.js';
import { errors } from './status.js';
import type { ObjectStore } from './store.js';

/** The issuer and default audience of tokens, as on OpenShift. */
export const API_AUDIENCE = 'https://kubernetes.default.svc';
const DEFAULT_SECONDS = 3600;
const MIN_SECONDS = 600;
const MAX_SECONDS = 2 ** 32;

/** What a verified token is bound to. */
interface BoundToken {
  exp: number;
  namespace: string;
  name: string;
  uid: string;
}

const VERIFIED_LIMIT = 1000;

interface Claims {
  iss: string;
  sub: string;
  aud: string[];
  exp: number;
  iat: number;
  nbf: number;
  jti: string;
  'kubernetes.io': { namespace: string; serviceaccount: { name: string; uid: string } };
}

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

function parseClaims(body: string): JsonObject | undefined {
  try {
    const claims: unknown = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    return isJsonObject(claims) ? claims : undefined;
  } catch {
    return undefined;
  }
}

/** The binding of claims for the API's audience, or undefined. */
function boundTokenOf(claims: JsonObject | undefined): BoundToken | undefined {
  const aud = claims?.['aud'];
  const exp = claims?.['exp'];
  if (!Array.isArray(aud) || !aud.includes(API_AUDIENCE) || typeof exp !== 'number') return undefined;
  const bound = objectAt(claims, 'kubernetes.io');
  const account = objectAt(bound, 'serviceaccount');
  return {
    exp,
    namespace: stringAt(bound, 'namespace') ?? '',
    name: stringAt(account, 'name') ?? '',
    uid: stringAt(account, 'uid') ?? '',
  };
}

/** The groups kube gives a service account. */
export function serviceAccountSubject(namespace: string, name: string): Subject {
  return {
    name: `system:serviceaccount:${namespace}:${name}`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
  };
}

/** Issues and verifies service-account tokens with a signing key of its own. */
export class ServiceAccountTokens {
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;
  private readonly verified = new Map<string, BoundToken>();

  constructor(
    private readonly store: ObjectStore,
    private readonly now: () => number = () => Date.now(),
  ) {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKey = pair.privateKey;
    this.publicKey = pair.publicKey;
  }

  /**
   * Answers a TokenRequest for an existing ServiceAccount: kube's validation of `spec.expirationSeconds`
   * (at least 10 minutes, default one hour) and the object it returns.
   */
  request(namespace: string, name: string, body: JsonObject): JsonObject {
    if ((stringAt(body, 'kind') ?? 'TokenRequest') !== 'TokenRequest') {
      throw errors.badRequest(`expected TokenRequest, got ${stringAt(body, 'kind') ?? ''}`);
    }
    const account = this.store.get('serviceaccounts', namespace, name);
    if (!account) throw errors.notFound({ group: '', resource: 'serviceaccounts', name });
    const spec = objectAt(body, 'spec') ?? {};
    const seconds = spec['expirationSeconds'] ?? DEFAULT_SECONDS;
    if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < MIN_SECONDS) {
      throw errors.invalid(
        { group: 'authentication.k8s.io', resource: 'token', kind: 'TokenRequest', name },
        [
          {
            reason: 'FieldValueInvalid',
            message: `Invalid value: ${JSON.stringify(seconds)}: may not specify a duration less than 10 minutes`,
            field: 'spec.expirationSeconds',
          },
        ],
      );
    }
    if (seconds > MAX_SECONDS) {
      throw errors.invalid(
        { group: 'authentication.k8s.io', resource: 'token', kind: 'TokenRequest', name },
        [
          {
            reason: 'FieldValueTooLong',
            message: `Invalid value: ${seconds}: may not specify a duration larger than 2^32 seconds`,
            field: 'spec.expirationSeconds',
          },
        ],
      );
    }
    const requested = Array.isArray(spec['audiences'])
      ? spec['audiences'].filter((a): a is string => typeof a === 'string')
      : [];
    const audiences = requested.length > 0 ? requested : [API_AUDIENCE];
    const uid = stringAt(objectAt(account, 'metadata'), 'uid') ?? '';
    const iat = Math.floor(this.now() / 1000);
    const claims: Claims = {
      iss: API_AUDIENCE,
      sub: `system:serviceaccount:${namespace}:${name}`,
      aud: audiences,
      exp: iat + seconds,
      iat,
      nbf: iat,
      jti: randomUUID(),
      'kubernetes.io': { namespace, serviceaccount: { name, uid } },
    };
    return {
      kind: 'TokenRequest',
      apiVersion: 'authentication.k8s.io/v1',
      metadata: { name, namespace, creationTimestamp: null },
      spec: { audiences, expirationSeconds: seconds, boundObjectRef: null },
      status: {
        token: this.sign(claims),
        expirationTimestamp: new Date(claims.exp * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      },
    };
  }

  private sign(claims: Claims): string {
    const head = base64url(JSON.stringify({ alg: 'RS256', kid: 'openshift-sim' }));
    const body = base64url(JSON.stringify(claims));
    const signature = createSign('RSA-SHA256').update(`${head}.${body}`).sign(this.privateKey);
    return `${head}.${body}.${base64url(signature)}`;
  }

  /**
   * The subject of a valid token: signed here, for the API's audience, not expired, and its ServiceAccount
   * still there with the uid it was issued for. Undefined for anything else (the caller answers 401).
   */
  authenticate(token: string): Subject | undefined {
    const bound = this.verified.get(token) ?? this.verify(token);
    if (bound === undefined || bound.exp * 1000 <= this.now()) return undefined;
    const stored = this.store.peek('serviceaccounts', bound.namespace, bound.name);
    const uid = isJsonObject(stored?.['metadata']) ? stored['metadata']['uid'] : undefined;
    if (uid !== bound.uid) return undefined;
    return { ...serviceAccountSubject(bound.namespace, bound.name), uid: bound.uid };
  }

  /** Checks the signature and audience once per token (then remembered: an RSA check per request is slow). */
  private verify(token: string): BoundToken | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [head = '', body = '', signature = ''] = parts;
    const valid = createVerify('RSA-SHA256')
      .update(`${head}.${body}`)
      .verify(this.publicKey, Buffer.from(signature, 'base64url'));
    if (!valid) return undefined;
    const result = boundTokenOf(parseClaims(body));
    if (result === undefined) return undefined;
    if (this.verified.size >= VERIFIED_LIMIT) {
      const oldest = this.verified.keys().next().value;
      if (oldest !== undefined) this.verified.delete(oldest);
    }
    this.verified.set(token, result);
    return result;
  }
}
