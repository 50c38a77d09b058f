/**
 * The one skeleton of every generation route (chat, responses, completions): track the request,
 * prepare it, admit it to the scheduler, then write one JSON body or an SSE stream; answer a cancel
 * as a cancel and an error as the OpenAI envelope, before the stream started or as its last event
 * after (api-contract "Streaming"). A route says only what differs: how a request is prepared, how
 * its events become a body, and how they become stream frames (`GenerationWire`).
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { ServerError } from "../errors/server-error.ts";
import { isJobCancelledError } from "../scheduler/job-cancelled-error.ts";
import type { Ticket } from "../scheduler/scheduler-types.ts";
import type { RequestTracker } from "../serving/request-tracker.ts";
import type { RouteDeps } from "./app.ts";
import { beginGenerationRequest, cancelledError, recordCancel, replyCancelled } from "./cancellation.ts";
import { errorEnvelope, toServerError } from "./error-response.ts";
import { SseWriter, awaitWithKeepAlive } from "./sse-writer.ts";

/** One SSE frame: a data line, named by `event` when the wire names its events (Responses). */
export interface SseFrame {
  event?: string;
  data: unknown;
}

/** What a route's request became once prepared: all the skeleton needs to know of it. */
export interface PreparedGeneration {
  readonly stream: boolean;
  /** Headers of the response, JSON or SSE (what the server chose for this request). */
  readonly headers: Record<string, string>;
}

/** How one stream's events become SSE frames; a fresh one per request. */
export interface StreamWire<E> {
  /** Frames sent before the first event (a role chunk, `response.created`). */
  opening(): SseFrame[];
  frames(event: E): SseFrame[];
  /** Whether the events reached their finish (otherwise the request was cancelled). */
  readonly finished: boolean;
  /** The last frames of a stream that ends early: a cancel or an error after the stream started. */
  failure(error: ServerError): SseFrame[];
  /** Chat and Completions end with `data: [DONE]`; Responses ends after its terminal event. */
  readonly endsWithDone: boolean;
}

/** What a generation route does in its own way; everything else is the skeleton's. */
export interface GenerationWire<P extends PreparedGeneration, E extends { type: string }> {
  /** For the error log line: "chat completion", "response", "completion". */
  readonly what: string;
  prepare(req: FastifyRequest, tracker: RequestTracker): Promise<P>;
  /**
   * A request answered at once and run detached (Responses `background: true`): the body to send,
   * or undefined to run it here.
   */
  detach?(prepared: P, tracker: RequestTracker): unknown;
  admit(prepared: P, signal: AbortSignal): Promise<Ticket>;
  /** The request's events; an event of type "cancelled" ends them early. */
  events(prepared: P, ticket: Ticket, tracker: RequestTracker): AsyncIterable<E>;
  /** The whole answer as one body, or undefined when the request was cancelled. */
  collect(prepared: P, events: AsyncIterable<E>): Promise<unknown>;
  stream(prepared: P): StreamWire<E>;
}

