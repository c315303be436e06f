/**
 * The user center (seed 002): accounts, sign-in with signed tokens, the `user.events` topic and the
 * `usercenter` consumer group, the mail queue and its dispatcher. It also supplies the token verifier every
 * context's routes authenticate with.
 */
import { Hono } from "hono";
import { z } from "zod";
import { authenticate } from "../../application/usercenter/authenticate.ts";
import { userCenterHandlers } from "../../application/usercenter/handlers.ts";
import { dispatchMail } from "../../application/usercenter/mail_dispatch.ts";
import { Argon2Hasher } from "../argon2/password_hasher.ts";
import { HashWorkerPool } from "../argon2/worker_pool.ts";
import { consumerGroup, type ContextModule, UsageError, withSettings } from "../context_module.ts";
import { AccountRefusal, register } from "../../application/usercenter/accounts.ts";
import { parseArgs } from "node:util";
import { userRoutes } from "../http/usercenter/user_routes.ts";
import { JwtTokens } from "../jwt/tokens.ts";
import { MemorySessionCache } from "../memory/usercenter/session_cache.ts";
import { PostgresMailQueue, PostgresUserStore } from "../postgres/usercenter/user_store.ts";
import { userCenterUnitOfWork, usersUnitOfWork } from "../postgres/usercenter/unit_of_work.ts";
import { FlexibleLoginThrottle } from "../redis/usercenter/login_throttle.ts";
import { RedisSessionCache } from "../redis/usercenter/session_cache.ts";
import { boolSetting, intSetting } from "../settings.ts";
import { SmtpMailer } from "../smtp/mailer.ts";

export const userTopics = {
  events: "user.events",
  notifications: "user.notifications",
  analytics: "user.analytics",
} as const;

const smtpUrl = z.string().regex(
  /^smtps?:\/\/.+/i,
  "must be an smtp:// or smtps:// URL, e.g. smtp://127.0.0.1:25",
);

/** The context's own settings (environment variables), validated at start. */
const userCenterSettings = z.object({
  /** HS256 signing secret of access tokens: at least 32 characters. Without it the API refuses to start. */
  JWT_SECRET: z.string().min(32, "must be at least 32 characters (e.g. openssl rand -base64 48)").optional(),
  /** Lifetime of an access token. */
  JWT_TTL_SECONDS: intSetting(3600, 60, 86_400),
  /** How long an account's status is cached for token checks (changes drop it at once). */
  SESSION_CACHE_SECONDS: intSetting(30, 1, 3600),
  /** Failed sign-ins per account, and per client address, within the window before attempts get 429. */
  LOGIN_MAX_FAILURES: intSetting(5, 1),
  LOGIN_MAX_FAILURES_PER_ADDRESS: intSetting(50, 1),
  LOGIN_FAILURE_WINDOW_SECONDS: intSetting(900, 1),
  /** Behind a reverse proxy: the client address is the first X-Forwarded-For entry. Off: the peer address. */
  TRUST_FORWARDED_FOR: boolSetting(false),
  /** argon2id cost (default OWASP: 19 MiB, 2 iterations, 1 lane). */
  ARGON2_MEMORY_KIB: intSetting(19_456, 8_192, 1_048_576),
  ARGON2_ITERATIONS: intSetting(2, 1, 20),
  ARGON2_PARALLELISM: intSetting(1, 1, 16),
  /**
   * Threads hashing passwords per API process. Default 1: argon2id is memory-hard, and on the 2-core machines
   * we measured, two hashes at once made 12 hashes/s where one thread made 19. Raise it where cores have
   * memory bandwidth and cache of their own (measure with `deno task bench --only login`).
   */
  HASH_WORKERS: intSetting(1, 1, 64),
  /** Where mail goes; unset: it stays in the mail queue, readable by GET /users/me/mail. */
  SMTP_URL: smtpUrl.optional(),
  MAIL_FROM: z.string().regex(
    /^(?:[^<>@]*<[^@\s<>]+@[^@\s<>]+>|[^@\s<>]+@[^@\s<>]+)$/,
    'must be an address like noreply@example.com or "Likes" <noreply@example.com>',
  ).default(
    "noreply@localhost",
  ),
  MAIL_POLL_MS: intSetting(1000, 50),
  MAIL_MAX_ATTEMPTS: intSetting(8, 1),
  /** A mail claimed by a dispatcher that died is taken over after this (more than a send takes: ~15 s at most). */
  MAIL_LEASE_SECONDS: intSetting(60, 20),
  /** A burst: this many failed sign-ins of one account within the window is recorded as an anomaly. */
  ANOMALY_BURST_FAILURES: intSetting(5, 2),
});

