/** The HTTP API: routes per context, request ids, problem bodies, health. */
import { Hono } from "hono";
import { requestId } from "hono/request-id";
import type { Logger } from "../../application/ports.ts";
import { problem, problemResponse } from "./problem.ts";
import { likeRoutes, type LikeRoutesDeps } from "./like_routes.ts";
import type { Metrics } from "../metrics/prometheus.ts";

/** A dependency the readiness check probes. */
export type ReadinessCheck = () => Promise<unknown>;

/** What the API needs. */
export interface AppDeps {
  readonly likes: LikeRoutesDeps;
  readonly logger: Logger;
  readonly checks?: Readonly<Record<string, ReadinessCheck>>;
  readonly metrics?: Metrics;
}

/** Runs readiness checks; each reports status and latency. */
export async function readiness(checks: Readonly<Record<string, ReadinessCheck>>) {
  const results = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      const started = performance.now();
      try {
        await Promise.race([
          check(),
          new Promise((_, reject) => setTimeout(() => reject(new Error("timed out after 3 s")), 3000)),
        ]);
        return [name, { status: "up", latencyMs: Math.round(performance.now() - started) }] as const;
      } catch (error) {
        return [name, {
          status: "down",
          latencyMs: Math.round(performance.now() - started),
          error: String(error),
        }] as const;
      }
    }),
  );
  const ready = results.every(([, result]) => result.status === "up");
  return { ready, body: { status: ready ? "ready" : "not ready", checks: Object.fromEntries(results) } };
}

/** Builds the Hono application. */
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
        requestId: c.get("requestId" as never),
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round(performance.now() - started),
      });
    });
  }
  app.onError((error, c) =>
    problemResponse(error, c, (unexpected) =>
      deps.logger.error("request failed", {
        requestId: c.get("requestId" as never),
        path: c.req.path,
        error: unexpected instanceof Error ? unexpected.stack : String(unexpected),
      }))
  );
  app.notFound((c) => problemResponse(catchProblem(404, c.req.path), c, () => {}));

  app.route("/", opsRoutes(deps));
  app.route("/", likeRoutes(deps.likes));
  return app;
}

/** `/health`, `/health/ready` and `/metrics`: every process serves them (the API on its port, others on METRICS_PORT). */
export function opsRoutes(deps: Pick<AppDeps, "checks" | "metrics">): Hono {
  const app = new Hono();
  app.get("/health", (c) => c.json({ status: "ok" }));
  app.get("/health/ready", async (c) => {
    const { ready, body } = await readiness(deps.checks ?? {});
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

function catchProblem(status: 404, path: string): unknown {
  try {
    problem(status, "not-found", "not found", `no route for ${path}`);
  } catch (error) {
    return error;
  }
}
