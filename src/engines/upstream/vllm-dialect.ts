/**
 * vLLM's dialect (and this server's own, whose /v1/completions speaks the same extras): the prompt
 * as token ids to `/v1/completions`, the generated ids back with `return_token_ids` (vLLM 0.10.2+).
 *
 * Our stop set is the whole stop set: `ignore_eos` keeps the upstream from stopping on its own EOS,
 * and it stops exactly at `stop_token_ids` (none when the request ignores its stops).
 *
 * A constraint goes as `structured_outputs: {grammar}` in xgrammar's EBNF (xgrammar-ebnf.ts). That
 * field came with vLLM 0.10.2, the release that brought `return_token_ids`, so every vLLM this
 * dialect can talk to takes it; the older `guided_grammar` was deprecated there and removed in 0.12,
 * where vLLM ignores it silently (the output would come back unconstrained). Under a grammar a stop
 * always ends the generation (engine.ts): the stop set is sent whole and `min_tokens` is not.
 *
 * vLLM started with `--reasoning-parser openai_gptoss` applies a grammar only after it sees the
 * final channel begin (vllm/reasoning/gptoss_reasoning_parser.py), while ours covers the whole
 * output from the first token: such a server needs `--structured-outputs-config.enable_in_reasoning`
 * or no reasoning parser (the gateway parses harmony itself).
 */
import type { GenerationRequest, GenerationUsage } from "../engine.ts";
import { parsePayload, type DialectContext, type StreamReader, type UpstreamDialect } from "./dialect.ts";
import { toXgrammarEbnf } from "./xgrammar-ebnf.ts";

/** OpenAI's usage, on the last chunk of a stream asked for it (`stream_options.include_usage`). */
export interface UsageChunk {
  usage?: {
    prompt_tokens?: number;
    completion_tokens?: number;
    prompt_tokens_details?: { cached_tokens?: number } | null;
  } | null;
}

interface CompletionChunk extends UsageChunk {
  choices?: Array<{
    token_ids?: number[] | null;
    finish_reason?: string | null;
    stop_reason?: number | string | null;
  }>;
}

/** The sampling fields vLLM and SGLang name alike (OpenAI's names). */
export function openAiSampling(req: GenerationRequest): Record<string, unknown> {
  const s = req.sampling;
  return {
    temperature: s.temperature,
    top_p: s.topP,
    ...(s.seed !== undefined ? { seed: s.seed } : {}),
    presence_penalty: s.presencePenalty,
    frequency_penalty: s.frequencyPenalty,
    ...(s.logitBias.size > 0 ? { logit_bias: Object.fromEntries(s.logitBias) } : {}),
  };
}

export const vllmDialect: UpstreamDialect = {
  name: "vllm",
  grammar: true,
  parsedOutput: false,
  healthPath: "/health",

  request(req: GenerationRequest, { model, budget }: DialectContext) {
    const constrained = req.grammar !== undefined;
    const minTokens = constrained ? 0 : (req.minTokens ?? 0);
    return {
      path: "/v1/completions",
      body: {
        model,
        prompt: req.promptTokens,
        max_tokens: budget,
        ...openAiSampling(req),
        ignore_eos: true,
        stop_token_ids: req.ignoreStopTokens === true && !constrained ? [] : req.stopTokens,
        ...(minTokens > 0 ? { min_tokens: minTokens } : {}),
        stream: true,
        stream_options: { include_usage: true },
        return_token_ids: true,
        skip_special_tokens: false,
        ...(req.grammar !== undefined
          ? { structured_outputs: { grammar: toXgrammarEbnf(req.grammar.gbnf, req.stopTokens) } }
          : {}),
      },
    };
  },

  reader(req: GenerationRequest): StreamReader {
    let lastToken: number | undefined;
    return (data: string, usage: GenerationUsage) => {
      if (data === "[DONE]") return { events: [] };
      const chunk = parsePayload<CompletionChunk>(data);
      readUsage(chunk, usage);
      const choice = chunk.choices?.[0];
      if (choice === undefined) return { events: [] };
      const ids = choice.token_ids ?? [];
      const events: ReturnType<StreamReader>["events"] = [];
      if (ids.length > 0) {
        lastToken = ids[ids.length - 1];
        events.push({ type: "tokens", tokens: ids });
      }
      if (choice.finish_reason === null || choice.finish_reason === undefined) return { events };
      const reason = choice.finish_reason === "length" ? "length" : "stop";
      // vLLM says null when the model's own EOS stopped it: the last id is that token.
      const stopToken =
        typeof choice.stop_reason === "number"
          ? choice.stop_reason
          : lastToken !== undefined && req.stopTokens.includes(lastToken)
            ? lastToken
            : undefined;
      return { events, finish: stopToken === undefined ? { reason } : { reason, stopToken } };
    };
  },
};

export function readUsage(chunk: UsageChunk, usage: GenerationUsage): void {
  const u = chunk.usage;
  if (u === null || u === undefined) return;
  if (u.prompt_tokens !== undefined) usage.promptTokens = u.prompt_tokens;
  if (u.completion_tokens !== undefined) usage.completionTokens = u.completion_tokens;
  usage.cachedTokens = u.prompt_tokens_details?.cached_tokens ?? usage.cachedTokens;
}
