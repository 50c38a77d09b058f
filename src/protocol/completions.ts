/**
 * OpenAI legacy Completions (`POST /v1/completions`) and vLLM's `/tokenize` and `/detokenize` wire
 * shapes (snake_case, no logic). Validation lives in serving/completions-request.ts and
 * serving/tokenize.ts.
 */
import type { ServerExtrasWire } from "./chat.ts";

/** OpenAI's legacy logprobs object: parallel arrays over the choice's tokens. */
export interface CompletionLogprobsWire {
  tokens: string[];
  token_logprobs: (number | null)[];
  /** One map per token, `logprobs` entries each (the sampled token may be among them). */
  top_logprobs: Record<string, number>[] | null;
  /** Character offset of each token in `text`. */
  text_offset: number[];
}

export type CompletionFinishReasonWire = "stop" | "length";

export interface CompletionUsageWire {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

export interface CompletionChoiceWire {
  index: number;
  text: string;
  finish_reason: CompletionFinishReasonWire | null;
  logprobs: CompletionLogprobsWire | null;
  /**
   * vLLM's: the stop token id or the stop string that ended the choice; null while streaming, on
   * `length`, and when the output ended without a stop (docs/completions.md, "vLLM extensions").
   */
  stop_reason: number | string | null;
  /** vLLM's, with `return_token_ids`: the generated token ids (streamed: this chunk's). */
  token_ids?: number[];
  /** vLLM's, with `return_token_ids`: the prompt's token ids (streamed: the first chunk only). */
  prompt_token_ids?: number[];
}

/** The whole response, and (with `stream`) each chunk: the same object with a piece of text. */
export interface CompletionWire extends ServerExtrasWire {
  id: string;
  object: "text_completion";
  created: number;
  model: string;
  system_fingerprint: string;
  choices: CompletionChoiceWire[];
  usage?: CompletionUsageWire | null;
}

export interface TokenizeResponseWire {
  count: number;
  max_model_len: number;
  tokens: number[];
  /** With `return_token_strs`: each token's spelling. */
  token_strs?: string[];
}

export interface DetokenizeResponseWire {
  prompt: string;
}
