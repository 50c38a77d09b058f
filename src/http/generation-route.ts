/**
 * The one skeleton of every generation route (chat, responses, completions): track the request,
 * prepare it, admit it to the scheduler, then write one JSON body or an SSE stream; answer a cancel
 * as a cancel and an error as the OpenAI envelope, before the stream started or as its last event
 * after (api-contract "Streaming"). A route says only what differs: how a request is prepared, how
 * its events become a body, and how they become stream frames (`GenerationWire`).
 *
 * The response cache sits between prepare and admit (response-cache-plan.ts): a hit replays the
 * cached events through the same wire, as JSON or as a stream, without the queue or the engine; a
 * miss records the live events and stores them once the request succeeded.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { ServerError } from "../errors/server-error.ts";
import { isJobCancelledError } from "../scheduler/job-cancelled-error.ts";
import type { Ticket } from "../scheduler/scheduler-types.ts";
import type { RequestTracker } from "../serving/request-tracker.ts";
import { AnswerRecorder, replayAnswer } from "../serving/response-cache.ts";
import type { RouteDeps } from "./app.ts";
import { beginGenerationRequest, cancelledError, recordCancel, replyCancelled } from "./cancellation.ts";
import { errorEnvelope, toServerError } from "./error-response.ts";
import { planResponseCache, X_CACHE_HEADER } from "./response-cache-plan.ts";
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
  /**
   * What decides this request's events, for the response cache key (serving/response-cache.ts);
   * undefined when they are sampled, never cached. Absent: the route is never cached.
   */
  cacheParts?(prepared: P): unknown;
  /** A cached event as it is replayed: renews what must not repeat (a tool call's id). */
  readonly replayed?: (event: E) => E;
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
      // The key's parts are built only when the cache is on: nothing per request while it is off.
      const cache = planResponseCache(
        deps.responseCache,
        deps.responseCache.enabled ? wire.cacheParts?.(prepared) : undefined,
        req.principal,
        req.headers["cache-control"],
      );
      const hit =
        cache?.key !== undefined && cache.read ? deps.responseCache.lookup<E>(cache.key) : undefined;
      if (cache !== undefined) tracker.responseCache = hit !== undefined ? "hit" : "miss";
      const headers =
        tracker.responseCache === undefined
          ? prepared.headers
          : { ...prepared.headers, [X_CACHE_HEADER]: tracker.responseCache };
      const recorder = hit === undefined && cache?.key !== undefined ? new AnswerRecorder<E>() : undefined;
      /** The request succeeded: its answer is kept for the next identical request. */
      const remember = (): void => {
        const answer = recorder?.answer(tracker);
        if (answer !== undefined && cache?.key !== undefined) {
          deps.responseCache.store(cache.key, answer);
        }
      };
      // The answer's events: replayed from the cache, or generated once the scheduler admits it.
      if (hit === undefined) tracker.queued();
      const admission = hit === undefined ? wire.admit(prepared, abort.signal) : undefined;
      const eventsOf = (admitted: Ticket | undefined): AsyncIterable<E> => {
        if (admitted !== undefined) {
          const live = wire.events(prepared, admitted, tracker);
          return recorder === undefined ? live : recorder.record(live);
        }
        if (hit === undefined) throw new Error("a request neither admitted nor answered from the cache");
        return replayAnswer(hit, tracker, wire.replayed);
      };
      if (!prepared.stream) {
        ticket = await admission;
        if (ticket !== undefined) tracker.admitted(ticket.queuedMs);
        const body = await wire.collect(prepared, eventsOf(ticket));
        if (body === undefined) {
          if (ticket === undefined) throw new Error("a cached answer ended without its finish");
          return replyCancelled(ticket, req.id, tracker, deps.metrics, reply, abort.signal.aborted);
        }
        tracker.succeed();
        remember();
        return reply.headers(headers).send(body);
      }
      streamWire = wire.stream(prepared);
      const openStream = (): SseWriter => {
        sse = new SseWriter(reply.raw, { "x-request-id": req.id, ...headers }, { keepAliveMs });
        reply.hijack();
        return sse;
      };
      // A stream waiting in the queue opens early and sends keep-alives (sse-writer.ts).
      if (admission !== undefined) {
        ticket = await awaitWithKeepAlive(admission, keepAliveMs, openStream);
        tracker.admitted(ticket.queuedMs);
      }
      const writer = sse ?? openStream();
      await pipeStream(eventsOf(ticket), streamWire, writer, ticket);
      if (streamWire.finished) {
        tracker.succeed();
        remember();
        if (streamWire.endsWithDone) writer.done();
        else writer.end();
        return;
      }
      tracker.cancel();
      recordCancel(deps.metrics, ticket?.cancelReason);
      await endStream(writer, streamWire, cancelledError(ticket?.id ?? req.id, ticket?.cancelReason));
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

/**
 * Writes each event's frames, honouring backpressure. A client gone mid-stream cancels the ticket
 * (the events then end with the engine's cancel); a replay without one simply stops.
 */
async function pipeStream<E extends { type: string }>(
  events: AsyncIterable<E>,
  wire: StreamWire<E>,
  sse: SseWriter,
  ticket: Ticket | undefined,
): Promise<void> {
  await sendFrames(sse, wire.opening());
  for await (const event of events) {
    if (event.type === "cancelled") break;
    await sendFrames(sse, wire.frames(event));
    if (!sse.closed) continue;
    if (ticket === undefined) break;
    ticket.cancel("client_disconnect");
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
