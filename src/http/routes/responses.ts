/**
 * The Responses API: POST /v1/responses (one JSON body or a stream of named SSE events),
 * GET /v1/responses/{id} and DELETE /v1/responses/{id} for stored responses,
 * GET /v1/responses/{id}/input_items, and background responses (responses-background.ts) with
 * POST /v1/responses/{id}/cancel. Same pipeline, tracker, cancellation (client disconnect,
 * /v1/cancel, X-Request-Id) and error mapping as routes/chat.ts; an error after the stream started
 * ends it with `response.failed`. What the request parser left out instead of refusing (hosted
 * tools) is logged and reported in the `x-gptoss-warning` header.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ServerError } from "../../errors/server-error.ts";
import type { ResponseDeletedWire } from "../../protocol/responses.ts";
import { isJobCancelledError } from "../../scheduler/job-cancelled-error.ts";
import type { Ticket } from "../../scheduler/scheduler-types.ts";
import { admitChat, chatEvents, prepareChat } from "../../serving/chat-pipeline.ts";
import type { RequestTracker } from "../../serving/request-tracker.ts";
import { ResponseStore, type ListedInputItem } from "../../serving/response-store.ts";
import { inputItemsPage, listedInputItems } from "../../serving/responses-input-items.ts";
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
import { SseWriter, awaitWithKeepAlive } from "../sse-writer.ts";
import { beginGenerationRequest, cancelledError, recordCancel, replyCancelled } from "../cancellation.ts";
import { BackgroundResponses } from "./responses-background.ts";

/** The response header that carries the parser's warnings. */
export const WARNING_HEADER = "x-gptoss-warning";

/** Warnings as one header value: printable ASCII only (tool types are client text). */
function warningHeader(warnings: readonly string[]): Record<string, string> {
  if (warnings.length === 0) return {};
  return {
    [WARNING_HEADER]: warnings
      .join("; ")
      .replace(/[^\x20-\x7e]/g, "?")
      .slice(0, 2000),
  };
}

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
  const parseOptions = { strictTools: deps.config.strictTools, items: (id: string) => store.item(id) };
  const background = new BackgroundResponses(deps);
  // This request's input items with their ids, made once per request (a background one is stored twice).
  const listed = new WeakMap<ParsedResponsesRequest, ListedInputItem[]>();

  const remember = (parsed: ParsedResponsesRequest, builder: ResponseBuilder): void => {
    if (!parsed.echo.store) return;
    const response = builder.response;
    // Only what later turns render is kept (stored-history.ts).
    const conversation = [...parsed.conversation, ...response.output].map(historyItem);
    let input = listed.get(parsed);
    if (input === undefined) {
      input = listedInputItems(parsed.input);
      listed.set(parsed, input);
    }
    if (!store.set(response.id, { response, conversation, input })) {
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

  app.get<{ Params: { id: string }; Querystring: unknown }>("/v1/responses/:id/input_items", (req, reply) => {
    const stored = store.get(req.params.id);
    if (stored === undefined) {
      const error = notFound(req.params.id);
      return reply.code(error.status).send(errorEnvelope(error));
    }
    return inputItemsPage(stored.input ?? [], req.query);
  });

  app.post<{ Params: { id: string } }>("/v1/responses/:id/cancel", (req, reply) => {
    if (background.cancel(req.params.id)) return store.get(req.params.id)?.response;
    const stored = store.get(req.params.id);
    if (stored === undefined) {
      const error = notFound(req.params.id);
      return reply.code(error.status).send(errorEnvelope(error));
    }
    if (!stored.response.background) {
      const error = new ServerError(
        "invalid_request_error",
        `response '${req.params.id}' was not created with background: true; only background responses can be cancelled here`,
        { param: "response_id" },
      );
      return reply.code(error.status).send(errorEnvelope(error));
    }
    // Already ended: cancelling changes nothing (OpenAI answers with the response as it is).
    return stored.response;
  });

  app.delete<{ Params: { id: string } }>("/v1/responses/:id", (req, reply) => {
    // A background response still running stops too: it would store itself again when done.
    background.cancel(req.params.id, true);
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
      parsed = parseResponsesRequest(req.body, history, parseOptions);
      if (parsed.warnings.length > 0) {
        deps.logger.warn(
          { request_id: req.id, warnings: parsed.warnings },
          "responses request: left out instead of refused",
        );
      }
      const headers = warningHeader(parsed.warnings);
      const prepared = await prepareChat(deps, parsed.serving, req.id, tracker);
      Object.assign(headers, prepared.headers);
      builder = new ResponseBuilder(prepared, parsed.echo);
      if (parsed.echo.background) {
        const [request, response] = [parsed, builder];
        void background.start({ prepared, builder, tracker, remember: () => remember(request, response) });
        return reply.headers(headers).send(structuredClone(builder.response));
      }
      const openStream = (): SseWriter => {
        sse = new SseWriter(
          reply.raw,
          { "x-request-id": req.id, ...headers },
          { keepAliveMs: deps.config.sseKeepaliveMs },
        );
        reply.hijack();
        return sse;
      };
      // A stream waiting in the queue opens early and sends keep-alives (sse-writer.ts).
      ticket = prepared.request.stream
        ? await awaitWithKeepAlive(admitChat(prepared, abort.signal), deps.config.sseKeepaliveMs, openStream)
        : await admitChat(prepared, abort.signal);
      const events = chatEvents(deps, prepared, ticket, tracker);
      if (!prepared.request.stream) {
        const body = await collectResponse(builder, events);
        if (body === undefined)
          return replyCancelled(ticket, req.id, tracker, deps.metrics, reply, abort.signal.aborted);
        remember(parsed, builder);
        tracker.succeed();
        return reply.headers(headers).send(body);
      }
      await stream(parsed, builder, events, ticket, tracker, sse ?? openStream());
    } catch (error) {
      if (isJobCancelledError(error) && sse !== undefined && builder !== undefined && parsed !== undefined) {
        // Cancelled while queued, after the stream opened for keep-alives: response.failed, as below.
        tracker.cancel();
        recordCancel(deps.metrics, error.reason);
        if (!sse.closed) await send(sse, builder.fail(cancelledError(req.id, error.reason)));
        sse.end();
        return;
      }
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
