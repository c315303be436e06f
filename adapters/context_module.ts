/**
 * What a bounded context registers with the platform, in one file of its own: migrations, topics, HTTP
 * routes, consumer groups, periodic jobs, start-up hooks, readiness checks and metrics. The processes iterate
 * the module list (bin/modules.ts) and know no context; retries, dead letters, the error policy, metrics and
 * topic prefixes come from the platform.
 */
import type { Hono } from "hono";
import type { Redis } from "ioredis";
import type { Registry } from "prom-client";
import type { z } from "zod";
import type { Clock, Logger, UnitOfWork } from "../application/ports.ts";
import {
  type BatchHandler,
  type ConsumerObserver,
  type ConsumerOptions,
  type DirectConsumerOptions,
  type InboxTx,
  type RunningConsumer,
  startConsumer,
  type TransactionalConsumerOptions,
} from "../outbox/consumer.ts";
import type { Publisher, Subscriber } from "../outbox/ports.ts";
import type { RetryPolicy } from "../outbox/retry.ts";
import type { TokenVerifier } from "./http/identity.ts";
import type { OutboxSettings } from "./postgres/outbox_store.ts";
import type { SqlDatabase } from "./postgres/sql_client.ts";
import { parseSettings } from "./settings.ts";

/** A bounded context as the platform sees it. */
export interface ContextModule {
  /** The context's name: scope of its migrations, prefix of its readiness checks and jobs. */
  readonly name: string;
  /** Folder of its SQL migrations, applied in file-name order and tracked as (name, version). */
  readonly migrations?: URL;
  /** Topics it publishes to; the platform creates them (and their `.dlq`) with the configured prefix. */
  readonly topics?: readonly ModuleTopic[];
  /** Secrets `deno task start` generates into its data folder when they are unset (e.g. a signing key). */
  readonly generatedSecrets?: readonly string[];
  /** Validates the context's own settings; returns one line per bad variable (empty when all are valid). */
  checkSettings?(env: Readonly<Record<string, string | undefined>>): string[];
  /**
   * Builds the context's parts over the platform's infrastructure, once per process. It only constructs
   * objects (no I/O: that belongs in start-up hooks), so every process can build every module.
   */
  build(platform: Platform): ContextParts;
}

/**
 * A module's settings check and build, with settings of its own read from environment variables through
 * `schema` (validated at start, naming each bad variable, like the platform's configuration).
 */
export function withSettings<S>(
  schema: z.ZodType<S>,
  build: (platform: Platform, settings: S) => ContextParts,
): Pick<ContextModule, "checkSettings" | "build"> {
  return {
    checkSettings: (env) => {
      const parsed = parseSettings(schema, env);
      return parsed.ok ? [] : parsed.problems;
    },
    build: (platform) => {
      const parsed = parseSettings(schema, platform.env);
      if (!parsed.ok) throw new Error(`invalid settings:\n${parsed.problems.join("\n")}`);
      return build(platform, parsed.value);
    },
  };
}

/** A topic a context owns, by its base name (`interaction-events`). */
export interface ModuleTopic {
  readonly name: string;
  /** Default: TOPIC_PARTITIONS. */
  readonly partitions?: number;
  /** Topic configs (e.g. `cleanup.policy`); retention comes from TOPIC_RETENTION_HOURS unless set here. */
  readonly configs?: Readonly<Record<string, string>>;
}

