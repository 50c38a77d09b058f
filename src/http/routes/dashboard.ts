/**
 * `GET /dashboard`: a live page of the server's throughput, latency, load, health and errors; its
 * scripts and styles (dashboard-assets.ts); and `GET /dashboard/data?since=<ms>`, the samples the
 * page polls for every second. Polling, not SSE: EventSource cannot send an Authorization header,
 * so SSE would put the API key in the URL (and in every proxy's log); a 1 s poll through any proxy
 * costs one small request.
 *
 * The history (metrics/stats-history.ts) samples once a second from the moment the app is ready
 * until it closes.
 */
import type { FastifyInstance } from "fastify";
import { ServerError } from "../../errors/server-error.ts";
import { StatsHistory } from "../../metrics/stats-history.ts";
import { dashboardData } from "../../serving/dashboard-data.ts";
import { loadGauges } from "../../serving/dashboard-gauges.ts";
import type { RouteDeps } from "../app.ts";
import { DASHBOARD_ASSETS, DASHBOARD_CSP, readAsset } from "../dashboard-assets.ts";

/** A sample failing every second must not write a log line every second. */
const SAMPLE_ERROR_LOG_EVERY_MS = 60_000;

export function registerDashboardRoutes(app: FastifyInstance, deps: RouteDeps): void {
  let lastLoggedAt = -Infinity;
  const history = new StatsHistory({
    stats: deps.stats,
    gauges: () => loadGauges(deps.pool),
    onError: (err) => {
      if (Date.now() - lastLoggedAt < SAMPLE_ERROR_LOG_EVERY_MS) return;
      lastLoggedAt = Date.now();
      deps.logger.warn({ err }, "the dashboard's history could not take a sample");
    },
  });
  app.addHook("onReady", (done) => {
    history.start();
    done();
  });
  app.addHook("onClose", (_app, done) => {
    history.stop();
    done();
  });

  for (const [url, asset] of Object.entries(DASHBOARD_ASSETS)) {
    app.get(url, async (_req, reply) => {
      let bytes: Buffer;
      try {
        bytes = await readAsset(asset);
      } catch (error) {
        throw new ServerError(
          "internal_error",
          `the dashboard's file ${url} is missing from this install (run npm ci): ${String(error)}`,
        );
      }
      return reply
        .headers({
          "content-type": asset.contentType,
          "cache-control": "no-cache",
          "x-content-type-options": "nosniff",
          "content-security-policy": DASHBOARD_CSP,
          "referrer-policy": "no-referrer",
        })
        .send(bytes);
    });
  }

  app.get<{ Querystring: { since?: string } }>("/dashboard/data", (req, reply) => {
    // String(): a repeated `since` arrives as an array, and is refused like any other bad value.
    const raw = String(req.query.since ?? "0");
    const since = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(since) || since < 0) {
      throw new ServerError("invalid_value", `since must be a time in epoch milliseconds, got '${raw}'`, {
        param: "since",
      });
    }
    return reply.header("cache-control", "no-store").send(dashboardData({ ...deps, history }, since));
  });
}
