/**
 * A ServingRequest → the exact prompt the model sees. One function, used by the generation
 * pipeline and by the render debug endpoint and CLI, so what users inspect is what runs.
 */
import { renderConversation } from "../harmony/render.ts";
import type { RenderedPrompt } from "../harmony/types.ts";
import type { ServingRequest } from "./serving-request.ts";

export function renderServingRequest(request: ServingRequest, date: string): RenderedPrompt {
  const format = request.responseFormat;
  return renderConversation({
    date,
    reasoningEffort: request.reasoningEffort,
    ...(request.instructions !== undefined ? { instructions: request.instructions } : {}),
    messages: request.messages,
    tools: request.toolChoice === "none" ? [] : request.tools,
    ...(format.type === "json_schema"
      ? {
          responseFormat: {
            name: format.name,
            schema: format.schema,
            ...(format.description !== undefined ? { description: format.description } : {}),
          },
        }
      : {}),
  });
}

/** The body of `POST /v1/chat/render` and the output of `gpt-oss-server render --json`. */
export function renderBody(
  request: ServingRequest,
  date: string,
): { prompt: string; token_ids: number[]; num_tokens: number } {
  const rendered = renderServingRequest(request, date);
  return { prompt: rendered.text, token_ids: rendered.tokens, num_tokens: rendered.tokens.length };
}
