/**
 * OpenTelemetry traces over OTLP/HTTP (JSON), for `--otlp-endpoint`. The SDK is imported here
 * dynamically, when the server starts with an endpoint; without one nothing of OpenTelemetry is
 * loaded (request-tracer.ts says how the request path skips tracing).
 *
 * A request is one SERVER span named as the GenAI semantic conventions name inference spans
 * (`{gen_ai.operation.name} {gen_ai.request.model}`: "chat gpt-oss-20b", "text_completion ..."),
 * with their `gen_ai.*` attributes where they fit and v4.5.1's tags (model, profile, engine,
 * gpu_mode), and three children: `queue` (waiting for a slot), `prefill` (slot to first token),
 * `decode` (first token to the end). A client's W3C `traceparent` is the parent; its sampled flag
 * is honoured (the SDK's default sampler is parent-based). Spans are batched and exported in the
 * background; shutdown() sends what is left.
 *
 * The provider is ours alone: nothing is registered globally, so the server's traces never mix
 * with an embedding application's.
 */
import type { Attributes, Context, HrTime, Span } from "@opentelemetry/api";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { Logger } from "pino";
import type { RequestRecord } from "../metrics/request-record.ts";
import { parseTraceparent, type FinishedRequest, type RequestTracer } from "./request-tracer.ts";

export interface OtlpTracerOptions {
  /** The collector's base URL (`/v1/traces` is added) or its full traces URL. */
  endpoint: string;
  logger: Logger;
  /** A served model's GPU mode (v4.5.1's gpu_mode tag). */
  gpuModeOf: (modelId: string) => string | undefined;
  /** Between two exports at most (default 2000 ms). */
  exportDelayMs?: number;
  /** How long shutdown() waits for the last export (default 5000 ms). */
  shutdownTimeoutMs?: number;
}

/** OTLP/HTTP's traces path (the OTLP exporter spec: a base endpoint gets `v1/traces` appended). */
export function otlpTracesUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (!url.pathname.endsWith("/v1/traces")) url.pathname = `${url.pathname.replace(/\/+$/, "")}/v1/traces`;
  return url.toString();
}

/** A warning at most this often when exports fail (a collector down must not flood the log). */
const EXPORT_WARNING_EVERY_MS = 60_000;

export async function createOtlpTracer(options: OtlpTracerOptions): Promise<RequestTracer> {
  const [api, sdk, otlp, resources, semconv] = await Promise.all([
    import("@opentelemetry/api"),
    import("@opentelemetry/sdk-trace-base"),
    import("@opentelemetry/exporter-trace-otlp-http"),
    import("@opentelemetry/resources"),
    import("@opentelemetry/semantic-conventions"),
  ]);
  const url = otlpTracesUrl(options.endpoint);
  const exporter = warnOnFailure(
    new otlp.OTLPTraceExporter({ url, timeoutMillis: 10_000 }),
    options.logger,
    url,
  );
  const provider = new sdk.BasicTracerProvider({
    resource: resources.resourceFromAttributes({ [semconv.ATTR_SERVICE_NAME]: "gpt-oss-server" }),
    spanProcessors: [
      new sdk.BatchSpanProcessor(exporter, {
        scheduledDelayMillis: options.exportDelayMs ?? 2000,
        maxQueueSize: 8192,
        maxExportBatchSize: 512,
      }),
    ],
  });
  const tracer = provider.getTracer("gpt-oss-server");
  const ERROR = api.SpanStatusCode.ERROR;
  let warnedThrow = false;

  const parentContext = (f: FinishedRequest): Context => {
    const parent = parseTraceparent(f.traceparent);
    if (parent === undefined) return api.ROOT_CONTEXT;
    return api.trace.setSpanContext(api.ROOT_CONTEXT, {
      ...parent,
      isRemote: true,
      ...(f.tracestate !== undefined ? { traceState: api.createTraceState(f.tracestate) } : {}),
    });
  };

  const child = (
    name: string,
    parent: Context,
    start: number,
    end: number,
    attributes: Attributes,
    error?: string,
  ): void => {
    const span = tracer.startSpan(name, { startTime: hrTime(start), attributes }, parent);
    if (error !== undefined) span.setStatus({ code: ERROR, message: error });
    span.end(hrTime(end));
  };

  const record = (f: FinishedRequest): void => {
    const { record: r, timeline: t } = f;
    const operation = r.route?.endsWith("/v1/completions") === true ? "text_completion" : "chat";
    const served = r.model !== "unknown";
    const span: Span = tracer.startSpan(
      served ? `${operation} ${r.model}` : operation,
      {
        kind: api.SpanKind.SERVER,
        startTime: hrTime(t.startedAt),
        attributes: requestAttributes(r, operation, served ? options.gpuModeOf(r.model) : undefined, f),
      },
      parentContext(f),
    );
    if (r.outcome === "failed") span.setStatus({ code: ERROR, message: r.errorMessage ?? r.errorCode ?? "" });
    const ctx = api.trace.setSpan(api.ROOT_CONTEXT, span);
    if (t.queuedAt !== undefined) {
      const timedOut = t.admittedAt === undefined && r.errorCode === "request_timeout";
      child(
        "queue",
        ctx,
        t.queuedAt,
        t.admittedAt ?? t.endedAt,
        { profile: r.profile },
        timedOut ? r.errorMessage : undefined,
      );
    }
    if (t.admittedAt !== undefined) {
      child("prefill", ctx, t.admittedAt, t.firstTokenAt ?? t.endedAt, {
        [GEN_AI_INPUT_TOKENS]: r.promptTokens,
        [GEN_AI_CACHE_READ_TOKENS]: r.cachedTokens,
      });
    }
    if (t.firstTokenAt !== undefined) {
      child("decode", ctx, t.firstTokenAt, t.endedAt, { [GEN_AI_OUTPUT_TOKENS]: r.completionTokens });
    }
    span.end(hrTime(t.endedAt));
  };

  return {
    requestFinished(f) {
      try {
        record(f);
      } catch (error) {
        // A tracing fault must never fail a request; say so once.
        if (!warnedThrow) options.logger.warn({ err: error }, "tracing: could not record a request's span");
        warnedThrow = true;
      }
    },
    async shutdown() {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, options.shutdownTimeoutMs ?? 5000);
      });
      await Promise.race([provider.shutdown().catch(() => undefined), late]);
      clearTimeout(timer);
    },
  };
}

