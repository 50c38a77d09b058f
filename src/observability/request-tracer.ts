/**
 * What the request path knows of tracing: an interface, and the W3C `traceparent` parser. No
 * OpenTelemetry import here; the SDK is loaded (otlp-tracer.ts, dynamic import) only when
 * `--otlp-endpoint` is set. With tracing off there is no tracer at all, and the request tracker
 * skips it with one `if` (no span objects, no context, no allocation a request).
 *
 * Spans are written when a request finishes, from the moments its tracker recorded (arrival,
 * queued, admitted, first token, end): the request span and its children `queue`, `prefill` and
 * `decode` carry exact start and end times without any span living across the request's awaits.
 */
import type { RequestRecord } from "../metrics/request-record.ts";

/** The moments of one request, in performance.now() milliseconds. */
export interface RequestTimeline {
  startedAt: number;
  /** Handed to the scheduler (waits for a slot from here). */
  queuedAt?: number | undefined;
  /** Given a slot: the engine starts reading the prompt. */
  admittedAt?: number | undefined;
  firstTokenAt?: number | undefined;
  endedAt: number;
}

export interface FinishedRequest {
  record: RequestRecord;
  timeline: RequestTimeline;
  /** The client's W3C trace context headers, as sent. */
  traceparent?: string | undefined;
  tracestate?: string | undefined;
  /** How the answer ended: stop, length, tool_calls. */
  finishReason?: string | undefined;
}

export interface RequestTracer {
  /** Records one finished request's spans; never throws and never waits. */
  requestFinished(request: FinishedRequest): void;
  /** Exports what is still buffered (bounded by its own deadline), then stops. */
  shutdown(): Promise<void>;
}

export interface RemoteParent {
  traceId: string;
  spanId: string;
  traceFlags: number;
}

// W3C Trace Context §3.2: version "-" trace-id "-" parent-id "-" trace-flags, lower-case hex.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * The parent a `traceparent` header names, or undefined when it is absent or invalid (the request
 * then starts a trace of its own, as §3.2.2 asks). Version ff is invalid; version 00 has exactly
 * four fields; a later version may append fields, which are ignored (§3.2.4). All-zero ids are
 * invalid.
 */
export function parseTraceparent(header: string | undefined): RemoteParent | undefined {
  if (header === undefined) return undefined;
  const m = TRACEPARENT.exec(header.trim());
  if (m === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string?,
  ];
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId, traceFlags: Number.parseInt(flags, 16) };
}
