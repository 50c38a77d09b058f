/**
 * Legacy Completions request (`POST /v1/completions`, OpenAI's and vLLM's): wire JSON → a validated
 * CompletionRequest. The prompt is raw: text the client rendered in harmony itself (control tokens
 * spelled out) or token ids; nothing is rendered around it.
 */
import { z } from "zod";
import { ServerError } from "../errors/server-error.ts";
import { checkTokenIds } from "./raw-prompt.ts";
import { parseLogitBias, parseStop, samplingFields } from "./sampling-fields.ts";
import { zodToServerErrorAt } from "./zod-error.ts";

/** The prompt as sent: text (tokenized with control tokens recognised) or token ids. */
export type RawPrompt = { text: string } | { tokens: number[] };

export interface CompletionRequest {
  model: string;
  prompt: RawPrompt;
  maxTokens?: number;
  temperature?: number;
  topP: number;
  seed?: number;
  stop: string[];
  presencePenalty: number;
  frequencyPenalty: number;
  logitBias: Map<number, number>;
  stream: boolean;
  includeUsage: boolean;
  /** Alternatives per token (0..20, vLLM's cap; OpenAI's is 5); absent: no logprobs. */
  logprobs?: number;
  /** Put the prompt's text before the completion's. */
  echo: boolean;
  profile?: string;
  ignoreEos: boolean;
  minTokens: number;
  /** vLLM's `return_token_ids`: the prompt's and the output's token ids ride on the choice. */
  returnTokenIds: boolean;
  /** vLLM's `stop_token_ids`: more tokens that end the generation (each inside the vocabulary). */
  stopTokenIds: number[];
  /** vLLM's `skip_special_tokens`: leave control tokens out of `text` (default false here). */
  skipSpecialTokens: boolean;
}

const tokenArray = z.array(z.number()).min(1);

const completionSchema = z.object({
  model: z.string().min(1),
  prompt: z.union([z.string(), z.array(z.string()), tokenArray, z.array(tokenArray)]),
  max_tokens: z.number().int().min(1).nullish(),
  ...samplingFields,
  logprobs: z.number().int().min(0).max(20).nullish(),
  echo: z.boolean().nullish(),
  n: z.number().int().min(1).nullish(),
  best_of: z.number().int().min(1).nullish(),
  suffix: z.string().nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  user: z.string().nullish(),
  profile: z.string().nullish(),
  ignore_eos: z.boolean().nullish(),
  min_tokens: z.number().int().min(0).nullish(),
  // vLLM's extensions for token-level clients (docs/completions.md, "vLLM extensions").
  return_token_ids: z.boolean().nullish(),
  stop_token_ids: z.array(z.number()).nullish(),
  skip_special_tokens: z.boolean().nullish(),
});

type Wire = z.infer<typeof completionSchema>;

/** One prompt: a list of several is a batch, which would need one choice per prompt (not served). */
function onePrompt(prompt: Wire["prompt"]): RawPrompt {
  if (typeof prompt === "string") return { text: prompt };
  if (prompt.length === 0) {
    throw new ServerError("invalid_value", "prompt: the list is empty", { param: "prompt" });
  }
  if (prompt.length > 1 && (typeof prompt[0] === "string" || Array.isArray(prompt[0]))) {
    throw new ServerError(
      "invalid_value",
      "prompt: one prompt per request; send the others as separate requests (they run concurrently)",
      { param: "prompt" },
    );
  }
  const first = prompt[0];
  if (typeof first === "string") return { text: first };
  if (Array.isArray(first)) return { tokens: checkTokenIds(first, "prompt.0") };
  return { tokens: checkTokenIds(prompt as number[], "prompt") };
}

function refuse(param: string, message: string): never {
  throw new ServerError("invalid_value", message, { param });
}

export function parseCompletionRequest(body: unknown): CompletionRequest {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new ServerError("invalid_request_error", "the request body must be a JSON object");
  }
  const parsed = completionSchema.safeParse(body);
  if (!parsed.success) throw zodToServerErrorAt(parsed.error, "", body);
  const wire = parsed.data;
  if ((wire.n ?? 1) !== 1) {
    refuse(
      "n",
      "n: only n=1 is supported: each extra choice would need its own sequence sharing the prompt's KV cache, " +
        "which this server does not do yet; send parallel requests (with different seeds) instead",
    );
  }
  if ((wire.best_of ?? 1) !== 1) refuse("best_of", "best_of: only 1 is supported");
  if (wire.suffix !== null && wire.suffix !== undefined && wire.suffix !== "") {
    refuse("suffix", "suffix: insertion (fill-in-the-middle) is not supported by gpt-oss");
  }
  const echo = wire.echo ?? false;
  const logprobs = wire.logprobs ?? undefined;
  if (echo && logprobs !== undefined) {
    refuse("echo", "echo with logprobs would need the prompt tokens' logprobs, which are not computed");
  }
  const logitBias = parseLogitBias(wire.logit_bias);
  return {
    model: wire.model,
    prompt: onePrompt(wire.prompt),
    ...(wire.max_tokens !== null && wire.max_tokens !== undefined ? { maxTokens: wire.max_tokens } : {}),
    ...(wire.temperature !== null && wire.temperature !== undefined ? { temperature: wire.temperature } : {}),
    topP: wire.top_p ?? 1,
    ...(wire.seed !== null && wire.seed !== undefined ? { seed: wire.seed } : {}),
    stop: parseStop(wire.stop),
    presencePenalty: wire.presence_penalty ?? 0,
    frequencyPenalty: wire.frequency_penalty ?? 0,
    logitBias,
    stream: wire.stream ?? false,
    includeUsage: wire.stream_options?.include_usage ?? false,
    ...(logprobs !== undefined ? { logprobs } : {}),
    echo,
    ...(wire.profile !== null && wire.profile !== undefined ? { profile: wire.profile } : {}),
    ignoreEos: wire.ignore_eos ?? false,
    minTokens: wire.min_tokens ?? 0,
    returnTokenIds: wire.return_token_ids ?? false,
    stopTokenIds: checkTokenIds(wire.stop_token_ids ?? [], "stop_token_ids"),
    // Absent means false, unlike vLLM (true): this route's clients read harmony's control tokens.
    skipSpecialTokens: wire.skip_special_tokens ?? false,
  };
}
