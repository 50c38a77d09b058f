/**
 * llama.cpp's `llama-server` as an upstream (the bundled llama.cpp's tools/server; built by
 * scripts/build-llama-server.sh), at token level: the prompt our harmony layer rendered goes to its
 * native `/completion` as token ids, and the generated ids come back in each streamed chunk's
 * `tokens` (`return_tokens`). Grammars are llama.cpp's own GBNF, `<[id]>` token references included,
 * so `req.grammar` goes as it is (`grammar: true`).
 *
 * What llama-server does on its own, and how this dialect keeps our semantics (engine.ts):
 * - It stops on its vocabulary's end-of-generation (EOG) tokens, always. For gpt-oss those are
 *   <|return|>, <|call|> and <|endoftext|>; llama.cpp takes <|end|> out of the EOG set when a vocab
 *   has both <|return|> and <|call|> (src/llama-vocab.cpp, "workaround for o200k_harmony"), so it
 *   does not stop after the analysis message. An EOG token the request does not stop on is banned
 *   (logit bias `false`): llama-server could only stop there. That is also how its `ignore_eos`
 *   works, so `ignoreStopTokens` gets that reading: the EOG tokens are never sampled (vLLM samples
 *   them and carries on), and the generation runs to its budget all the same.
 * - It knows no other stop token: a stop token that is not EOG (a client's `stop_token_ids`) is
 *   found here, and the stream is left there (`last`: the engine closes the request, which cancels
 *   the upstream's generation).
 * - It has no `min_tokens`: EOG tokens are held off by a grammar that allows them only after
 *   `minTokens - 1` other tokens (llama.cpp's grammar sampler admits an EOG token only where the
 *   grammar is complete), so a stop can end the generation from the minTokens-th token on.
 * - Its sampler chain has top_k 40 and min_p 0.05 by default; OpenAI's sampling is temperature and
 *   top_p alone, so the others are set to their neutral values.
 * - Its presence and frequency penalties count the last `repeat_last_n` tokens of the prompt and the
 *   output together (the prompt is fed to its sampler); OpenAI's count the output alone. The window
 *   is set to the budget: every generated token counts, and the prompt's tail until the output
 *   fills it.
 * - A streamed chunk is held back while the text ends inside a UTF-8 character, and the chunk that
 *   completes it carries the text of every token since but only the last id (tools/server
 *   server-context.cpp, process_token). Such gaps are seen from `tokens_predicted` and filled by
 *   encoding the chunk's text (llama-server-gaps.ts): the text is exact, the ids one encoding of it.
 */
import type { GenerationRequest, GenerationUsage } from "../engine.ts";
import { parsePayload, type DialectContext, type StreamReader, type UpstreamDialect } from "./dialect.ts";
import { fillGap } from "./llama-server-gaps.ts";

/**
 * gpt-oss's end-of-generation tokens in llama.cpp: <|endoftext|>, <|return|>, <|call|>
 * (src/llama-vocab.cpp). test/upstream-llama-server.test.ts checks that the real server ends a
 * generation on exactly these, and not on <|end|>.
 */
export const LLAMA_SERVER_EOG_TOKENS: readonly number[] = Object.freeze([199999, 200002, 200012]);

/** Samplers of llama-server's chain that OpenAI's API does not have, at their neutral values. */
const NEUTRAL_SAMPLERS = {
  top_k: 0,
  min_p: 0,
  typical_p: 1,
  top_n_sigma: -1,
  xtc_probability: 0,
  dry_multiplier: 0,
  mirostat: 0,
  repeat_penalty: 1,
};

/** One streamed chunk of `/completion` (a partial, or the final one with `stop: true`). */
interface CompletionChunk {
  content?: string;
  tokens?: number[];
  stop?: boolean;
  /** eos, limit, word or none, on the final chunk. */
  stop_type?: string;
  /** Tokens generated so far, this chunk's included. */
  tokens_predicted?: number;
  /** The prompt's length. */
  tokens_evaluated?: number;
  timings?: { cache_n?: number };
}

/** The tokens that end this request's generation (engine.ts: none under ignoreStopTokens, unless a grammar). */
function stopsOf(req: GenerationRequest): Set<number> {
  return new Set(req.ignoreStopTokens === true && req.grammar === undefined ? [] : req.stopTokens);
}

/** Stop tokens are not to end the generation before this many tokens (engine.ts: not under a grammar). */
function minTokensOf(req: GenerationRequest): number {
  return req.grammar === undefined && req.ignoreStopTokens !== true ? (req.minTokens ?? 0) : 0;
}

