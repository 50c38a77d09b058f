/**
 * SGLang's dialect: its native `POST /generate` with the prompt as `input_ids`, streamed, the
 * generated ids read back from `output_ids` (SGLang's own API, docs/basic_usage/sampling_params.md
 * and native_api; the fields are those of `GenerateReqInput` in srt/managers/io_struct.py and
 * `SamplingParams` in srt/sampling/sampling_params.py). The stream is `data: {json}` events ended by
 * `data: [DONE]`, an error as `data: {"error": {"message": …}}` (srt/entrypoints/http_server.py).
 *
 * Each event carries `output_ids` and `meta_info` {prompt_tokens, completion_tokens, cached_tokens,
 * finish_reason}. By default `output_ids` holds every id generated so far; a server started with
 * `--incremental-streaming-output` sends only the new ones (tokenizer_manager's output processor).
 * Which one an event is follows from `completion_tokens` (the ids generated up to that event): a
 * cumulative list is at least that long, a delta after the first event is shorter. The reader keeps
 * count of the ids it yielded, so either way each id is yielded once.
 *
 * Stops: in SGLang `ignore_eos` turns off every token stop, `stop_token_ids` included
 * (Req._check_token_based_finish), so unlike vLLM it cannot ignore the model's EOS while keeping our
 * stop set. Our stop set goes as `stop_token_ids` and SGLang stops on the model's own EOS ids too
 * (gpt-oss's generation_config: <|return|>, <|call|> and <|endoftext|>); the finish names the id that
 * stopped it. `ignore_eos` is sent only when the request ignores stops altogether; a raw completion
 * that ignores EOS but names stop ids of its own also stops at an EOS here.
 *
 * A constraint goes as `sampling_params.ebnf` (xgrammar-ebnf.ts), compiled by SGLang's default
 * grammar backend, xgrammar.
 */
import type { GenerationRequest, GenerationUsage } from "../engine.ts";
import {
  parsePayload,
  UpstreamStreamError,
  type DialectContext,
  type StreamReader,
  type StreamStep,
  type UpstreamDialect,
} from "./dialect.ts";
import { toXgrammarEbnf } from "./xgrammar-ebnf.ts";

/** One streamed event of `/generate` (tokenizer_manager's out_dict). */
interface GenerateChunk {
  output_ids?: number[] | null;
  meta_info?: {
    prompt_tokens?: number;
    completion_tokens?: number;
    cached_tokens?: number;
    /** FINISH_MATCHED_TOKEN / _STR: {type: "stop", matched}; FINISH_LENGTH: {type: "length"}; FINISH_ABORT: {type: "abort", message}. */
    finish_reason?: {
      type?: string;
      matched?: number | number[] | string | null;
      message?: string;
    } | null;
  };
}

/** `sampling_params` of a request (SGLang's SamplingParams names). */
function samplingParams(req: GenerationRequest, budget: number): Record<string, unknown> {
  const s = req.sampling;
  const constrained = req.grammar !== undefined;
  // Under a grammar a stop always ends the generation (engine.ts): stops kept, no minimum.
  const ignoreStops = req.ignoreStopTokens === true && !constrained;
  const minTokens = constrained ? 0 : (req.minTokens ?? 0);
  return {
    max_new_tokens: budget,
    temperature: s.temperature,
    top_p: s.topP,
    presence_penalty: s.presencePenalty,
    frequency_penalty: s.frequencyPenalty,
    // SGLang's per-request seed (honoured when the server runs with --enable-deterministic-inference).
    ...(s.seed !== undefined ? { sampling_seed: s.seed } : {}),
    // Dict[str, float]: token id (as a string key) -> bias.
    ...(s.logitBias.size > 0 ? { logit_bias: Object.fromEntries(s.logitBias) } : {}),
    ...(ignoreStops ? { ignore_eos: true } : { ignore_eos: false, stop_token_ids: req.stopTokens }),
    ...(minTokens > 0 ? { min_new_tokens: minTokens } : {}),
    skip_special_tokens: false,
    ...(req.grammar !== undefined ? { ebnf: toXgrammarEbnf(req.grammar.gbnf, req.stopTokens) } : {}),
  };
}

export const sglangDialect: UpstreamDialect = {
  name: "sglang",
  grammar: true,
  parsedOutput: false,
  healthPath: "/health",

  request(req: GenerationRequest, { budget }: DialectContext) {
    return {
      path: "/generate",
      body: { input_ids: req.promptTokens, sampling_params: samplingParams(req, budget), stream: true },
    };
  },

  reader(req: GenerationRequest): StreamReader {
    let yielded = 0;
    let lastToken: number | undefined;
    return (data: string, usage: GenerationUsage): StreamStep => {
      if (data === "[DONE]") return { events: [] };
      const chunk = parsePayload<GenerateChunk>(data);
      const meta = chunk.meta_info ?? {};
      if (typeof meta.prompt_tokens === "number") usage.promptTokens = meta.prompt_tokens;
      if (typeof meta.cached_tokens === "number") usage.cachedTokens = meta.cached_tokens;
      // completionTokens is counted by the engine from the ids yielded: every generated id is.
      const total = meta.completion_tokens;
      const ids = chunk.output_ids ?? [];
      const events: StreamStep["events"] = [];
      if (ids.length > 0) {
        if (typeof total !== "number") {
          throw new UpstreamStreamError("SGLang sent output_ids without meta_info.completion_tokens");
        }
        const fresh = ids.length >= total ? ids.slice(yielded) : ids;
        if (fresh.length > 0) {
          yielded += fresh.length;
          lastToken = fresh[fresh.length - 1];
          events.push({ type: "tokens", tokens: fresh });
        }
      }
      const finish = meta.finish_reason;
      if (finish === null || finish === undefined) return { events };
      if (typeof total === "number" && total > yielded) {
        throw new UpstreamStreamError(
          `SGLang reported ${total} generated tokens but streamed ${yielded} output_ids (a version without output_ids in its stream?)`,
        );
      }
      if (finish.type === "length") return { events, finish: { reason: "length" } };
      if (finish.type === "abort") {
        throw new UpstreamStreamError(`SGLang aborted the request: ${finish.message ?? "no reason given"}`);
      }
      if (finish.type !== "stop")
        throw new UpstreamStreamError(`SGLang finished with ${JSON.stringify(finish)}`);
      const matched = Array.isArray(finish.matched)
        ? finish.matched[finish.matched.length - 1]
        : finish.matched;
      // A stop string (never sent by us) or no id: the last id names it when it is one of ours.
      const stopToken =
        typeof matched === "number"
          ? matched
          : lastToken !== undefined && req.stopTokens.includes(lastToken)
            ? lastToken
            : undefined;
      return { events, finish: stopToken === undefined ? { reason: "stop" } : { reason: "stop", stopToken } };
    };
  },
};
