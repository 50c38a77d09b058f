/**
 * A ServingRequest → the exact prompt the model sees. One function, used by the generation
 * pipeline and by the render debug endpoint and CLI, so what users inspect is what runs.
 *
 * A prompt that cannot fit the context is refused as early as possible: first from the length of
 * its text alone (no token spells more than 128 bytes), then while tokenizing, which stops at the
 * limit. Large prompts are rendered on a worker thread (render-pool.ts), so the thread that serves
 * HTTP never spends seconds in BPE.
 */
import { renderConversation } from "../harmony/render.ts";
import { TokenLimitExceededError } from "../harmony/tokenizer.ts";
import type { RenderedPrompt } from "../harmony/types.ts";
import { ServerError } from "../errors/server-error.ts";
import type { ServingRequest } from "./serving-request.ts";

/** Characters of client text in a request: what rendering has to tokenize. */
export function requestTextLength(request: ServingRequest): number {
  let n = request.instructions?.length ?? 0;
  for (const m of request.messages) {
    n += m.content?.length ?? 0;
    if (m.role === "assistant") {
      n += m.reasoning?.length ?? 0;
      for (const call of m.toolCalls ?? []) n += call.arguments.length + call.name.length;
    }
  }
  for (const tool of request.tools) {
    n += (tool.description?.length ?? 0) + JSON.stringify(tool.parameters ?? {}).length;
  }
  if (request.responseFormat.type === "json_schema")
    n += JSON.stringify(request.responseFormat.schema).length;
  return n;
}

function tooLong(request: ServingRequest, limit: number, detail: string): ServerError {
  const messages = request.fields.messages;
  return new ServerError(
    "context_length_exceeded",
    `This model's context is ${limit} tokens per request; the prompt ${detail}. Shorten the ${messages}.`,
    { param: messages },
  );
}

/** Throws context_length_exceeded when the text alone proves the prompt longer than `limit`. */
export function assertCanFit(request: ServingRequest, limit: number): void {
  const least = Math.ceil(requestTextLength(request) / 128);
  if (least > limit) throw tooLong(request, limit, `has at least ${least} tokens`);
}

export function renderServingRequest(
  request: ServingRequest,
  date: string,
  tokenLimit?: number,
): RenderedPrompt {
  if (tokenLimit !== undefined) assertCanFit(request, tokenLimit);
  const format = request.responseFormat;
  try {
    return renderConversation({
      date,
      reasoningEffort: request.reasoningEffort,
      ...(request.instructions !== undefined ? { instructions: request.instructions } : {}),
      messages: request.messages,
      tools: request.toolChoice === "none" ? [] : request.tools,
      ...(request.toolNamespaces !== undefined ? { toolNamespaces: request.toolNamespaces } : {}),
      ...(format.type === "json_schema"
        ? {
            responseFormat: {
              name: format.name,
              schema: format.schema,
              ...(format.description !== undefined ? { description: format.description } : {}),
            },
          }
        : {}),
      tokenLimit,
    });
  } catch (error) {
    if (error instanceof TokenLimitExceededError)
      throw tooLong(request, error.limit, `has more than ${error.limit} tokens`);
    throw error;
  }
}

/** The body of `POST /v1/chat/render` and the output of `gpt-oss-server render --json`. */
export function renderBody(rendered: RenderedPrompt): {
  prompt: string;
  token_ids: number[];
  num_tokens: number;
} {
  return { prompt: rendered.text, token_ids: rendered.tokens, num_tokens: rendered.tokens.length };
}
