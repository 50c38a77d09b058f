/**
 * OpenAI Chat Completions wire shapes (snake_case, no logic), plus the v4.5.1 extras that ride beside
 * the standard fields. Request validation lives in serving/chat-request.ts.
 */

export interface ChatToolCallWire {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export interface ChatMessageWire {
  role: "assistant";
  content: string | null;
  reasoning?: string;
  /** Same text as `reasoning`, under the name some clients (DeepSeek-style) read. */
  reasoning_content?: string;
  tool_calls?: ChatToolCallWire[];
  refusal: null;
}

export interface UsageWire {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
  completion_tokens_details: { reasoning_tokens: number };
}

/** v4.5.1 extras, on every response and chunk. */
export interface ServerExtrasWire {
  chosen_engine: string;
  profile: string;
  request_id: string;
  /** Present when the profile's preferred model is not served and another one answered. */
  model_fallback?: { requested: string; served: string; reason: string };
}

export type FinishReasonWire = "stop" | "length" | "tool_calls";

/** OpenAI's per-token logprob (Chat `logprobs.content[]`, Responses `output_text.logprobs[]`). */
export interface TopLogprobWire {
  token: string;
  logprob: number;
  /** The token's UTF-8 bytes (a token may hold part of a character); null when it has none. */
  bytes: number[] | null;
}

export interface TokenLogprobWire extends TopLogprobWire {
  top_logprobs: TopLogprobWire[];
}

export interface ChatLogprobsWire {
  content: TokenLogprobWire[] | null;
  refusal: TokenLogprobWire[] | null;
}

export interface ChatCompletionWire extends ServerExtrasWire {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  system_fingerprint: string;
  choices: Array<{
    index: number;
    message: ChatMessageWire;
    finish_reason: FinishReasonWire;
    logprobs: ChatLogprobsWire | null;
  }>;
  usage: UsageWire;
}

export interface ChatDeltaWire {
  role?: "assistant";
  content?: string;
  reasoning?: string;
  reasoning_content?: string;
  tool_calls?: Array<{
    index: number;
    id?: string;
    type?: "function";
    function: { name?: string; arguments: string };
  }>;
}

export interface ChatChunkWire extends ServerExtrasWire {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  system_fingerprint: string;
  choices: Array<{
    index: number;
    delta: ChatDeltaWire;
    finish_reason: FinishReasonWire | null;
    logprobs: ChatLogprobsWire | null;
  }>;
  usage?: UsageWire | null;
}
