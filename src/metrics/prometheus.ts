/**
 * Prometheus metrics for GET /metrics, on a Registry of our own per server instance (never
 * prom-client's global one) so tests can build many servers in one process.
 *
 * Every request series carries the v4.5.1 tags (model_size, gpu_mode, engine, profile, model_id) so
 * the seed's "metrics tagging" holds in Prometheus too; v4.5.1's per-model tags (tp, pp,
 * max_model_len) ride on the gptoss_model_info series (value 1, Prometheus's info idiom: join on
 * model_id), since they are known only once the model has loaded. Latency histograms observe what /stats's
 * percentiles do: TTFT for every request that produced a first token, e2e for successful requests
 * only (see stats-collector.ts for why).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { RequestRecord } from "./request-record.ts";
import type { ResponseCacheStats } from "./stats-types.ts";

/** Seconds; LLM latencies run from tens of milliseconds (TTFT, cached prefix) to minutes (long answers). */
export const LATENCY_BUCKETS_SECONDS = [
  0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120,
] as const;

export type CancelReason = "client_disconnect" | "cancel_endpoint" | "timeout" | "shutdown";

export interface ServerMetricsLabels {
  /** "20b" | "120b" | "tiny" | "file". */
  model_size: string;
  gpu_mode: string;
}

export interface ServerMetrics {
  readonly registry: Registry;
  /** Content-Type header for render()'s output. */
  readonly contentType: string;
  observeRequest(record: RequestRecord): void;
  setQueue(active: number, queued: number): void;
  /** Streaming responses open now (v4.5.1's active-streams gauge). */
  setActiveStreams(count: number): void;
  /** The served models' tags, one gptoss_model_info series each. */
  setModels(models: readonly ModelInfoLabels[]): void;
  /** Each engine worker's restarts and last exit (from the engines' health), at scrape time. */
  setEngineWorkers(workers: readonly EngineWorkerReport[]): void;
  /** Each upstream of a gateway (--engine upstream) as health() reports it, at scrape time. */
  setUpstreams(upstreams: readonly UpstreamReport[]): void;
  /** The response cache's counts and size (its own totals since start), at scrape time. */
  setResponseCache(stats: ResponseCacheStats): void;
  parseError(model: string): void;
  /** An SLO alert started (true) or ended (false): gptoss_slo_alert_firing{slo}. */
  setSloAlert(slo: string, firing: boolean): void;
  /** What became of an alert posted to --alert-webhook. */
  alertWebhook(outcome: "delivered" | "failed" | "dropped"): void;
  cancelled(reason: CancelReason): void;
  render(): Promise<string>;
}

/** v4.5.1's model tags; label values are strings. */
export interface ModelInfoLabels {
  model_id: string;
  /** This model's size; absent: the server's static model_size label. */
  model_size?: string;
  engine: string;
  gpu_mode: string;
  tp: string;
  pp: string;
  max_model_len: string;
}

/** One engine worker process as health() reports it: which model and replica, its history. */
export interface EngineWorkerReport {
  model_id: string;
  /** The replica's index ("0" for a model with one worker). */
  replica: string;
  /** Restarts since start (a count that only grows). */
  restarts: number;
  lastExit?: { reason: string; code: number | null; signal: string | null };
}

/** One upstream server of a gateway as health() reports it: its counts since start. */
export interface UpstreamReport {
  model_id: string;
  upstream: string;
  dialect: string;
  up: boolean;
  inFlight: number;
  requests: number;
  failures: number;
  rateLimited: number;
}

export interface ServerMetricsOptions {
  /** The size of the model that served a request (several models); unknown: the static label. */
  modelSize?: (modelId: string) => string | undefined;
}

/** Prometheus label values stay readable; a last exit's reason may quote a long engine message. */
const MAX_REASON_LABEL = 160;

interface BoundCounter {
  inc(value?: number): void;
}
interface BoundHistogram {
  observe(value: number): void;
}

/** The bound series of one (model, engine, profile). */
interface RouteSeries {
  requestLabels: ServerMetricsLabels & { model: string; model_id: string; engine: string; profile: string };
  /** "status\0outcome" → counter child. */
  requests: Map<string, BoundCounter>;
  ttft: BoundHistogram;
  e2e: BoundHistogram;
  queue: BoundHistogram;
  prompt: BoundCounter;
  cached: BoundCounter;
  completion: BoundCounter;
  reasoning: BoundCounter;
}

