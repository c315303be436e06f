/**
 * Who a bearer token speaks for. The signature and expiry come first; then the account itself must still allow
 * it: active, and with the token version the token was issued for (a password change, a suspension or a
 * deletion bumps it). The role comes from the account, not from the token, so a demotion applies at once.
 */
import { canSignIn, type Role } from "../../domain/usercenter/account.ts";
import type { SessionCache, SessionState, TokenService, UserStore } from "./ports.ts";
import type { Logger } from "../ports.ts";

export interface AuthenticateDeps {
  readonly tokens: TokenService;
  readonly sessions: SessionCache;
  readonly users: Pick<UserStore, "byId">;
  readonly logger: Logger;
}

/** The user of a valid token, or undefined when the token (or its account) does not hold. */
export async function authenticate(
  deps: AuthenticateDeps,
  token: string,
): Promise<{ readonly userId: string; readonly role: Role } | undefined> {
  const claims = await deps.tokens.verify(token);
  if (!claims) return undefined;
  const session = await sessionOf(deps, claims.userId);
  if (!session || !canSignIn(session.status) || session.tokenVersion !== claims.tokenVersion) {
    return undefined;
  }
  return { userId: claims.userId, role: session.role };
}

async function sessionOf(deps: AuthenticateDeps, userId: string): Promise<SessionState | undefined> {
  const cached = await deps.sessions.get(userId).catch((error) => {
    deps.logger.warn("session cache unavailable; reading the account", { error: String(error) });
    return undefined;
  });
  if (cached) return cached;
  const user = await deps.users.byId(userId);
  if (!user) return undefined;
  const session = { status: user.status, role: user.role, tokenVersion: user.tokenVersion };
  await deps.sessions.set(userId, session).catch(() => {});
  return session;
}
