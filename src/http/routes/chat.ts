/**
 * POST /v1/chat/completions: parse, prepare (validate, route, render), admit to the scheduler,
 * then write one JSON body or an SSE stream. Client disconnect aborts the request's signal, which
 * frees its engine sequence at once.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ServerError } from "../../errors/server-error.ts";
import {
  admitChat,
  chatEvents,
  prepareChat,
  promptTokenLimit,
  type PreparedChat,
} from "../../serving/chat-pipeline.ts";
import { parseChatRequest } from "../../serving/chat-request.ts";
import { renderBody } from "../../serving/render-request.ts";
import { collectChatCompletion } from "../../serving/chat-response.ts";
import { ChatChunker } from "../../serving/chat-stream.ts";
import type { RequestTracker } from "../../serving/request-tracker.ts";
import type { Ticket } from "../../scheduler/scheduler-types.ts";
import type { RouteDeps } from "../app.ts";
import { errorEnvelope, toServerError } from "../error-response.ts";
import { SseWriter, awaitWithKeepAlive } from "../sse-writer.ts";
import { beginGenerationRequest, cancelledError, recordCancel, replyCancelled } from "../cancellation.ts";
import { isJobCancelledError } from "../../scheduler/job-cancelled-error.ts";

export function registerChatRoutes(app: FastifyInstance, deps: RouteDeps): void {
  // Debug: the exact prompt (text and token ids) the model would see for this chat request.
  app.post("/v1/chat/render", async (req) =>
    renderBody(
      await deps.renderPool.render(parseChatRequest(req.body), deps.config.date, promptTokenLimit(deps)),
    ),
  );

  const sinks = { stats: deps.stats, metrics: deps.metrics, logger: deps.logger };

  app.post("/v1/chat/completions", async (req: FastifyRequest, reply: FastifyReply) => {
    const { tracker, abort } = beginGenerationRequest(req, reply, sinks, deps.owners);
    let ticket: Ticket | undefined;
    let sse: SseWriter | undefined;
    try {
      if (deps.isShuttingDown()) throw new ServerError("shutting_down", "the server is shutting down");
      const prepared = await prepareChat(deps, parseChatRequest(req.body), req.id, tracker);
      const admission = admitChat(prepared, abort.signal);
      const openStream = (): SseWriter => {
        sse = new SseWriter(
          reply.raw,
          { "x-request-id": req.id, ...prepared.headers },
          { keepAliveMs: deps.config.sseKeepaliveMs },
        );
        reply.hijack();
        return sse;
      };
      // A stream waiting in the queue opens early and sends keep-alives (sse-writer.ts).
      ticket = prepared.request.stream
        ? await awaitWithKeepAlive(admission, deps.config.sseKeepaliveMs, openStream)
        : await admission;
      if (!prepared.request.stream) {
        const body = await collectChatCompletion(prepared, chatEvents(deps, prepared, ticket, tracker));
        if (body === undefined) {
          return replyCancelled(ticket, req.id, tracker, deps.metrics, reply, abort.signal.aborted);
        }
        tracker.succeed();
        return reply.headers(prepared.headers).send(body);
      }
      await streamChat(prepared, ticket, tracker, sse ?? openStream(), deps);
    } catch (error) {
      if (isJobCancelledError(error) && sse !== undefined) {
        // Cancelled while queued, after the stream opened for keep-alives.
        tracker.cancel();
        recordCancel(deps.metrics, error.reason);
        if (!sse.closed) await sse.send(errorEnvelope(cancelledError(req.id, error.reason)));
        sse.end();
        return;
      }
      if (isJobCancelledError(error)) {
        // Cancelled while still queued (client gone, /v1/cancel): nothing was generated.
        return replyCancelled(error, req.id, tracker, deps.metrics, reply, abort.signal.aborted);
      }
      const serverError = toServerError(error);
      if (serverError.status >= 500 && serverError.code !== "request_timeout") {
        deps.logger.error({ err: error, request_id: req.id }, "chat completion failed");
      }
      tracker.fail(serverError, sse !== undefined);
      recordCancel(deps.metrics, ticket?.cancelReason);
      if (sse !== undefined) {
        // The stream has started: the error travels as an SSE event (api-contract "Streaming").
        await sse.send(errorEnvelope(serverError));
        sse.end();
        return;
      }
      return reply.code(serverError.status).headers(serverError.headers).send(errorEnvelope(serverError));
    }
  });

  async function streamChat(
    prepared: PreparedChat,
    ticket: Ticket,
    tracker: RequestTracker,
    sse: SseWriter,
    d: RouteDeps,
  ): Promise<void> {
    const chunker = new ChatChunker(prepared);
    await sse.send(chunker.first());
    let finished = false;
    for await (const event of chatEvents(d, prepared, ticket, tracker)) {
      if (event.type === "cancelled") break;
      if (event.type === "finish") finished = true;
      for (const chunk of chunker.chunks(event)) {
        const pending = sse.send(chunk);
        if (pending !== undefined) await pending;
      }
      if (sse.closed) ticket.cancel("client_disconnect");
    }
    if (finished) {
      tracker.succeed();
      sse.done();
      return;
    }
    tracker.cancel();
    recordCancel(d.metrics, ticket.cancelReason);
    if (!sse.closed) await sse.send(errorEnvelope(cancelledError(ticket.id, ticket.cancelReason)));
    sse.end();
  }
}