/** What the platform hands a context. */
export interface Platform {
  readonly db: SqlDatabase;
  /** The Redis client, or undefined in the embedded mode (use the memory adapters then). */
  readonly redis?: Redis;
  /** The outbox settings a unit of work's writer needs (NOTIFY channel, buckets, size bound). */
  readonly outbox: OutboxSettings;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The process's Prometheus registry, for the context's own series. */
  readonly metrics: Registry;
  /** The full name of one of the context's topics (with the environment's prefix). */
  topic(name: string): string;
  /** How many hot items a warm-up hook loads (CACHE_WARM_LIMIT). */
  readonly cacheWarmLimit: number;
  /** The environment, for the module's own settings (see `withSettings`). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** The running parts of a context. */
export interface ContextParts {
  /** HTTP routes, each mounted at `path` (`/` for the seed's own paths). */
  readonly routes?: readonly { readonly path: string; readonly app: Hono }[];
  readonly consumers?: readonly ConsumerGroup[];
  readonly jobs?: readonly PeriodicJob[];
  /** Work before the process is ready (cache warm-up); each returns a line for the progress output. */
  readonly onStart?: readonly (() => Promise<string>)[];
  /** Work when the process stops, after the routes, consumers and jobs (closing pools, worker threads). */
  readonly onStop?: readonly (() => Promise<void>)[];
  /** Commands to try, printed by `deno task start` (`{url}` stands for the API's address). */
  readonly examples?: readonly string[];
  /** Readiness checks, reported by `/health/ready` as `<context>.<name>`. */
  readonly checks?: Readonly<Record<string, () => Promise<unknown>>>;
  /**
   * Verifies users' access tokens for every context's routes (the user center supplies it; one module at
   * most). Without one, only the operator token authenticates.
   */
  readonly verifyToken?: TokenVerifier;
  /** Operator commands, run by `deno run -A bin/command.ts <context> <command> [args]`. */
  readonly commands?: Readonly<Record<string, ModuleCommand>>;
  /** Why the API must not start in this configuration (e.g. no signing secret); relays and workers may. */
  readonly apiRefusals?: readonly string[];
}

/** A command of a context for operators (creating the first administrator, ...). */
export interface ModuleCommand {
  /** One line for the command list. */
  readonly summary: string;
  /** Usage line shown with `--help` and on a usage error. */
  readonly usage: string;
  /** Runs with the arguments after the command's name; returns the lines to print. Throws a UsageError on bad arguments. */
  run(args: readonly string[], io: CommandIo): Promise<readonly string[]>;
}

/** What a command may read besides its arguments. */
export interface CommandIo {
  /** Standard input as text, when it is not a terminal (undefined for a terminal). */
  readStdin(): Promise<string | undefined>;
}

/** A command's arguments do not fit its usage. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Work a worker runs every `everyMs`, one worker at a time (under the distributed lock `job:<name>`). */
export interface PeriodicJob {
  readonly name: string;
  readonly everyMs: number;
  /** Delay of the first run after start (default: `everyMs`). */
  readonly firstAfterMs?: number;
  /** Runs once; returns a summary to log, or nothing when there was nothing to do. */
  run(): Promise<Readonly<Record<string, unknown>> | void>;
}

/** What the platform fills in for a consumer group: names with prefix, transport, policies, observers. */
export interface ConsumerRuntime {
  readonly group: string;
  readonly topics: readonly string[];
  readonly subscriber: Subscriber;
  readonly deadLetters: Publisher;
  readonly retry: RetryPolicy;
  readonly batch: {
    readonly maxSize: number;
    readonly flushEveryMs: number;
    readonly flushOnDelivery: boolean;
  };
  readonly isInfrastructure: (error: unknown) => boolean;
  readonly logger: Logger;
  readonly observer: ConsumerObserver;
  /** How long a stop waits for the work in flight. */
  readonly stopTimeoutMs: number;
}

/** A consumer group ready for the platform to start. */
export interface ConsumerGroup {
  /** Base name (`like-persistence-group`); the platform adds the environment's prefix. */
  readonly name: string;
  /** Base names of the topics it reads. */
  readonly topics: readonly string[];
  /** Starts one member with what the platform fills in. */
  start(runtime: ConsumerRuntime): Promise<RunningConsumer>;
}

/** What every consumer group declares. */
interface GroupDeclaration {
  readonly name: string;
  readonly topics: readonly string[];
  /** Apply events in batches (the BatchProcessor; sizes from BATCH_SIZE / BATCH_FLUSH_MS) or one by one. */
  readonly batched: boolean;
}

/**
 * How a context declares a consumer group: effects by event type (events of other types are skipped and
 * counted, never dead-lettered), with the inbox in a unit of work, in a unit of work without inbox, or — for
 * an effect outside the database such as a live push — with neither (its handlers get no transaction, and must
 * tolerate a redelivery).
 */
export type ConsumerGroupSpec<Tx> =
  | GroupDeclaration & {
    readonly inbox: true;
    readonly unitOfWork: UnitOfWork<Tx & InboxTx>;
    readonly handlers: Readonly<Record<string, BatchHandler<Tx>>>;
  }
  | GroupDeclaration & {
    readonly inbox: false;
    readonly unitOfWork: UnitOfWork<Tx>;
    readonly handlers: Readonly<Record<string, BatchHandler<Tx>>>;
  }
  | GroupDeclaration & {
    readonly inbox: false;
    readonly unitOfWork?: undefined;
    readonly handlers: Readonly<Record<string, BatchHandler<undefined>>>;
  };

/** Declares a consumer group; retries, dead letters, error policy and metrics come from the platform. */
export function consumerGroup<Tx>(spec: ConsumerGroupSpec<Tx>): ConsumerGroup {
  return {
    name: spec.name,
    topics: spec.topics,
    start: (runtime) => {
      const settings = { ...runtime, batch: spec.batched ? runtime.batch : undefined };
      if (spec.inbox) {
        return startConsumer<Tx>({
          ...settings,
          inbox: true,
          unitOfWork: spec.unitOfWork,
          handlers: spec.handlers,
        });
      }
      if (spec.unitOfWork) return startConsumer<Tx>(transactional(settings, spec.unitOfWork, spec.handlers));
      const direct: DirectConsumerOptions = { ...settings, inbox: false, handlers: spec.handlers };
      return startConsumer(direct);
    },
  };
}

/** Options of a group with a unit of work and no inbox (`Tx` is generic here, so the union cannot narrow). */
function transactional<Tx>(
  settings: Omit<TransactionalConsumerOptions<Tx>, "inbox" | "handlers" | "unitOfWork">,
  unitOfWork: UnitOfWork<Tx>,
  handlers: Readonly<Record<string, BatchHandler<Tx>>>,
): ConsumerOptions<Tx> {
  const options: TransactionalConsumerOptions<Tx> = { ...settings, inbox: false, unitOfWork, handlers };
  return options as ConsumerOptions<Tx>;
}
