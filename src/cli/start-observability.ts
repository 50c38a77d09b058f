/**
 * The watching side of `serve`, composed from config: the SLO alert monitor with its webhook, and
 * the start banner's text. Kept apart from serve.ts, the composition root, to keep that readable.
 */
import type { Logger } from "pino";
import { fileURLToPath } from "node:url";
import type { ServerConfig } from "../config/schema.ts";
import type { ServerMetrics } from "../metrics/prometheus.ts";
import type { StatsCollector } from "../metrics/stats-collector.ts";
import { AlertWebhook, webhookOrigin } from "../observability/alert-webhook.ts";
import { startBanner } from "../observability/banner.ts";
import { SloAlertMonitor } from "../observability/slo-alert-monitor.ts";
import type { ModelPool } from "../serving/model-pool.ts";

/** The operations guide, for the banner. */
const DOCS = fileURLToPath(new URL("../../docs/operations.md", import.meta.url));

/** The SLO alert monitor, and the webhook it posts to when --alert-webhook is set. */
export function createSloAlerts(
  config: ServerConfig,
  stats: StatsCollector,
  metrics: ServerMetrics,
  logger: Logger,
  server: { name: string; url: string },
): { alerts: SloAlertMonitor; webhook: AlertWebhook | undefined } {
  const webhook =
    config.alertWebhook !== undefined
      ? new AlertWebhook({
          url: config.alertWebhook,
          key: config.alertWebhookKey,
          logger,
          onOutcome: (outcome) => metrics.alertWebhook(outcome),
        })
      : undefined;
  const alerts = new SloAlertMonitor({
    thresholds: {
      errorRate: config.sloErrorRate,
      p95TtftMs: config.sloP95TtftMs,
      p95E2eMs: config.sloP95E2eMs,
      p95QueueMs: config.sloP95QueueMs,
    },
    windowSeconds: config.alertWindowSeconds,
    intervalMs: config.alertIntervalMs,
    minRequests: config.alertMinRequests,
    figures: (seconds) => stats.sloFigures(seconds),
    logger,
    setFiring: (slo, firing) => metrics.setSloAlert(slo, firing),
    notify: webhook !== undefined ? (payload) => webhook.notify(payload) : undefined,
    server,
  });
  return { alerts, webhook };
}

/** The start banner's text, from what was loaded. */
export function bannerText(
  config: ServerConfig,
  pool: ModelPool,
  url: string,
  logFile: string | undefined,
  colorize: boolean,
): string {
  return startBanner(
    {
      url,
      models: pool.models.map((m) => ({
        id: m.id,
        engine: m.engineType,
        gpuMode: m.engine.info.gpuMode,
        gpuCount: m.engine.info.gpuCount ?? null,
        contextSize: m.engine.info.contextSize,
        sequences: m.engine.info.maxSequences,
        randomWeights: m.engine.info.randomWeights,
      })),
      profile: config.profile,
      apiKeys: config.apiKey.length > 0,
      logFile,
      otlpEndpoint: config.otlpEndpoint,
      alertWebhook: config.alertWebhook !== undefined ? webhookOrigin(config.alertWebhook) : undefined,
      docs: DOCS,
    },
    colorize,
  );
}
