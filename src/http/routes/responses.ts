/**
 * The Responses API: POST /v1/responses (one JSON body or a stream of named SSE events),
 * GET /v1/responses/{id} and DELETE /v1/responses/{id} for stored responses,
 * GET /v1/responses/{id}/input_items, and background responses (responses-background.ts) with
 * POST /v1/responses/{id}/cancel. The generation skeleton of every route (generation-route.ts):
 * same pipeline, tracker, cancellation and error mapping as chat; an error after the stream started
 * ends it with `response.failed`. What the request parser left out instead of refusing (hosted
 * tools) is logged and reported in the `x-gptoss-warning` header.
 */
import type { FastifyInstance } from "fastify";
import { ServerError } from "../../errors/server-error.ts";
import type { ResponseDeletedWire } from "../../protocol/responses.ts";
import type { ResponseStreamEventWire } from "../../protocol/responses.ts";
import { admitAnswer, prepareAnswer, type PreparedAnswer } from "../../serving/answer-pipeline.ts";
import { answerEvents, replayedAnswerEvent, type AnswerEvent } from "../../serving/answer-events.ts";
import { answerCacheParts } from "../../serving/response-cache.ts";
import { ResponseStore, type ListedInputItem } from "../../serving/response-store.ts";
import { inputItemsPage, listedInputItems } from "../../serving/responses-input-items.ts";
import { historyItem } from "../../serving/stored-history.ts";
import { ResponseBuilder, collectResponse } from "../../serving/responses-output.ts";
import {
  parseResponsesRequest,
  type HistoryLookup,
  type ParsedResponsesRequest,
} from "../../serving/responses-request.ts";
import type { RouteDeps } from "../app.ts";
import { errorEnvelope } from "../error-response.ts";
import { generationHandler, type SseFrame, type StreamWire } from "../generation-route.ts";
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

  app.post(
    "/v1/responses",
    generationHandler<PreparedResponse, AnswerEvent>(deps, {
      what: "response",
      async prepare(req, tracker) {
        const parsed = parseResponsesRequest(req.body, history, parseOptions);
        if (parsed.warnings.length > 0) {
          deps.logger.warn(
            { request_id: req.id, warnings: parsed.warnings },
            "responses request: left out instead of refused",
          );
        }
        const chat = await prepareAnswer(deps, parsed.serving, req.id, tracker);
        const headers = { ...warningHeader(parsed.warnings), ...chat.headers };
        const builder = new ResponseBuilder(chat, parsed.echo);
        return { chat, parsed, builder, headers, stream: chat.request.stream };
      },
      detach(p, tracker) {
        if (!p.parsed.echo.background) return undefined;
        const remembered = (): void => remember(p.parsed, p.builder);
        void background.start({ prepared: p.chat, builder: p.builder, tracker, remember: remembered });
        return structuredClone(p.builder.response);
      },
      admit: (p, signal) => admitAnswer(p.chat, signal),
      events: (p, ticket, tracker) => answerEvents(deps, p.chat, ticket, tracker),
      async collect(p, events) {
        const body = await collectResponse(p.builder, events);
        if (body !== undefined) remember(p.parsed, p.builder);
        return body;
      },
      stream: (p) => responseStreamWire(p, remember),
      // A background response runs detached (responses-background.ts) and never reaches the cache.
      cacheParts: (p) => answerCacheParts(p.chat),
      replayed: replayedAnswerEvent,
    }),
  );
}

interface PreparedResponse {
  chat: PreparedAnswer;
  parsed: ParsedResponsesRequest;
  builder: ResponseBuilder;
  stream: boolean;
  headers: Record<string, string>;
}

/**
 * Named Responses events; the response is stored before its terminal event goes out, so a client
 * that chains at once finds it, and a response that ends early is stored as it failed.
 */
function responseStreamWire(
  p: PreparedResponse,
  remember: (parsed: ParsedResponsesRequest, builder: ResponseBuilder) => void,
): StreamWire<AnswerEvent> {
  const frames = (events: readonly ResponseStreamEventWire[]): SseFrame[] =>
    events.map((event) => ({ event: event.type, data: event }));
  return {
    endsWithDone: false,
    get finished() {
      return p.builder.finished;
    },
    opening: () => frames(p.builder.start()),
    frames(event) {
      const out = p.builder.push(event);
      if (p.builder.finished) remember(p.parsed, p.builder);
      return frames(out);
    },
    failure(error) {
      const out = p.builder.fail(error);
      remember(p.parsed, p.builder);
      return frames(out);
    },
  };
}
