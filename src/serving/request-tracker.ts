/**
 * One request's life for the books: start, first token, end. Feeds /stats, Prometheus and the
 * request log from one record, so the three can never disagree.
 */
import type { Logger } from "pino";
import type { RequestOutcome, RequestRecord } from "../metrics/request-record.ts";
import type { StatsCollector } from "../metrics/stats-collector.ts";
import type { ServerMetrics } from "../metrics/prometheus.ts";
import type { ServerError } from "../errors/server-error.ts";
import { logRequestFinished } from "../observability/request-log.ts";
import type { RequestTracer } from "../observability/request-tracer.ts";

export interface TrackerSinks {
  stats: StatsCollector;
  metrics: ServerMetrics;
  logger: Logger;
  /** Present only with --otlp-endpoint: each finished request becomes a span. */
  tracer?: RequestTracer | undefined;
}

export class RequestTracker {
  readonly #sinks: TrackerSinks;
  readonly #startedAt: number;
  readonly requestId: string;
  readonly stream: boolean;
  profile = "unknown";
  model = "unknown";
  engine = "unknown";
  #firstTokenAt: number | undefined;
  #queuedAt: number | undefined;
  #admittedAt: number | undefined;
  #queueMs: number | undefined;
  #started = false;
  #finished = false;
  /** `METHOD /route` and the client's own X-Request-Id, for the log line. */
  route: string | undefined;
  clientRequestId: string | undefined;
  promptTokens = 0;
  cachedTokens = 0;
  completionTokens = 0;
  reasoningTokens = 0;
  /** How the answer ended (stop, length, tool_calls), for the trace. */
  finishReason: string | undefined;
  /** The client's W3C trace context; read only when tracing is on. */
  traceparent: string | undefined;
  tracestate: string | undefined;
  /** The response cache's part in this request; undefined while the cache is off. */
  responseCache: "hit" | "miss" | undefined;

  constructor(sinks: TrackerSinks, requestId: string, stream: boolean, startedAt = performance.now()) {
    this.#sinks = sinks;
    this.requestId = requestId;
    this.stream = stream;
    this.#startedAt = startedAt;
  }

  /** Called once the request is routed: from here it counts as in flight. */
  started(profile: string, model: string, engine: string): void {
    this.profile = profile;
    this.model = model;
    this.engine = engine;
    this.#started = true;
    this.#sinks.stats.requestStarted({
      requestId: this.requestId,
      profile,
      model,
      engine,
      stream: this.stream,
    });
  }

  /** Handed to the scheduler: from here it waits for a slot. */
  queued(): void {
    this.#queuedAt ??= performance.now();
  }

  /** Given a slot after `queuedMs` in the queue (the scheduler's count). */
  admitted(queuedMs: number): void {
    this.#admittedAt ??= performance.now();
    this.#queueMs ??= queuedMs;
  }

  firstToken(): void {
    this.#firstTokenAt ??= performance.now();
  }

  get finished(): boolean {
    return this.#finished;
  }

  succeed(status = 200): void {
    this.#finish("success", status);
  }

  cancel(): void {
    this.#finish("cancelled", 200);
  }

  fail(error: ServerError, streamStarted: boolean): void {
    // A client's mistake (4xx other than capacity/timeouts) is "rejected": it must not hurt health.
    const serverSide = error.status >= 500 || error.status === 429;
    this.#finish(serverSide ? "failed" : "rejected", streamStarted ? 200 : error.status, error);
  }

  #finish(outcome: RequestOutcome, status: number, error?: ServerError): void {
    if (this.#finished) return;
    this.#finished = true;
    const now = performance.now();
    // A queue timeout waited its whole time: that wait is what the queue SLO is about.
    const queueMs =
      this.#queueMs ??
      (this.#queuedAt !== undefined && error?.code === "request_timeout" ? now - this.#queuedAt : undefined);
    const record: RequestRecord = {
      requestId: this.requestId,
      profile: this.profile,
      model: this.model,
      engine: this.engine,
      stream: this.stream,
      outcome,
      status,
      e2eMs: now - this.#startedAt,
      promptTokens: this.promptTokens,
      cachedTokens: this.cachedTokens,
      completionTokens: this.completionTokens,
      reasoningTokens: this.reasoningTokens,
      ...(error !== undefined
        ? { errorCode: error.code, errorMessage: error.message, errorParam: error.param }
        : {}),
      ...(this.route !== undefined ? { route: this.route } : {}),
      ...(this.clientRequestId !== undefined ? { clientRequestId: this.clientRequestId } : {}),
      ...(this.responseCache !== undefined ? { responseCache: this.responseCache } : {}),
      ...(this.#firstTokenAt !== undefined ? { ttftMs: this.#firstTokenAt - this.#startedAt } : {}),
      ...(queueMs !== undefined ? { queueMs } : {}),
    };
    if (!this.#started) this.#sinks.stats.requestStarted(record);
    this.#sinks.stats.requestFinished(record);
    this.#sinks.metrics.observeRequest(record);
    logRequestFinished(this.#sinks.logger, record);
    if (this.#sinks.tracer !== undefined) this.#trace(this.#sinks.tracer, record, now);
  }

  #trace(tracer: RequestTracer, record: RequestRecord, endedAt: number): void {
    tracer.requestFinished({
      record,
      timeline: {
        startedAt: this.#startedAt,
        queuedAt: this.#queuedAt,
        admittedAt: this.#admittedAt,
        firstTokenAt: this.#firstTokenAt,
        endedAt,
      },
      traceparent: this.traceparent,
      tracestate: this.tracestate,
      finishReason: this.finishReason,
    });
  }
}