/**
 * A performance.now() moment as OpenTelemetry's [seconds, nanoseconds] since the epoch. Given plain
 * milliseconds, the SDK corrects each span by its own Date.now() reading, so a child could start a
 * fraction of a millisecond before the moment its sibling ended; one conversion for all keeps the
 * spans of a request exactly in order.
 */
function hrTime(performanceMs: number): HrTime {
  // Epoch milliseconds in a double: a quarter of a microsecond's precision, and monotonic.
  const epochMs = performance.timeOrigin + performanceMs;
  const seconds = Math.floor(epochMs / 1000);
  const nanos = Math.round((epochMs - seconds * 1000) * 1e6);
  return nanos >= 1e9 ? [seconds + 1, nanos - 1e9] : [seconds, nanos];
}

// GenAI semantic conventions (incubating: their constants are copied, as the package advises).
const GEN_AI_OPERATION = "gen_ai.operation.name";
const GEN_AI_REQUEST_MODEL = "gen_ai.request.model";
const GEN_AI_RESPONSE_MODEL = "gen_ai.response.model";
const GEN_AI_REQUEST_STREAM = "gen_ai.request.stream";
const GEN_AI_INPUT_TOKENS = "gen_ai.usage.input_tokens";
const GEN_AI_CACHE_READ_TOKENS = "gen_ai.usage.cache_read.input_tokens";
const GEN_AI_OUTPUT_TOKENS = "gen_ai.usage.output_tokens";
const GEN_AI_REASONING_TOKENS = "gen_ai.usage.reasoning.output_tokens";
const GEN_AI_FINISH_REASONS = "gen_ai.response.finish_reasons";

function requestAttributes(
  r: RequestRecord,
  operation: string,
  gpuMode: string | undefined,
  f: FinishedRequest,
): Attributes {
  const [method, route] = (r.route ?? "").split(" ", 2);
  const attributes: Attributes = {
    [GEN_AI_OPERATION]: operation,
    [GEN_AI_REQUEST_MODEL]: r.model,
    [GEN_AI_RESPONSE_MODEL]: r.model,
    [GEN_AI_REQUEST_STREAM]: r.stream,
    [GEN_AI_INPUT_TOKENS]: r.promptTokens,
    [GEN_AI_CACHE_READ_TOKENS]: r.cachedTokens,
    [GEN_AI_OUTPUT_TOKENS]: r.completionTokens,
    [GEN_AI_REASONING_TOKENS]: r.reasoningTokens,
    // v4.5.1's tags, as its metrics named them.
    model: r.model,
    profile: r.profile,
    engine: r.engine,
    request_id: r.requestId,
    outcome: r.outcome,
  };
  if (gpuMode !== undefined) attributes.gpu_mode = gpuMode;
  if (f.finishReason !== undefined) attributes[GEN_AI_FINISH_REASONS] = [f.finishReason];
  if (r.clientRequestId !== undefined) attributes.client_request_id = r.clientRequestId;
  if (method !== undefined && method !== "") attributes["http.request.method"] = method;
  if (route !== undefined) attributes["http.route"] = route;
  if (r.status !== undefined) attributes["http.response.status_code"] = r.status;
  if (r.errorCode !== undefined) attributes["error.type"] = r.errorCode;
  if (r.ttftMs !== undefined) attributes.ttft_ms = Math.round(r.ttftMs * 1000) / 1000;
  if (r.queueMs !== undefined) attributes.queue_ms = Math.round(r.queueMs * 1000) / 1000;
  return attributes;
}

/** The exporter, with a warning (at most one a minute) when an export fails. */
function warnOnFailure(exporter: SpanExporter, logger: Logger, url: string): SpanExporter {
  let lastWarning = -Infinity;
  return {
    export(spans, done) {
      exporter.export(spans, (result) => {
        // ExportResultCode.SUCCESS is 0.
        if (Number(result.code) !== 0 && Date.now() - lastWarning >= EXPORT_WARNING_EVERY_MS) {
          lastWarning = Date.now();
          logger.warn(
            { otlp_endpoint: url, spans: spans.length, err: result.error },
            "tracing: could not export spans to the OTLP collector",
          );
        }
        done(result);
      });
    },
    shutdown: () => exporter.shutdown(),
    ...(exporter.forceFlush !== undefined ? { forceFlush: () => exporter.forceFlush!() } : {}),
  };
}
