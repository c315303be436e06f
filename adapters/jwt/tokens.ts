/**
 * Access tokens: JWTs signed with HS256 (jose) by the secret from JWT_SECRET. Verification accepts only
 * HS256 (so `alg: none` and a public-key confusion are refused), checks issuer, audience and expiry, and
 * reads the claims it needs; anything else makes the token invalid.
 */
import { errors, jwtVerify, SignJWT } from "jose";
import { roles } from "../../domain/usercenter/account.ts";
import { parseId } from "../../domain/shared/id.ts";
import type { Clock } from "../../application/ports.ts";
import type { TokenClaims, TokenService } from "../../application/usercenter/ports.ts";

const utf8 = new TextEncoder();
const issuer = "outbox-platform/usercenter";
const audience = "outbox-platform/api";

export class JwtTokens implements TokenService {
  readonly #key: Uint8Array;
  readonly #ttlSeconds: number;
  readonly #clock: Clock;

  constructor(options: { secret: string; ttlSeconds: number; clock: Clock }) {
    if (options.secret.length < 32) throw new RangeError("the signing secret needs at least 32 characters");
    this.#key = utf8.encode(options.secret);
    this.#ttlSeconds = options.ttlSeconds;
    this.#clock = options.clock;
  }

  async issue(claims: TokenClaims): Promise<{ token: string; expiresIn: number }> {
    const now = Math.floor(this.#clock.now().getTime() / 1000);
    const token = await new SignJWT({ role: claims.role, ver: claims.tokenVersion })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(claims.userId)
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(now + this.#ttlSeconds)
      .setJti(crypto.randomUUID())
      .sign(this.#key);
    return { token, expiresIn: this.#ttlSeconds };
  }

  async verify(token: string): Promise<TokenClaims | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.#key, {
        algorithms: ["HS256"],
        issuer,
        audience,
        currentDate: this.#clock.now(),
        requiredClaims: ["sub", "exp", "iat"],
      });
      const userId = parseId(payload.sub);
      const role = payload.role;
      const version = payload.ver;
      if (!userId || !(roles as readonly unknown[]).includes(role)) return undefined;
      if (typeof version !== "number" || !Number.isInteger(version)) return undefined;
      return { userId, role: role as TokenClaims["role"], tokenVersion: version };
    } catch (error) {
      if (error instanceof errors.JOSEError || error instanceof TypeError) return undefined;
      throw error;
    }
  }
}
