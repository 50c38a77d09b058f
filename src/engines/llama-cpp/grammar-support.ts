/**
 * Grammar-constrained decoding on node-llama-cpp 3.22.1 (engine.ts `GenerationRequest.grammar`).
 *
 * The GBNF goes to llama.cpp's grammar sampler through `grammarEvaluationState` in
 * `sequence.evaluate`: node-llama-cpp samples as usual, checks the sampled token against the
 * grammar, and only when it is rejected masks the whole vocabulary with the grammar and samples
 * again. So free regions of a grammar cost one token check per step. llama.cpp's GBNF here
 * supports token references (`<[200005]>`, `!<[200007]>`), which is what lets one grammar cover
 * harmony's control tokens and text.
 *
 * Two llama.cpp facts shape the rest: the grammar sampler allows an end-of-generation token only
 * where the grammar is complete (any EOG token: it cannot tell <|return|> from <|call|>), and it
 * never accepts one into its state. Hence end-of-generation tokens the request does not stop on are
 * banned, and a stop token always ends a grammar-constrained generation.
 */
import { LlamaGrammarEvaluationState, type Llama, type LlamaGrammar, type LlamaModel } from "node-llama-cpp";
import { ServerError } from "../../errors/server-error.ts";

/** Parsed grammars kept per engine: requests of one API shape repeat the same grammar. */
const CACHE_CAPACITY = 32;

export class GrammarCache {
  readonly #llama: Llama;
  readonly #model: LlamaModel;
  readonly #grammars = new Map<string, Promise<LlamaGrammar>>();

  constructor(llama: Llama, model: LlamaModel) {
    this.#llama = llama;
    this.#model = model;
  }

  /** A fresh evaluation state (one per generation) for `gbnf`; a 500 if llama.cpp cannot parse it. */
  async evaluationState(gbnf: string): Promise<LlamaGrammarEvaluationState> {
    let grammar = this.#grammars.get(gbnf);
    if (grammar === undefined) {
      grammar = this.#llama.createGrammar({ grammar: gbnf });
      this.#grammars.set(gbnf, grammar);
      grammar.catch(() => this.#grammars.delete(gbnf));
      if (this.#grammars.size > CACHE_CAPACITY) {
        const oldest = this.#grammars.keys().next().value;
        if (oldest !== undefined) this.#grammars.delete(oldest);
      }
    } else {
      // Least recently used goes first: move this one to the end.
      this.#grammars.delete(gbnf);
      this.#grammars.set(gbnf, grammar);
    }
    try {
      return new LlamaGrammarEvaluationState({ model: this.#model, grammar: await grammar });
    } catch (error) {
      throw new ServerError(
        "engine_error",
        `llama.cpp rejected the request's grammar: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }
}

/** The model's end-of-generation token ids (for gpt-oss: <|endoftext|>, <|return|>, <|call|>). */
export function endOfGenerationTokens(model: LlamaModel): number[] {
  const tokens = (model.fileInfo.metadata as { tokenizer?: { ggml?: { tokens?: unknown } } }).tokenizer?.ggml
    ?.tokens;
  const size = Array.isArray(tokens) ? tokens.length : 0;
  const eog: number[] = [];
  for (let id = 0; id < size; id++) if (model.isEogToken(id as never)) eog.push(id);
  return eog;
}

/** The request's logit bias plus a ban on every end-of-generation token it does not stop on. */
export function withEogBans(
  logitBias: ReadonlyMap<number, number>,
  eogTokens: readonly number[],
  stopTokens: readonly number[],
): ReadonlyMap<number, number> {
  const stops = new Set(stopTokens);
  const banned = eogTokens.filter((t) => !stops.has(t));
  if (banned.length === 0) return logitBias;
  const bias = new Map(logitBias);
  for (const t of banned) bias.set(t, -100);
  return bias;
}
