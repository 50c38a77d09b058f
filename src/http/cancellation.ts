/**
 * How a cancelled request is answered and counted, for every generation route. A cancel is not an
 * error of the server (style.md §5): it is counted as a cancellation, and the client, if still
 * there, gets `499 request_cancelled` (or the same code as the stream's last event).
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { ServerError } from "../errors/server-error.ts";
import type { ServerMetrics } from "../metrics/prometheus.ts";
import type { JobCancelledError } from "../scheduler/job-cancelled-error.ts";
import type { CancelReason, Ticket } from "../scheduler/scheduler-types.ts";
import { RequestTracker, type TrackerSinks } from "../serving/request-tracker.ts";
import { errorEnvelope } from "./error-response.ts";
import { routeLabel } from "./request-id.ts";
import { ANONYMOUS } from "./auth.ts";
import type { RequestOwners } from "./request-owners.ts";

/**
 * The start of every generation request: its tracker, and an AbortController that fires when the
 * client goes away before the response is finished (the scheduler then dequeues the request, or
 * the engine stops and frees its sequence).
 */
export function beginGenerationRequest(
  req: FastifyRequest,
  reply: FastifyReply,
  sinks: TrackerSinks,
  owners: RequestOwners,
): { tracker: RequestTracker; abort: AbortController } {
  const wantsStream = (req.body as { stream?: unknown } | undefined)?.stream === true;
  const abort = new AbortController();
  // Remembered while in flight, so that /v1/cancel/{id} can be held to the key that made it.
  owners.register(req.id, req.principal ?? ANONYMOUS, req.clientRequestId);
  reply.raw.on("close", () => {
    owners.release(req.id);
    if (!reply.raw.writableFinished) abort.abort();
  });
  const tracker = new RequestTracker(sinks, req.id, wantsStream);
  tracker.route = routeLabel(req);
  tracker.clientRequestId = req.clientRequestId;
  if (sinks.tracer !== undefined) {
    // W3C Trace Context: the client's span becomes the parent of this request's.
    const { traceparent, tracestate } = req.headers;
    tracker.traceparent = typeof traceparent === "string" ? traceparent : undefined;
    tracker.tracestate = typeof tracestate === "string" ? tracestate : undefined;
  }
  return { tracker, abort };
}

/** The error a cancelled request answers with. */
export function cancelledError(requestId: string, reason: CancelReason | undefined): ServerError {
  const how = reason === "shutdown" ? "the server is shutting down" : "it was cancelled via /v1/cancel";
  return new ServerError("request_cancelled", `request ${requestId} did not finish: ${how}`);
}

/** Counts a cancellation by its reason (none: the request was not cancelled). */
export function recordCancel(metrics: ServerMetrics, reason: CancelReason | undefined): void {
  if (reason !== undefined) metrics.cancelled(reason);
}

/**
 * Ends a non-streaming request that was cancelled while queued (`JobCancelledError` from admit) or
 * running (its ticket). Sends nothing when the client is already gone.
 */
export function replyCancelled(
  source: Ticket | JobCancelledError,
  requestId: string,
  tracker: RequestTracker,
  metrics: ServerMetrics,
  reply: FastifyReply,
  clientGone: boolean,
): FastifyReply {
  const reason = "reason" in source ? source.reason : source.cancelReason;
  tracker.cancel();
  recordCancel(metrics, reason);
  if (clientGone) return reply;
  const error = cancelledError(requestId, reason);
  return reply.code(error.status).send(errorEnvelope(error));
}
