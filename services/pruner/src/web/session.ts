/**
 * Dashboard sessions, in this process's memory only: a random session id in an HttpOnly, SameSite=Strict
 * cookie leads to the user's bearer token, which stays here (never in Redis, a URL, a log or the page) so
 * that every request is checked against the cluster again (TokenReview and SubjectAccessReview, reused for
 * 10 s). Each session has its own CSRF token for the forms that change something.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

/** One signed-in browser. */
export interface Session {
  id: string;
  token: string;
  csrf: string;
  user: string;
  expires: number;
}

/** The session cookie's name. */
export const SESSION_COOKIE = 'pruner_session';

/** Options of {@link SessionStore}. */
export interface SessionOptions {
  /** How long a session lasts without use (default 1 h). */
  idleMs?: number;
  /** How many sessions are kept at most; the oldest goes first (default 1000). */
  maxSessions?: number;
  now?: () => number;
}

/** The sessions of one worker process. */
export class SessionStore {
  readonly #sessions = new Map<string, Session>();
  readonly #idleMs: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: SessionOptions = {}) {
    this.#idleMs = options.idleMs ?? 3600_000;
    this.#max = options.maxSessions ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  /** Starts a session for a token that was checked. */
  create(token: string, user: string): Session {
    while (this.#sessions.size >= this.#max) {
      const oldest = this.#sessions.keys().next().value;
      if (oldest === undefined) break;
      this.#sessions.delete(oldest);
    }
    const session: Session = {
      id: randomBytes(32).toString('base64url'),
      token,
      csrf: randomBytes(32).toString('base64url'),
      user,
      expires: this.#now() + this.#idleMs,
    };
    this.#sessions.set(session.id, session);
    return session;
  }

  /** The live session of an id (its idle time starts again), or undefined. */
  get(id: string | undefined): Session | undefined {
    if (id === undefined) return undefined;
    const session = this.#sessions.get(id);
    if (session === undefined) return undefined;
    if (session.expires <= this.#now()) {
      this.#sessions.delete(id);
      return undefined;
    }
    session.expires = this.#now() + this.#idleMs;
    return session;
  }

  delete(id: string): void {
    this.#sessions.delete(id);
  }
}

/** Whether a form's CSRF value is the session's (compared in constant time). */
export function csrfMatches(session: Session, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The value of one cookie of a request's `Cookie` header. */
export function cookieOf(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
