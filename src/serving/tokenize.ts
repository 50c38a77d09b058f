/**
 * vLLM's `POST /tokenize` and `POST /detokenize` (vLLM entrypoints/openai/protocol.py
 * TokenizeCompletionRequest / TokenizeChatRequest / DetokenizeRequest), over the harmony tokenizer:
 * - tokenize `{model, prompt}`: the raw prompt's ids, harmony control tokens recognised in the text
 *   (raw-prompt.ts), as `/v1/completions` will read it;
 * - tokenize `{model, messages, ...}`: the chat request rendered exactly as `/v1/chat/completions`
 *   renders it (the same parser and renderer as `/v1/chat/render`);
 * - detokenize `{model, tokens}`: the text, control tokens spelled out.
 * `max_model_len` is the context of the model `model` routes to.
 */
import { z } from "zod";
import { effectiveProfiles } from "../config/effective-profiles.ts";
import type { ServerConfig } from "../config/schema.ts";
import { ServerError } from "../errors/server-error.ts";
import { getHarmonyTokenizer } from "../harmony/tokenizer.ts";
import type { DetokenizeResponseWire, TokenizeResponseWire } from "../protocol/completions.ts";
import { parseChatRequest } from "./chat-request.ts";
import type { ModelPool, ServedModel } from "./model-pool.ts";
import { checkTokenIds } from "./raw-prompt.ts";
import type { RenderPool } from "./render-pool.ts";
import { zodToServerErrorAt } from "./zod-error.ts";

export interface TokenizeDeps {
  config: ServerConfig;
  pool: ModelPool;
  renderPool: RenderPool;
}

const tokenizeSchema = z.object({
  model: z.string().min(1),
  prompt: z.string().optional(),
  messages: z.array(z.unknown()).optional(),
  /** Accepted for vLLM compatibility: harmony adds no BOS, so there is nothing to add. */
  add_special_tokens: z.boolean().nullish(),
  return_token_strs: z.boolean().nullish(),
});

const detokenizeSchema = z.object({
  model: z.string().min(1),
  tokens: z.array(z.number()),
});

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new ServerError("invalid_request_error", "the request body must be a JSON object");
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw zodToServerErrorAt(parsed.error, "", body);
  return parsed.data;
}

/** The model `model` names (the default profile's choice for a generic name). */
export function servedModel(deps: Pick<TokenizeDeps, "config" | "pool">, model: string): ServedModel {
  return deps.pool.route(model, effectiveProfiles(deps.config)[deps.config.profile]).model;
}

export async function tokenize(deps: TokenizeDeps, body: unknown): Promise<TokenizeResponseWire> {
  const wire = parse(tokenizeSchema, body);
  const model = servedModel(deps, wire.model);
  const limit = model.engine.info.contextSize;
  let tokens: number[];
  if (wire.prompt !== undefined && wire.messages === undefined) {
    tokens = await deps.renderPool.encodeRaw(wire.prompt, limit);
  } else if (wire.messages !== undefined && wire.prompt === undefined) {
    // Every chat field the rendering reads (tools, response_format, reasoning_effort, ...).
    const rendered = await deps.renderPool.render(parseChatRequest(body), deps.config.date, limit);
    tokens = Array.from(rendered.tokens);
  } else {
    throw new ServerError("invalid_value", "send either `prompt` (a string) or `messages`, not both", {
      param: wire.prompt === undefined ? "prompt" : "messages",
    });
  }
  const tokenizer = getHarmonyTokenizer();
  return {
    count: tokens.length,
    max_model_len: limit,
    tokens,
    ...(wire.return_token_strs === true
      ? { token_strs: tokens.map((t) => tokenizer.tokenText(t) ?? "") }
      : {}),
  };
}

export function detokenize(deps: TokenizeDeps, body: unknown): DetokenizeResponseWire {
  const wire = parse(detokenizeSchema, body);
  servedModel(deps, wire.model);
  return { prompt: getHarmonyTokenizer().decode(checkTokenIds(wire.tokens, "tokens")) };
}
