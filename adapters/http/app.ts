/** The HTTP API: request ids, identity, body limits, problem bodies, health, and each context's routes. */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { requestId } from "hono/request-id";
import type { Logger } from "../../application/ports.ts";
import type { Metrics } from "../metrics/prometheus.ts";
import { type Authenticator, identify } from "./identity.ts";
import { problem, problemResponse } from "./problem.ts";

/** A dependency the readiness check probes. */
export type ReadinessCheck = () => Promise<unknown>;

/** Routes mounted at a base path. */
export interface MountedRoutes {
  readonly path: string;
  readonly app: Hono;
}

/** What the API needs. */
export interface AppDeps {
  readonly routes: readonly MountedRoutes[];
  readonly logger: Logger;
  readonly checks?: Readonly<Record<string, ReadinessCheck>>;
  readonly metrics?: Metrics;
  /** Fills the identity slot from the bearer token (default: anonymous, or the operator token only). */
  readonly authenticator?: Authenticator;
  /** Largest request body accepted, in bytes (default 65 536); larger ones get a 413 problem. */
  readonly bodyLimitBytes?: number;
}

/** Runs readiness checks; each reports its status and latency only (errors are logged, not exposed). */
export async function readiness(checks: Readonly<Record<string, ReadinessCheck>>, logger?: Logger) {
  const results = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      const started = performance.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          check(),
          new Promise((_, reject) =>
            timer = setTimeout(() => reject(new Error("timed out after 3 s")), 3000)
          ),
        ]);
        return [name, { status: "up", latencyMs: Math.round(performance.now() - started) }] as const;
      } catch (error) {
        logger?.debug("readiness check failed", { check: name, error: String(error) });
        return [name, { status: "down", latencyMs: Math.round(performance.now() - started) }] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const ready = results.every(([, result]) => result.status === "up");
  return { ready, body: { status: ready ? "ready" : "not ready", checks: Object.fromEntries(results) } };
}

/** Builds the Hono application over the contexts' routes. */
export function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  app.use(requestId({ headerName: "x-request-id" }));
  if (deps.metrics) {
    const metrics = deps.metrics;
    app.use(async (c, next) => {
      const started = performance.now();
      await next();
      // The route pattern, not the path: ids must not explode the label set.
      const route = c.req.routePath === "/*" ? "unmatched" : c.req.routePath;
      metrics.observeRequest(c.req.method, route, c.res.status, (performance.now() - started) / 1000);
      deps.logger.debug("request", {
        requestId: c.get("requestId"),
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round(performance.now() - started),
      });
    });
  }
  app.use(bodyLimit({
    maxSize: deps.bodyLimitBytes ?? 65_536,
    onError: () =>
      problem(
        413,
        "body-too-large",
        "request body too large",
        `bodies are limited to ${deps.bodyLimitBytes ?? 65_536} bytes`,
      ),
  }));
  app.onError((error, c) =>
    problemResponse(error, c, (unexpected) =>
      deps.logger.error("request failed", {
        requestId: c.get("requestId"),
        path: c.req.path,
        error: unexpected instanceof Error ? unexpected.stack : String(unexpected),
      }))
  );
  app.notFound((c) => problemResponse(notFound(c.req.path), c, () => {}));

  // Health and metrics answer before identity is read: a probe sends no credentials.
  app.route("/", opsRoutes(deps));
  app.use(identify(deps.authenticator));
  for (const { path, app: routes } of deps.routes) app.route(path, routes);
  return app;
}

/** `/health`, `/health/ready` and `/metrics`: every process serves them (the API on its port, others on METRICS_PORT). */
export function opsRoutes(deps: Pick<AppDeps, "checks" | "metrics" | "logger">): Hono {
  const app = new Hono();
  app.get("/health", (c) => c.json({ status: "ok" }));
  app.get("/health/ready", async (c) => {
    const { ready, body } = await readiness(deps.checks ?? {}, deps.logger);
    return c.json(body, ready ? 200 : 503);
  });
  if (deps.metrics) {
    const metrics = deps.metrics;
    app.get("/metrics", async (c) => {
      const { body, contentType } = await metrics.text();
      return c.body(body, 200, { "content-type": contentType });
    });
  }
  return app;
}

function notFound(path: string): unknown {
  try {
    problem(404, "not-found", "not found", `no route for ${path}`);
  } catch (error) {
    return error;
  }
}
