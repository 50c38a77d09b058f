/**
 * The Responses API: POST /v1/responses (one JSON body or a stream of named SSE events),
 * GET /v1/responses/{id} and DELETE /v1/responses/{id} for stored responses. Same pipeline,
 * tracker, cancellation (client disconnect, /v1/cancel, X-Request-Id) and error mapping as
 * routes/chat.ts; an error after the stream started ends it with `response.failed`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ServerError } from "../../errors/server-error.ts";
import type { ResponseDeletedWire } from "../../protocol/responses.ts";
import { isJobCancelledError } from "../../scheduler/job-cancelled-error.ts";
import type { Ticket } from "../../scheduler/scheduler-types.ts";
import { admitChat, chatEvents, prepareChat } from "../../serving/chat-pipeline.ts";
import type { RequestTracker } from "../../serving/request-tracker.ts";
import { ResponseStore } from "../../serving/response-store.ts";
import { historyItem } from "../../serving/stored-history.ts";
import { ResponseBuilder, collectResponse } from "../../serving/responses-output.ts";
import {
  asResponsesError,
  parseResponsesRequest,
  type HistoryLookup,
  type ParsedResponsesRequest,
} from "../../serving/responses-request.ts";
import type { RouteDeps } from "../app.ts";
import { errorEnvelope, toServerError } from "../error-response.ts";
import { SseWriter } from "../sse-writer.ts";
import { beginGenerationRequest, cancelledError, recordCancel, replyCancelled } from "../cancellation.ts";

function notFound(id: string): ServerError {
  return new ServerError(
    "response_not_found",
    `Response with id '${id}' not found: it was not stored (store: false), has expired or was evicted`,
    { param: "response_id" },
  );
}

export function registerResponsesRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const sinks = { stats: deps.stats, metrics: deps.metrics, logger: deps.logger };
  const store =
    deps.responseStore ??
    new ResponseStore({
      maxEntries: deps.config.responsesStoreSize,
      maxBytes: deps.config.responsesStoreBytes,
      ttlMs: deps.config.responsesStoreTtlMs,
    });
  const history: HistoryLookup = (id) => store.get(id)?.conversation;

  const remember = (parsed: ParsedResponsesRequest, builder: ResponseBuilder): void => {
    if (!parsed.echo.store) return;
    const response = builder.response;
    // Only what later turns render is kept (stored-history.ts).
    const conversation = [...parsed.conversation, ...response.output].map(historyItem);
    if (!store.set(response.id, { response, conversation })) {
      deps.logger.warn(
        { request_id: response.id, budget_bytes: deps.config.responsesStoreBytes },
        "response not stored: larger than --responses-store-bytes on its own",
      );
    }
  };

  app.get<{ Params: { id: string } }>("/v1/responses/:id", (req, reply) => {
    const stored = store.get(req.params.id);
    if (stored === undefined) {
      const error = notFound(req.params.id);
      return reply.code(error.status).send(errorEnvelope(error));
    }
    return stored.response;
  });

  app.delete<{ Params: { id: string } }>("/v1/responses/:id", (req, reply) => {
    if (!store.delete(req.params.id)) {
      const error = notFound(req.params.id);
      return reply.code(error.status).send(errorEnvelope(error));
    }
    const body: ResponseDeletedWire = { id: req.params.id, object: "response.deleted", deleted: true };
    return body;
  });

  app.post("/v1/responses", async (req: FastifyRequest, reply: FastifyReply) => {
    const { tracker, abort } = beginGenerationRequest(req, reply, sinks, deps.owners);
    let ticket: Ticket | undefined;
    let sse: SseWriter | undefined;
    let builder: ResponseBuilder | undefined;
    let parsed: ParsedResponsesRequest | undefined;
    try {
      if (deps.isShuttingDown()) throw new ServerError("shutting_down", "the server is shutting down");
      parsed = parseResponsesRequest(req.body, history);
      const prepared = await prepareChat(deps, parsed.serving, req.id, tracker);
      builder = new ResponseBuilder(prepared, parsed.echo);
      ticket = await admitChat(prepared, abort.signal);
      const events = chatEvents(deps, prepared, ticket, tracker);
      if (!prepared.request.stream) {
        const body = await collectResponse(builder, events);
        if (body === undefined)
          return replyCancelled(ticket, req.id, tracker, deps.metrics, reply, abort.signal.aborted);
        remember(parsed, builder);
        tracker.succeed();
        return reply.send(body);
      }
      sse = new SseWriter(reply.raw, { "x-request-id": req.id });
      reply.hijack();
      await stream(parsed, builder, events, ticket, tracker, sse);
    } catch (error) {
      if (isJobCancelledError(error)) {
        // Cancelled while queued (client gone or /v1/cancel): not an error of the server.
        return replyCancelled(error, req.id, tracker, deps.metrics, reply, abort.signal.aborted);
      }
      const serverError = asResponsesError(toServerError(error));
      if (serverError.status >= 500 && serverError.code !== "request_timeout") {
        deps.logger.error({ err: error, request_id: req.id }, "response failed");
      }
      tracker.fail(serverError, sse !== undefined);
      recordCancel(deps.metrics, ticket?.cancelReason);
      if (sse !== undefined && builder !== undefined && parsed !== undefined) {
        // The stream has started: the error travels as response.failed (api-contract "Streaming").
        const out = builder.fail(serverError);
        remember(parsed, builder);
        await send(sse, out);
        sse.end();
        return;
      }
      return reply.code(serverError.status).headers(serverError.headers).send(errorEnvelope(serverError));
    }
  });

  async function send(sse: SseWriter, events: ReturnType<ResponseBuilder["push"]>): Promise<void> {
    for (const event of events) {
      const pending = sse.sendEvent(event.type, event);
      if (pending !== undefined) await pending;
    }
  }

  async function stream(
    parsed: ParsedResponsesRequest,
    builder: ResponseBuilder,
    events: AsyncIterable<Parameters<ResponseBuilder["push"]>[0]>,
    ticket: Ticket,
    tracker: RequestTracker,
    sse: SseWriter,
  ): Promise<void> {
    await send(sse, builder.start());
    for await (const event of events) {
      if (event.type === "cancelled") break;
      const out = builder.push(event);
      // Stored before the terminal event goes out: a client that chains at once finds it.
      if (builder.finished) remember(parsed, builder);
      await send(sse, out);
      if (sse.closed) ticket.cancel("client_disconnect");
    }
    if (builder.finished) {
      tracker.succeed();
      sse.end();
      return;
    }
    tracker.cancel();
    recordCancel(deps.metrics, ticket?.cancelReason);
    if (!sse.closed) {
      const out = builder.fail(cancelledError(ticket.id, ticket.cancelReason));
      remember(parsed, builder);
      await send(sse, out);
    }
    sse.end();
  }
}
