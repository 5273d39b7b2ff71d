import { RegistryPushError } from '../errors.js';
import { redact } from '../secrets.js';
import { registryNetworkError } from './registry-errors.js';
import { header, type HttpResponse, type RegistryTransport } from './transport.js';

/**
 * Credentials for a registry. The OpenShift registry takes any username without `:` and the API token as
 * password, through Basic or through its token realm (`/openshift/token`); `bearer` sends a token as is.
 */
export type RegistryCredentials =
  | { kind: 'anonymous' }
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'bearer'; token: string };

/** One `WWW-Authenticate` challenge. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parse `WWW-Authenticate` (several challenges, quoted or token parameter values). */
export function parseChallenges(value: string | undefined): Challenge[] {
  if (value === undefined) return [];
  const challenges: Challenge[] = [];
  const pattern = /\s*([A-Za-z][\w-]*)\s*(?:=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*)))?\s*(,)?/gy;
  let current: Challenge | undefined;
  let match: RegExpExecArray | null;
  while (pattern.lastIndex < value.length && (match = pattern.exec(value)) !== null) {
    const [, name = '', quoted, bare] = match;
    if (quoted === undefined && bare === undefined) {
      current = { scheme: name.toLowerCase(), params: {} };
      challenges.push(current);
      // A scheme may be followed directly by its first parameter (no comma between).
      continue;
    }
    if (current !== undefined) {
      current.params[name.toLowerCase()] =
        quoted === undefined ? (bare ?? '') : quoted.replace(/\\(.)/g, '$1');
    }
  }
  return challenges;
}

interface CachedToken {
  header: string;
  expiresAt: number;
}

/** Tokens are treated as expired this long before they are, so a request never races the expiry. */
const EXPIRY_MARGIN_MS = 10_000;
/** What the token spec says to assume when the realm gives no `expires_in`. */
const DEFAULT_TOKEN_SECONDS = 60;

/**
 * Answers registry challenges: Basic directly, Bearer through the realm's token endpoint (the Docker token
 * flow, which is also the OpenShift one), caching one token per scope. It remembers that the credentials
 * once worked, so a later refusal is reported as an expired token, not a wrong one.
 *
 * One authenticator serves all the parallel requests of a client, and these often meet the same challenge
 * at the same moment (every upload of a push starts unauthenticated). Such challenges share one answer: a
 * request whose credential was already replaced by another one's answer just retries with the new one, and
 * concurrent token fetches for the same scopes are one fetch. Only a 401 to the credential that is current
 * for its challenge means the registry refuses it.
 */
export class RegistryAuthenticator {
  private scheme: 'none' | 'basic' | 'bearer' = 'none';
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, CachedToken>();
  /** Token fetches under way, by scope key, for requests that are challenged while one is running. */
  private readonly fetching = new Map<string, Promise<void>>();
  /** Checks of refused credentials under way, by the `Authorization` checked (see {@link accepts}). */
  private readonly checking = new Map<string, Promise<boolean | undefined>>();
  private everAccepted = false;

  constructor(
    private readonly transport: RegistryTransport,
    private readonly credentials: RegistryCredentials,
    private readonly host: string,
  ) {}

  /** The secrets to scrub from anything printed. */
  secrets(): string[] {
    if (this.credentials.kind === 'basic') return [this.credentials.password];
    if (this.credentials.kind === 'bearer') return [this.credentials.token];
    return [];
  }

  /** Whether there are no credentials to send (then every refusal means: log in). */
  get anonymous(): boolean {
    return this.credentials.kind === 'anonymous';
  }

  /** Record that an authenticated request went through. */
  accepted(): void {
    if (this.scheme !== 'none' || this.credentials.kind === 'bearer') this.everAccepted = true;
  }

  /** The `Authorization` header for a request needing `scopes`, when one is known already. */
  authorization(scopes: readonly string[]): string | undefined {
    if (this.credentials.kind === 'bearer') return `Bearer ${this.credentials.token}`;
    if (this.scheme === 'basic' && this.credentials.kind === 'basic') return basicHeader(this.credentials);
    if (this.scheme === 'bearer') {
      const cached = this.tokens.get(scopeKey(scopes));
      if (cached !== undefined && cached.expiresAt > Date.now()) return cached.header;
    }
    return undefined;
  }

