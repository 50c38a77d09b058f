/**
 * POST /v1/chat/completions through the generation skeleton (generation-route.ts): prepare
 * (validate, route, render), admit to the scheduler, then one JSON body or an SSE stream of chunks
 * ending with `data: [DONE]`. Also POST /v1/chat/render, the exact prompt a request becomes.
 */
import type { FastifyInstance } from "fastify";
import {
  admitAnswer,
  prepareAnswer,
  promptTokenLimit,
  type PreparedAnswer,
} from "../../serving/answer-pipeline.ts";
import { answerEvents, replayedAnswerEvent, type AnswerEvent } from "../../serving/answer-events.ts";
import { answerCacheParts } from "../../serving/response-cache.ts";
import { parseChatRequest } from "../../serving/chat-request.ts";
import { renderBody } from "../../serving/render-request.ts";
import { collectChatCompletion } from "../../serving/chat-response.ts";
import { ChatChunker } from "../../serving/chat-stream.ts";
import type { RouteDeps } from "../app.ts";
import { errorEnvelope } from "../error-response.ts";
import { dataFrames, generationHandler, type StreamWire } from "../generation-route.ts";

interface PreparedChatRoute {
  chat: PreparedAnswer;
  stream: boolean;
  headers: Record<string, string>;
}

export function registerChatRoutes(app: FastifyInstance, deps: RouteDeps): void {
  // Debug: the exact prompt (text and token ids) the model would see for this chat request.
  app.post("/v1/chat/render", async (req) =>
    renderBody(
      await deps.renderPool.render(parseChatRequest(req.body), deps.config.date, promptTokenLimit(deps)),
    ),
  );

  app.post(
    "/v1/chat/completions",
    generationHandler<PreparedChatRoute, AnswerEvent>(deps, {
      what: "chat completion",
      async prepare(req, tracker) {
        const chat = await prepareAnswer(deps, parseChatRequest(req.body), req.id, tracker);
        return { chat, stream: chat.request.stream, headers: chat.headers };
      },
      admit: (p, signal) => admitAnswer(p.chat, signal),
      events: (p, ticket, tracker) => answerEvents(deps, p.chat, ticket, tracker),
      collect: (p, events) => collectChatCompletion(p.chat, events),
      stream: (p) => chatStreamWire(p.chat),
      cacheParts: (p) => answerCacheParts(p.chat),
      replayed: replayedAnswerEvent,
    }),
  );
}

/** Chat chunks as data lines: the role chunk first, then a chunk an event, errors as envelopes. */
function chatStreamWire(prepared: PreparedAnswer): StreamWire<AnswerEvent> {
  const chunker = new ChatChunker(prepared);
  let finished = false;
  return {
    endsWithDone: true,
    get finished() {
      return finished;
    },
    opening: () => [{ data: chunker.first() }],
    frames(event) {
      if (event.type === "finish") finished = true;
      return dataFrames(chunker.chunks(event));
    },
    failure: (error) => [{ data: errorEnvelope(error) }],
  };
}
