/**
 * What the gate and the bench record about one request. Times are milliseconds on the client's
 * monotonic clock (performance.now()), so differences are durations and never jump with NTP.
 */
export interface RequestResult {
  ok: boolean;
  /** HTTP status; 0 when no response arrived (connection refused, reset, timeout). */
  status: number;
  /** Why it failed: an HTTP error body's message, a streamed error event, a network error. */
  error?: string;
  /** Error `code` from the OpenAI envelope when the server sent one. */
  errorCode?: string;
  sentAt: number;
  /** The first streamed chunk carrying generated text (content, reasoning or a tool call). */
  firstTokenAt?: number;
  endAt: number;
  /** Arrival time of every token-bearing chunk, for inter-token latency. */
  tokenTimes: number[];
  /** usage.completion_tokens when the server reported it, else the token-bearing chunks counted. */
  outputTokens: number;
  promptTokens?: number;
  /** usage.prompt_tokens_details.cached_tokens: prompt tokens served from the server's cache. */
  cachedTokens?: number;
  /** Tool calls the answer made (streamed deltas merged by index), in order. */
  toolCalls?: ToolCallResult[];
  /** The server's X-Request-Id header (our server; others may send none). */
  requestId?: string;
  finishReason?: string;
  /** Whether the stream ended with `data: [DONE]` (streaming requests only). */
  sawDone?: boolean;
  /** Whether usage arrived (stream_options.include_usage or the non-streaming body). */
  sawUsage?: boolean;
}

/** One tool call of an answer, as the wire sent it (arguments is a JSON string, maybe invalid). */
export interface ToolCallResult {
  id: string;
  name: string;
  arguments: string;
}