/** The fastify handler that runs `wire` through the skeleton. */
export function generationHandler<P extends PreparedGeneration, E extends { type: string }>(
  deps: RouteDeps,
  wire: GenerationWire<P, E>,
): (req: FastifyRequest, reply: FastifyReply) => Promise<unknown> {
  const sinks = { stats: deps.stats, metrics: deps.metrics, logger: deps.logger, tracer: deps.tracer };
  const keepAliveMs = deps.config.sseKeepaliveMs;

  return async (req, reply) => {
    const { tracker, abort } = beginGenerationRequest(req, reply, sinks, deps.owners);
    let ticket: Ticket | undefined;
    let sse: SseWriter | undefined;
    let streamWire: StreamWire<E> | undefined;
    try {
      if (deps.isShuttingDown()) throw new ServerError("shutting_down", "the server is shutting down");
      const prepared = await wire.prepare(req, tracker);
      const detached = wire.detach?.(prepared, tracker);
      if (detached !== undefined) return reply.headers(prepared.headers).send(detached);
      tracker.queued();
      const admission = wire.admit(prepared, abort.signal);
      if (!prepared.stream) {
        ticket = await admission;
        tracker.admitted(ticket.queuedMs);
        const body = await wire.collect(prepared, wire.events(prepared, ticket, tracker));
        if (body === undefined) {
          return replyCancelled(ticket, req.id, tracker, deps.metrics, reply, abort.signal.aborted);
        }
        tracker.succeed();
        return reply.headers(prepared.headers).send(body);
      }
      streamWire = wire.stream(prepared);
      const openStream = (): SseWriter => {
        sse = new SseWriter(reply.raw, { "x-request-id": req.id, ...prepared.headers }, { keepAliveMs });
        reply.hijack();
        return sse;
      };
      // A stream waiting in the queue opens early and sends keep-alives (sse-writer.ts).
      ticket = await awaitWithKeepAlive(admission, keepAliveMs, openStream);
      tracker.admitted(ticket.queuedMs);
      const writer = sse ?? openStream();
      await pipeStream(wire.events(prepared, ticket, tracker), streamWire, writer, ticket);
      if (streamWire.finished) {
        tracker.succeed();
        if (streamWire.endsWithDone) writer.done();
        else writer.end();
        return;
      }
      tracker.cancel();
      recordCancel(deps.metrics, ticket.cancelReason);
      await endStream(writer, streamWire, cancelledError(ticket.id, ticket.cancelReason));
    } catch (error) {
      if (isJobCancelledError(error) && sse !== undefined && streamWire !== undefined) {
        // Cancelled while queued, after the stream opened for keep-alives.
        tracker.cancel();
        recordCancel(deps.metrics, error.reason);
        return endStream(sse, streamWire, cancelledError(req.id, error.reason));
      }
      if (isJobCancelledError(error)) {
        // Cancelled while still queued (client gone, /v1/cancel): nothing was generated.
        return replyCancelled(error, req.id, tracker, deps.metrics, reply, abort.signal.aborted);
      }
      const serverError = toServerError(error);
      if (serverError.status >= 500 && serverError.code !== "request_timeout") {
        deps.logger.error({ err: error, request_id: req.id }, `${wire.what} failed`);
      }
      tracker.fail(serverError, sse !== undefined);
      recordCancel(deps.metrics, ticket?.cancelReason);
      if (sse !== undefined && streamWire !== undefined) return endStream(sse, streamWire, serverError);
      return reply.code(serverError.status).headers(serverError.headers).send(errorEnvelope(serverError));
    }
  };
}

/** Writes each event's frames, honouring backpressure; a client gone mid-stream cancels the ticket. */
async function pipeStream<E extends { type: string }>(
  events: AsyncIterable<E>,
  wire: StreamWire<E>,
  sse: SseWriter,
  ticket: Ticket,
): Promise<void> {
  await sendFrames(sse, wire.opening());
  for await (const event of events) {
    if (event.type === "cancelled") break;
    await sendFrames(sse, wire.frames(event));
    if (sse.closed) ticket.cancel("client_disconnect");
  }
}

/** Ends a stream early; the failure frames are made even for a client gone (Responses stores them). */
async function endStream<E>(sse: SseWriter, wire: StreamWire<E>, error: ServerError): Promise<void> {
  const frames = wire.failure(error);
  if (!sse.closed) await sendFrames(sse, frames);
  sse.end();
}

async function sendFrames(sse: SseWriter, frames: readonly SseFrame[]): Promise<void> {
  for (const frame of frames) {
    const pending = frame.event === undefined ? sse.send(frame.data) : sse.sendEvent(frame.event, frame.data);
    if (pending !== undefined) await pending;
  }
}

/** Frames of plain data lines (Chat and Completions chunks, error envelopes). */
export function dataFrames(items: Iterable<unknown>): SseFrame[] {
  const frames: SseFrame[] = [];
  for (const data of items) frames.push({ data });
  return frames;
}
