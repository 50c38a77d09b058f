/**
 * POST /v1/completions: legacy Completions over a raw prompt (serving/completions-*.ts), through the
 * generation skeleton (generation-route.ts): one JSON body or an SSE stream of `text_completion`
 * chunks ending with `data: [DONE]`.
 */
import type { FastifyInstance } from "fastify";
import {
  admitCompletion,
  completionEvents,
  prepareCompletion,
  type CompletionEvent,
  type PreparedCompletion,
} from "../../serving/completions-pipeline.ts";
import { parseCompletionRequest } from "../../serving/completions-request.ts";
import { completionCacheParts } from "../../serving/response-cache.ts";
import { collectCompletion, CompletionChunker } from "../../serving/completions-response.ts";
import type { RouteDeps } from "../app.ts";
import { errorEnvelope } from "../error-response.ts";
import { dataFrames, generationHandler, type StreamWire } from "../generation-route.ts";

interface PreparedCompletionRoute {
  completion: PreparedCompletion;
  stream: boolean;
  headers: Record<string, string>;
}

export function registerCompletionsRoutes(app: FastifyInstance, deps: RouteDeps): void {
  app.post(
    "/v1/completions",
    generationHandler<PreparedCompletionRoute, CompletionEvent>(deps, {
      what: "completion",
      async prepare(req, tracker) {
        const completion = await prepareCompletion(deps, parseCompletionRequest(req.body), req.id, tracker);
        return { completion, stream: completion.request.stream, headers: {} };
      },
      admit: (p, signal) => admitCompletion(p.completion, signal),
      events: (p, ticket, tracker) => completionEvents(p.completion, ticket, tracker),
      collect: (p, events) => collectCompletion(p.completion, events),
      stream: (p) => completionStreamWire(p.completion),
      cacheParts: (p) => completionCacheParts(p.completion),
    }),
  );
}

function completionStreamWire(prepared: PreparedCompletion): StreamWire<CompletionEvent> {
  const chunker = new CompletionChunker(prepared);
  let finished = false;
  return {
    endsWithDone: true,
    get finished() {
      return finished;
    },
    opening: () => [],
    frames(event) {
      if (event.type === "finish") finished = true;
      return dataFrames(chunker.chunks(event));
    },
    failure: (error) => [{ data: errorEnvelope(error) }],
  };
}