export function createServerMetrics(
  staticLabels: ServerMetricsLabels,
  options: ServerMetricsOptions = {},
): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: "gptoss_requests_total",
    help: "Finished requests, by model, engine, profile, HTTP status and outcome.",
    labelNames: [
      "model",
      "model_id",
      "model_size",
      "gpu_mode",
      "engine",
      "profile",
      "status",
      "outcome",
    ] as const,
    registers: [registry],
  });
  const e2e = new Histogram({
    name: "gptoss_request_duration_seconds",
    help: "End-to-end duration of successful requests, arrival to last byte.",
    labelNames: ["model", "engine", "profile"] as const,
    buckets: [...LATENCY_BUCKETS_SECONDS],
    registers: [registry],
  });
  const ttft = new Histogram({
    name: "gptoss_time_to_first_token_seconds",
    help: "Time from arrival to the first generated token, streaming or not.",
    labelNames: ["model", "engine", "profile"] as const,
    buckets: [...LATENCY_BUCKETS_SECONDS],
    registers: [registry],
  });
  const queueWait = new Histogram({
    name: "gptoss_queue_wait_seconds",
    help: "Time a request waited in the scheduler's queue for a slot (admitted, or timed out there).",
    labelNames: ["model", "engine", "profile"] as const,
    buckets: [0.001, 0.005, ...LATENCY_BUCKETS_SECONDS],
    registers: [registry],
  });
  const tokens = new Counter({
    name: "gptoss_tokens_total",
    help: "Tokens processed: prompt, cached (prompt tokens reused from the prefix cache), completion, reasoning.",
    labelNames: ["model", "profile", "kind"] as const,
    registers: [registry],
  });
  const active = new Gauge({
    name: "gptoss_active_requests",
    help: "Requests being generated now.",
    registers: [registry],
  });
  const queue = new Gauge({
    name: "gptoss_queue_length",
    help: "Requests waiting in the scheduler queue.",
    registers: [registry],
  });
  const activeStreams = new Gauge({
    name: "gptoss_active_streams",
    help: "Streaming (SSE) responses open now.",
    registers: [registry],
  });
  const modelInfo = new Gauge({
    name: "gptoss_model_info",
    help: "One series per served model (value 1) with v4.5.1's tags: model_id, engine, gpu_mode, tp, pp, max_model_len.",
    labelNames: ["model_id", "model_size", "engine", "gpu_mode", "tp", "pp", "max_model_len"] as const,
    registers: [registry],
  });
  const parseErrors = new Counter({
    name: "gptoss_harmony_parse_errors_total",
    help: "Model outputs the harmony parser could not parse (served as plain content).",
    labelNames: ["model"] as const,
    registers: [registry],
  });
  const workerRestarts = new Counter({
    name: "gptoss_engine_worker_restarts_total",
    help: "Restarts of an engine worker process (it exited, missed heartbeats, failed requests in a row, or its engine reported failure), by model and replica.",
    labelNames: ["model_id", "replica"] as const,
    registers: [registry],
  });
  const workerLastExit = new Gauge({
    name: "gptoss_engine_worker_last_exit_info",
    help: "An engine worker's last exit (value 1): why it was restarted, its exit code or signal. /health has its stderr tail.",
    labelNames: ["model_id", "replica", "reason", "code", "signal"] as const,
    registers: [registry],
  });
  /** Restart counts already added to the counter, by "model\0replica". */
  const restartsSeen = new Map<string, number>();
  const upstreamLabels = ["model_id", "upstream"] as const;
  const upstreamUp = new Gauge({
    name: "gptoss_upstream_up",
    help: "A gateway's upstream (--engine upstream): 1 while the router sends it requests, 0 while its circuit is open or it failed.",
    labelNames: ["model_id", "upstream", "dialect"] as const,
    registers: [registry],
  });
  const upstreamInFlight = new Gauge({
    name: "gptoss_upstream_requests_in_flight",
    help: "Requests a gateway has in flight at each upstream.",
    labelNames: upstreamLabels,
    registers: [registry],
  });
  const upstreamCounts = {
    requests: new Counter({
      name: "gptoss_upstream_requests_total",
      help: "Requests a gateway sent to each upstream (a failed-over request counts at each upstream it was sent to).",
      labelNames: upstreamLabels,
      registers: [registry],
    }),
    failures: new Counter({
      name: "gptoss_upstream_failures_total",
      help: "Requests and health probes an upstream failed (refused, timed out, 5xx, broke mid-stream).",
      labelNames: upstreamLabels,
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: "gptoss_upstream_rate_limited_total",
      help: "Requests an upstream answered 429 (back-pressure: sent to another upstream, not a failure).",
      labelNames: upstreamLabels,
      registers: [registry],
    }),
  };
  /** Counts already added to the upstream counters, by "counter\0model\0upstream". */
  const upstreamSeen = new Map<string, number>();
  const sloAlertFiring = new Gauge({
    name: "gptoss_slo_alert_firing",
    help: "1 while an SLO alert fires (error_rate, p95_ttft, p95_e2e, p95_queue over the alert window), else 0.",
    labelNames: ["slo"] as const,
    registers: [registry],
  });
  const alertWebhookPosts = new Counter({
    name: "gptoss_alert_webhook_total",
    help: "Alerts for --alert-webhook: delivered, failed (every retry failed) or dropped (queue full, oldest first).",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const cacheHits = new Counter({
    name: "gptoss_response_cache_hits_total",
    help: "Requests answered from the response cache (--response-cache), without the engine.",
    registers: [registry],
  });
  const cacheMisses = new Counter({
    name: "gptoss_response_cache_misses_total",
    help: "Response cache lookups that found nothing (the answer was generated).",
    registers: [registry],
  });
  const cacheEntries = new Gauge({
    name: "gptoss_response_cache_entries",
    help: "Answers held by the response cache.",
    registers: [registry],
  });
  const cacheBytes = new Gauge({
    name: "gptoss_response_cache_bytes",
    help: "The response cache's counted size (JSON length of its answers' events), against --response-cache-bytes.",
    registers: [registry],
  });
  /** The cache's totals already added to the two counters. */
  const cacheSeen = { hits: 0, misses: 0 };
  const cancellations = new Counter({
    name: "gptoss_cancellations_total",
    help: "Requests cancelled, by reason.",
    labelNames: ["reason"] as const,
    registers: [registry],
  });

  // observeRequest runs on every request. prom-client builds, validates and hashes a label object
  // per call; bound children (labels()) skip part of that: measured 9 → 5 µs per request. The
  // label combinations are few (models × engines × profiles × statuses), so the cache stays small.
  const seriesByRoute = new Map<string, RouteSeries>();
  const routeSeries = (record: RequestRecord): RouteSeries => {
    const key = `${record.model}\u0000${record.engine}\u0000${record.profile}`;
    let series = seriesByRoute.get(key);
    if (series === undefined) {
      const latencyLabels = { model: record.model, engine: record.engine, profile: record.profile };
      const tokenLabels = { model: record.model, profile: record.profile };
      series = {
        requestLabels: {
          ...staticLabels,
          model_size: options.modelSize?.(record.model) ?? staticLabels.model_size,
          engine: record.engine,
          model: record.model,
          // v4.5.1's name for the model tag, beside ours.
          model_id: record.model,
          profile: record.profile,
        },
        requests: new Map(),
        ttft: ttft.labels(latencyLabels),
        e2e: e2e.labels(latencyLabels),
        queue: queueWait.labels(latencyLabels),
        prompt: tokens.labels({ ...tokenLabels, kind: "prompt" }),
        cached: tokens.labels({ ...tokenLabels, kind: "cached" }),
        completion: tokens.labels({ ...tokenLabels, kind: "completion" }),
        reasoning: tokens.labels({ ...tokenLabels, kind: "reasoning" }),
      };
      seriesByRoute.set(key, series);
    }
    return series;
  };

  return {
    registry,
    contentType: registry.contentType,
    observeRequest(record) {
      const series = routeSeries(record);
      const status = statusLabel(record);
      const requestKey = `${status}\u0000${record.outcome}`;
      let requestCounter = series.requests.get(requestKey);
      if (requestCounter === undefined) {
        requestCounter = requests.labels({ ...series.requestLabels, status, outcome: record.outcome });
        series.requests.set(requestKey, requestCounter);
      }
      requestCounter.inc();
      if (record.ttftMs !== undefined) series.ttft.observe(record.ttftMs / 1000);
      if (record.outcome === "success") series.e2e.observe(record.e2eMs / 1000);
      if (record.queueMs !== undefined) series.queue.observe(record.queueMs / 1000);
      // A cached answer's tokens were counted when it was generated (request-record.ts).
      if (record.outcome === "rejected" || record.responseCache === "hit") return;
      series.prompt.inc(nonNegative(record.promptTokens));
      series.cached.inc(nonNegative(record.cachedTokens));
      series.completion.inc(nonNegative(record.completionTokens));
      series.reasoning.inc(nonNegative(record.reasoningTokens));
    },
    setQueue(activeCount, queued) {
      active.set(activeCount);
      queue.set(queued);
    },
    setActiveStreams(count) {
      activeStreams.set(count);
    },
    setModels(models) {
      modelInfo.reset();
      for (const m of models) modelInfo.set({ model_size: staticLabels.model_size, ...m }, 1);
    },
    setEngineWorkers(workers) {
      workerLastExit.reset();
      for (const w of workers) {
        const labels = { model_id: w.model_id, replica: w.replica };
        const key = `${w.model_id}\u0000${w.replica}`;
        const delta = w.restarts - (restartsSeen.get(key) ?? 0);
        if (delta > 0 || !restartsSeen.has(key)) workerRestarts.inc(labels, Math.max(0, delta));
        restartsSeen.set(key, Math.max(w.restarts, restartsSeen.get(key) ?? 0));
        if (w.lastExit === undefined) continue;
        workerLastExit.set(
          {
            ...labels,
            reason: w.lastExit.reason.slice(0, MAX_REASON_LABEL),
            code: w.lastExit.code === null ? "" : String(w.lastExit.code),
            signal: w.lastExit.signal ?? "",
          },
          1,
        );
      }
    },
    setUpstreams(upstreams) {
      upstreamUp.reset();
      upstreamInFlight.reset();
      for (const u of upstreams) {
        const labels = { model_id: u.model_id, upstream: u.upstream };
        upstreamUp.set({ ...labels, dialect: u.dialect }, u.up ? 1 : 0);
        upstreamInFlight.set(labels, u.inFlight);
        for (const [name, counter] of Object.entries(upstreamCounts)) {
          // The upstream engine keeps totals since start; the counter gets what it has not seen yet.
          const key = `${name}\u0000${u.model_id}\u0000${u.upstream}`;
          const total = u[name as keyof typeof upstreamCounts];
          const delta = total - (upstreamSeen.get(key) ?? 0);
          counter.inc(labels, Math.max(0, delta));
          upstreamSeen.set(key, Math.max(total, upstreamSeen.get(key) ?? 0));
        }
      }
    },
    setSloAlert(slo, firing) {
      sloAlertFiring.set({ slo }, firing ? 1 : 0);
    },
    alertWebhook(outcome) {
      alertWebhookPosts.inc({ outcome });
    },
    setResponseCache(stats) {
      // The cache keeps totals since start; the counters get what they have not seen yet.
      cacheHits.inc(Math.max(0, stats.hits - cacheSeen.hits));
      cacheMisses.inc(Math.max(0, stats.misses - cacheSeen.misses));
      cacheSeen.hits = Math.max(cacheSeen.hits, stats.hits);
      cacheSeen.misses = Math.max(cacheSeen.misses, stats.misses);
      cacheEntries.set(stats.entries);
      cacheBytes.set(stats.bytes);
    },
    parseError(model) {
      parseErrors.inc({ model });
    },
    cancelled(reason) {
      cancellations.inc({ reason });
    },
    render() {
      return registry.metrics();
    },
  };
}

/** The HTTP status sent; a success without one was a 200. Unknown otherwise rather than a guess. */
function statusLabel(record: RequestRecord): string {
  if (record.status !== undefined) return String(record.status);
  return record.outcome === "success" ? "200" : "unknown";
}

/** prom-client throws on a negative increment; a bad count must not fail the request. */
function nonNegative(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}
