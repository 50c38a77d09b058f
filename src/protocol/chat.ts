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
    logprobs: null;
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
    logprobs: null;
  }>;
  usage?: UsageWire | null;
}