  /**
   * Learn from a 401 to a request sent with `sent` (its `Authorization`, if any) how to authenticate, and
   * get what is needed for `scopes`. Returns false when there is nothing new to try (then the 401 stands):
   * the request already carried the current credential for this challenge.
   */
  async answer(
    response: HttpResponse,
    scopes: readonly string[],
    sent: string | undefined,
    signal?: AbortSignal,
  ): Promise<boolean> {
    const challenges = parseChallenges(header(response.headers, 'www-authenticate'));
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params['realm'] !== undefined);
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (this.credentials.kind === 'bearer') return false;
    if (bearer !== undefined) {
      const key = scopeKey(scopes);
      const sameRealm =
        this.scheme === 'bearer' &&
        this.challenge?.params['realm'] === bearer.params['realm'] &&
        this.challenge?.params['service'] === bearer.params['service'];
      if (!sameRealm) this.tokens.clear();
      this.scheme = 'bearer';
      this.challenge = bearer;
      const current = this.authorization(scopes);
      // Another request got a token for these scopes since this one was sent: retry with it.
      if (current !== undefined && current !== sent) return true;
      // The token this request carried was refused: forget it, unless it is already being replaced.
      if (current !== undefined) this.tokens.delete(key);
      let pending = this.fetching.get(key);
      if (pending === undefined) {
        pending = this.fetchToken(scopes, signal).finally(() => this.fetching.delete(key));
        this.fetching.set(key, pending);
      }
      await pending;
      return true;
    }
    if (basic !== undefined && this.credentials.kind === 'basic') {
      return this.answerBasic(basic, this.credentials, scopes, sent);
    }
    return false;
  }

  /** {@link answer} for a Basic challenge, with Basic credentials at hand. */
  private answerBasic(
    basic: Challenge,
    credentials: { username: string; password: string },
    scopes: readonly string[],
    sent: string | undefined,
  ): boolean {
    // The credentials themselves were refused; any other 401 (sent without them, or with an old token
    // of a scheme the registry left) is answered by switching to Basic, however many arrive at once.
    if (sent === basicHeader(credentials)) return false;
    if (sent !== undefined && basic.params['error'] !== undefined) {
      // A Basic challenge naming an error refuses the credential that was sent; it does not ask for
      // Basic. The OpenShift registry answers so (`error="access denied"`) to a token it does not know
      // and to a refused permission alike, and Basic would carry the same API token to the same answer.
      // Only a request whose token was replaced meanwhile by another request's answer goes again.
      const current = this.authorization(scopes);
      return current !== undefined && current !== sent;
    }
    this.scheme = 'basic';
    return true;
  }

  /**
   * Whether the registry takes `sent` (the `Authorization` of a refused request) as credentials at all,
   * asked with `GET /v2/`: true when it does (the refusal was about permission), false when it refuses
   * them too, undefined when this cannot tell (nothing was sent, the registry did not answer, or answered
   * something else).
   *
   * Needed because the OpenShift registry answers a refused permission exactly as it answers an unknown,
   * expired or revoked token: `401` with `Basic realm=openshift,error="access denied"`. `/v2/` asks for no
   * access, and that registry looks up the token's user on every request carrying one, so the same token
   * gets 200 there if and only if it is valid; Docker token registries likewise take any valid token there.
   * Parallel requests refused with the same credential share one check.
   */
  async accepts(sent: string | undefined, signal?: AbortSignal): Promise<boolean | undefined> {
    if (sent === undefined) return undefined;
    let pending = this.checking.get(sent);
    if (pending === undefined) {
      pending = this.checkBase(sent, signal).finally(() => this.checking.delete(sent));
      this.checking.set(sent, pending);
    }
    return pending;
  }

  private async checkBase(authorization: string, signal?: AbortSignal): Promise<boolean | undefined> {
    try {
      const response = await this.transport.send({
        method: 'GET',
        url: this.transport.url('/v2/'),
        headers: { 'user-agent': 'registry-push', authorization },
        ...(signal ? { signal } : {}),
      });
      await response.body.dump();
      if (response.status === 200) return true;
      return response.status === 401 ? false : undefined;
    } catch {
      return undefined;
    }
  }

  /** The token endpoint URL for `scopes`; credentials go only to https (or to plain HTTP when asked for). */
  private realmUrl(challenge: Challenge, realm: string, scopes: readonly string[]): URL {
    const url = new URL(realm, this.transport.origin);
    const plainAllowed = url.protocol === 'http:' && this.transport.options.plainHttp === true;
    if (url.protocol !== 'https:' && !plainAllowed) {
      throw new RegistryPushError(
        'REGISTRY_PROTOCOL',
        `The registry ${this.host} sends clients to log in at ${url.origin} over plain HTTP; refusing to send credentials there.`,
        { hint: 'Fix the registry token realm to use https.' },
      );
    }
    const service = challenge.params['service'];
    if (service !== undefined) url.searchParams.set('service', service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    if (this.credentials.kind === 'basic') url.searchParams.set('account', this.credentials.username);
    return url;
  }

  private async fetchToken(scopes: readonly string[], signal?: AbortSignal): Promise<void> {
    const challenge = this.challenge;
    const realm = challenge?.params['realm'];
    if (challenge === undefined || realm === undefined) return;
    const url = this.realmUrl(challenge, realm, scopes);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.credentials.kind === 'basic') headers['authorization'] = basicHeader(this.credentials);
    let response: HttpResponse;
    try {
      response = await this.transport.send({ method: 'GET', url, headers, ...(signal ? { signal } : {}) });
    } catch (error) {
      throw registryNetworkError(error, { action: 'get a token for', host: url.host });
    }
    const text = await response.body.text();
    if (response.status === 401 || response.status === 403) throw this.rejected();
    if (response.status !== 200) {
      throw new RegistryPushError(
        response.status >= 500 ? 'REGISTRY_SERVER_ERROR' : 'REGISTRY_PROTOCOL',
        `The token endpoint of ${this.host} answered HTTP ${response.status}.`,
        {
          retryable: response.status >= 500 || response.status === 429,
          details: { status: response.status },
        },
      );
    }
    const { token, seconds } = parseTokenResponse(text, this.host);
    this.tokens.set(scopeKey(scopes), {
      header: `Bearer ${token}`,
      expiresAt: Date.now() + Math.max(seconds * 1000 - EXPIRY_MARGIN_MS, 1000),
    });
  }

  /** The error for credentials the registry will not take. */
  rejected(): RegistryPushError {
    if (this.credentials.kind === 'anonymous') {
      return new RegistryPushError('REGISTRY_UNAUTHORIZED', `The registry ${this.host} needs credentials.`, {
        hint: 'Log in first (registry-push login, or pass a token).',
        details: { host: this.host },
      });
    }
    if (this.everAccepted) {
      return new RegistryPushError(
        'TOKEN_EXPIRED',
        `The registry ${this.host} accepted the token earlier and refuses it now: it has expired or was revoked.`,
        {
          hint: 'Use a token that lives longer than the push (a service-account token, or oc whoami -t right before), and run again.',
          details: { host: this.host },
        },
      );
    }
    return new RegistryPushError('TOKEN_REJECTED', `The registry ${this.host} refused the token.`, {
      hint: 'The token is wrong, expired or revoked: get a fresh one (oc whoami -t, or the service account token) and log in again.',
      details: { host: this.host },
    });
  }

  /** Scrub the credentials from a message. */
  scrub(text: string): string {
    return redact(text, this.secrets());
  }
}

/** The token and its lifetime from a token endpoint's JSON (`token` or `access_token`, `expires_in`). */
function parseTokenResponse(text: string, host: string): { token: string; seconds: number } {
  let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    throw new RegistryPushError('REGISTRY_PROTOCOL', `The token endpoint of ${host} did not answer JSON.`);
  }
  const token = typeof parsed.token === 'string' ? parsed.token : parsed.access_token;
  if (typeof token !== 'string' || token === '') {
    throw new RegistryPushError('REGISTRY_PROTOCOL', `The token endpoint of ${host} gave no token.`);
  }
  const expiresIn = parsed.expires_in;
  return {
    token,
    seconds: typeof expiresIn === 'number' && expiresIn > 0 ? expiresIn : DEFAULT_TOKEN_SECONDS,
  };
}

function basicHeader(credentials: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}

function scopeKey(scopes: readonly string[]): string {
  return [...scopes].sort().join(' ');
}
