// Short-lived registry tokens. The real registry echoes the API token back from /openshift/token; the
// simulator hands out an HMAC-signed token naming the user instead, so a registry token never reveals (or
// outlives) the API credential it was issued for.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Issues and verifies registry tokens for one simulated cluster. */
export class RegistryTokens {
  private readonly key = randomBytes(32);

  constructor(private readonly lifetimeSeconds = 300) {}

  /** A token for `user` valid for the configured lifetime. */
  issue(user: string, now = Date.now()): { token: string; expiresIn: number; issuedAt: string } {
    const expires = Math.floor(now / 1000) + this.lifetimeSeconds;
    const payload = Buffer.from(JSON.stringify({ u: user, e: expires })).toString('base64url');
    return {
      token: `rt.${payload}.${this.sign(payload)}`,
      expiresIn: this.lifetimeSeconds,
      issuedAt: new Date(now).toISOString(),
    };
  }

  /** The user a token was issued to, or undefined when it is forged or expired. */
  verify(token: string, now = Date.now()): string | undefined {
    const [prefix, payload, signature] = token.split('.');
    if (prefix !== 'rt' || payload === undefined || signature === undefined) return undefined;
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    try {
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as {
        u?: unknown;
        e?: unknown;
      };
      if (typeof claims.u !== 'string' || typeof claims.e !== 'number') return undefined;
      return claims.e * 1000 > now ? claims.u : undefined;
    } catch {
      return undefined;
    }
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}