/** Accounts and authentication. */
export const userCenterModule: ContextModule = {
  name: "usercenter",
  migrations: new URL("../postgres/usercenter/migrations/", import.meta.url),
  generatedSecrets: ["JWT_SECRET"],
  topics: [{ name: userTopics.events }, { name: userTopics.notifications }, { name: userTopics.analytics }],
  ...withSettings(userCenterSettings, (platform, settings) => {
    const { db, redis, clock, logger } = platform;
    const users = new PostgresUserStore(db);
    const mailQueue = new PostgresMailQueue(db);
    const sessions = redis
      ? new RedisSessionCache(redis, { ttlSeconds: settings.SESSION_CACHE_SECONDS })
      : new MemorySessionCache({ clock, ttlSeconds: settings.SESSION_CACHE_SECONDS });
    const tokens = settings.JWT_SECRET
      ? new JwtTokens({ secret: settings.JWT_SECRET, ttlSeconds: settings.JWT_TTL_SECONDS, clock })
      : undefined;
    // Hashing in a worker thread (started at the first sign-in): the API's event loop stays free meanwhile.
    const pool = new HashWorkerPool(settings.HASH_WORKERS);
    const hasher = new Argon2Hasher({
      memoryKib: settings.ARGON2_MEMORY_KIB,
      iterations: settings.ARGON2_ITERATIONS,
      parallelism: settings.ARGON2_PARALLELISM,
    }, { pool });
    const window = settings.LOGIN_FAILURE_WINDOW_SECONDS;
    const throttle = new FlexibleLoginThrottle({
      redis,
      keyPrefix: "rate:usercenter:login",
      logger,
      budgets: {
        account: { failures: settings.LOGIN_MAX_FAILURES, windowSeconds: window },
        address: { failures: settings.LOGIN_MAX_FAILURES_PER_ADDRESS, windowSeconds: window },
      },
    });
    const mailer = settings.SMTP_URL
      ? new SmtpMailer(settings.SMTP_URL, { from: settings.MAIL_FROM })
      : undefined;
    const accounts = tokens && {
      unitOfWork: usersUnitOfWork(db, platform.outbox),
      users,
      hasher,
      tokens,
      sessions,
      throttle,
      clock,
      logger,
      topic: platform.topic(userTopics.events),
      mail: mailQueue,
    };
    return {
      routes: accounts
        ? [{
          path: "/users",
          app: new Hono().route(
            "/",
            userRoutes(accounts, { trustForwardedFor: settings.TRUST_FORWARDED_FOR }),
          ),
        }]
        : [],
      onStop: [() => pool.close(), () => mailer?.close() ?? Promise.resolve()],
      verifyToken: tokens && ((token) => authenticate({ tokens, sessions, users, logger }, token)),
      apiRefusals: tokens ? [] : [
        "JWT_SECRET is not set: the API cannot sign or verify access tokens. Set it to at least 32 random " +
        "characters, e.g. JWT_SECRET=$(openssl rand -base64 48)",
      ],
      consumers: [consumerGroup({
        name: "usercenter",
        topics: [userTopics.events],
        handlers: userCenterHandlers({
          sessions,
          clock,
          logger,
          topics: {
            notifications: platform.topic(userTopics.notifications),
            analytics: platform.topic(userTopics.analytics),
          },
          anomalyRules: { burstFailures: settings.ANOMALY_BURST_FAILURES, burstWindowMs: window * 1000 },
          historyDays: 90,
          productName: "Outbox Platform",
        }),
        // One by one: account events are few, and a welcome mail should not wait for a batch to fill.
        batched: false,
        inbox: true,
        unitOfWork: userCenterUnitOfWork(db, platform.outbox),
      })],
      jobs: mailer
        ? [{
          name: "mail-dispatch",
          everyMs: settings.MAIL_POLL_MS,
          firstAfterMs: settings.MAIL_POLL_MS,
          run: async () => {
            const { sent, failed } = await dispatchMail({
              outbox: mailQueue,
              sender: mailer,
              clock,
              logger,
              maxAttempts: settings.MAIL_MAX_ATTEMPTS,
              leaseMs: settings.MAIL_LEASE_SECONDS * 1000,
            });
            return sent + failed > 0 ? { sent, failed } : undefined;
          },
        }]
        : [],
      commands: {
        "create-admin": {
          summary: "creates an administrator account (the first one included); prints a generated password " +
            "unless one is piped in with --password-stdin",
          usage: "deno task users create-admin --email <address> --username <name> [--password-stdin]",
          run: async (args, io) => {
            const { values } = parseArgs({
              args: [...args],
              options: {
                email: { type: "string" },
                username: { type: "string" },
                "password-stdin": { type: "boolean", default: false },
              },
              strict: true,
            });
            if (!values.email || !values.username) {
              throw new UsageError("--email and --username are required");
            }
            let password: string;
            let generated = false;
            if (values["password-stdin"]) {
              password = ((await io.readStdin()) ?? "").replace(/\r?\n$/, "");
              if (!password) throw new UsageError("--password-stdin: nothing was piped in");
            } else {
              // Never a default password: a random one, shown once.
              const bytes = crypto.getRandomValues(new Uint8Array(18));
              password = btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
              generated = true;
            }
            try {
              const account = await register({
                unitOfWork: usersUnitOfWork(db, platform.outbox),
                users,
                hasher,
                clock,
                topic: platform.topic(userTopics.events),
              }, { email: values.email, username: values.username, password, role: "admin" });
              return [
                `✓ administrator ${account.username} <${account.email}> created (id ${account.id})`,
                ...(generated
                  ? [`  password (shown once, change it after the first sign-in): ${password}`]
                  : []),
              ];
            } catch (error) {
              if (error instanceof AccountRefusal) throw new Error(error.message);
              throw error;
            }
          },
        },
      },
      examples: [
        `curl -X POST {url}/users/register -H 'content-type: application/json' -d '{"username":"ada","email":"ada@example.com","password":"correct horse battery"}'`,
        `TOKEN=$(curl -s -X POST {url}/users/login -H 'content-type: application/json' -d '{"email":"ada@example.com","password":"correct horse battery"}' | sed 's/.*"accessToken":"\\([^"]*\\)".*/\\1/')`,
        `curl {url}/users/me -H "Authorization: Bearer $TOKEN"`,
      ],
    };
  }),
};