/** The request's bias, and `false` (llama-server's ban) on every EOG token it does not stop on. */
function logitBias(req: GenerationRequest, stops: Set<number>): Record<string, number | false> {
  const bias: Record<string, number | false> = Object.fromEntries(req.sampling.logitBias);
  for (const t of LLAMA_SERVER_EOG_TOKENS) if (!stops.has(t)) bias[t] = false;
  return bias;
}

/**
 * A grammar that admits EOG tokens only after `n` tokens: `t`, `!<[id]>` of an EOG id, is any
 * non-EOG token (EOG tokens never reach the grammar's token match). llama.cpp refuses more than
 * 2,000 repetitions of one element, hence runs of 1,000.
 */
function atLeastTokensGrammar(n: number): string {
  const runs = Math.floor(n / 1000);
  const rest = n % 1000;
  const head = [runs > 0 ? `k{${runs}}` : "", rest > 0 ? `t{${rest}}` : ""].filter((p) => p !== "");
  const rules = [`root ::= ${[...head, "t*"].join(" ")}`];
  if (runs > 0) rules.push("k ::= t{1000}");
  rules.push(`t ::= !<[${LLAMA_SERVER_EOG_TOKENS[0]}]>`);
  return `${rules.join("\n")}\n`;
}

/** llama-server's seed is a uint32 (0xFFFFFFFF: draw one); ours any integer. */
function seedOf(seed: number): number {
  return Number(BigInt.asUintN(32, BigInt(seed)));
}

export const llamaServerDialect: UpstreamDialect = {
  name: "llama-server",
  grammar: true,
  parsedOutput: false,
  healthPath: "/health",

  request(req: GenerationRequest, { budget }: DialectContext) {
    const s = req.sampling;
    const stops = stopsOf(req);
    const minTokens = minTokensOf(req);
    const grammar = req.grammar?.gbnf ?? (minTokens > 1 ? atLeastTokensGrammar(minTokens - 1) : undefined);
    return {
      path: "/completion",
      body: {
        prompt: req.promptTokens,
        n_predict: budget,
        stream: true,
        return_tokens: true,
        cache_prompt: true,
        temperature: s.temperature,
        top_p: s.topP,
        ...NEUTRAL_SAMPLERS,
        ...(s.seed !== undefined ? { seed: seedOf(s.seed) } : {}),
        presence_penalty: s.presencePenalty,
        frequency_penalty: s.frequencyPenalty,
        repeat_last_n: budget,
        logit_bias: logitBias(req, stops),
        ...(grammar !== undefined ? { grammar } : {}),
      },
    };
  },

  reader(req: GenerationRequest): StreamReader {
    const stops = stopsOf(req);
    const minTokens = minTokensOf(req);
    /** Tokens llama-server has generated as far as the chunks read tell (its `tokens_predicted`). */
    let predicted = 0;
    let emitted = 0;
    let lastToken: number | undefined;
    let ended = false;
    return (data: string, usage: GenerationUsage) => {
      // After a stop found here, llama-server is still generating until the engine closes the stream.
      if (ended) return { events: [] };
      const chunk = parsePayload<CompletionChunk>(data);
      if (chunk.tokens_evaluated !== undefined) usage.promptTokens = chunk.tokens_evaluated;
      if (chunk.timings?.cache_n !== undefined) usage.cachedTokens = chunk.timings.cache_n;
      if (chunk.stop === true) {
        ended = true;
        // llama-server's count: tokens lost to a gap at the very end (a cut UTF-8 character) count too.
        if (chunk.tokens_predicted !== undefined) usage.completionTokens = chunk.tokens_predicted;
        // The final chunk repeats no token: its `tokens` are empty when streaming.
        const reason = chunk.stop_type === "limit" ? "length" : "stop";
        const stopToken =
          reason === "stop" && lastToken !== undefined && stops.has(lastToken) ? lastToken : undefined;
        return { events: [], finish: stopToken === undefined ? { reason } : { reason, stopToken } };
      }
      let ids = chunk.tokens ?? [];
      if (ids.length === 0) return { events: [] };
      const now = chunk.tokens_predicted ?? predicted + ids.length;
      if (now - predicted > ids.length) ids = fillGap(ids, chunk.content ?? "");
      predicted = now;
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i]!;
        emitted += 1;
        lastToken = id;
        if (stops.has(id) && emitted >= minTokens && !LLAMA_SERVER_EOG_TOKENS.includes(id)) {
          // A stop llama-server does not know: the answer ends here, whatever it generates next.
          ended = true;
          return {
            events: [{ type: "tokens", tokens: ids.slice(0, i + 1) }],
            finish: { reason: "stop", stopToken: id },
            last: true,
          };
        }
      }
      return { events: [{ type: "tokens", tokens: ids }] };
    };
  },
};
