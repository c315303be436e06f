/** The session cache in Redis: `user:session:<id>` → status, role and token version, for `ttlSeconds`. */
import type { Redis } from "ioredis";
import type { SessionCache, SessionState } from "../../../application/usercenter/ports.ts";
import { roles, userStatuses } from "../../../domain/usercenter/account.ts";

export class RedisSessionCache implements SessionCache {
  readonly #redis: Redis;
  readonly #ttlSeconds: number;

  constructor(redis: Redis, options: { ttlSeconds: number }) {
    this.#redis = redis;
    this.#ttlSeconds = options.ttlSeconds;
  }

  async get(userId: string): Promise<SessionState | undefined> {
    const raw = await this.#redis.get(key(userId));
    return raw === null ? undefined : parse(raw);
  }

  async set(userId: string, state: SessionState): Promise<void> {
    // In one script: an entry of a newer token version stays (a read that began before a change loses).
    await this.#redis.eval(
      setUnlessNewer,
      1,
      key(userId),
      `${state.status}|${state.role}|${state.tokenVersion}`,
      String(state.tokenVersion),
      String(this.#ttlSeconds),
    );
  }

  async drop(userId: string): Promise<void> {
    await this.#redis.del(key(userId));
  }
}

const setUnlessNewer = `
local current = redis.call('GET', KEYS[1])
if current then
  local version = tonumber(string.match(current, '|(%d+)$'))
  if version and version > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[3]))
return 1`;

function key(userId: string): string {
  return `user:session:${userId}`;
}

/** A stored entry, or undefined when it is not one (then the account is read again). */
export function parse(raw: string): SessionState | undefined {
  const match = /^([a-z]+)\|([a-z]+)\|(0|[1-9][0-9]{0,8})$/.exec(raw);
  if (!match) return undefined;
  const [, status, role, version] = match;
  if (!(userStatuses as readonly string[]).includes(status) || !(roles as readonly string[]).includes(role)) {
    return undefined;
  }
  return {
    status: status as SessionState["status"],
    role: role as SessionState["role"],
    tokenVersion: Number(version),
  };
}
