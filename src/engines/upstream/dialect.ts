/**
 * An upstream's dialect: how a generation request is written for that server and how its streamed
 * answer is read back (issue 12). The transport, circuit breaker, health probe and cancellation are
 * the same for every dialect (upstream-engine.ts); a dialect is only the two ends of the wire.
 *
 * Token-level dialects (vLLM, SGLang, llama-server) send the prompt our harmony layer rendered as
 * token ids and read the generated ids back, so our parser, stop handling and budgets apply to every
 * engine alike. A chat-level dialect (any OpenAI-compatible server) sends messages and reads
 * reasoning, content and tool calls as the server parsed them (ParsedOutputEvent).
 */
import type {
  FinishReason,
  GenerationEvent,
  GenerationRequest,
  GenerationUsage,
  ParsedOutputEvent,
} from "../engine.ts";

export const DIALECT_NAMES = ["vllm", "sglang", "llama-server", "openai-chat"] as const;
export type DialectName = (typeof DIALECT_NAMES)[number];

/** What the engine knows when it writes a request. */
export interface DialectContext {
  /** The upstream's model id (from /v1/models). */
  model: string;
  /** Generated tokens allowed (the request's max_tokens within the context left). */
  budget: number;
}

/** One HTTP call to the upstream: always a POST of JSON answered with a server-sent event stream. */
export interface UpstreamCall {
  path: string;
  body: Record<string, unknown>;
}

/** The engine events one streamed payload carries (tokens or parsed deltas), and the finish when it came. */
export interface StreamStep {
  events: Array<Exclude<GenerationEvent, { type: "finish" }> | ParsedOutputEvent>;
  finish?: { reason: Exclude<FinishReason, "cancelled">; stopToken?: number };
  /**
   * Nothing after this payload counts: the engine stops reading and closes the request, which ends
   * the upstream's generation (a dialect that found a stop the upstream does not know).
   */
  last?: boolean;
}

/** Reads one response stream: each SSE `data:` payload in order (`[DONE]` included), updating `usage`. */
export type StreamReader = (data: string, usage: GenerationUsage) => StreamStep;

export interface UpstreamDialect {
  readonly name: DialectName;
  /** Takes the request's constraint (`req.grammar` or `req.output`) in its own form. */
  readonly grammar: boolean;
  /** Answers with ParsedOutputEvents (chat level) rather than token ids. */
  readonly parsedOutput: boolean;
  /** Probed for health (GET; any 2xx is healthy). */
  readonly healthPath: string;
  request(req: GenerationRequest, context: DialectContext): UpstreamCall;
  reader(req: GenerationRequest): StreamReader;
}

/** A streamed payload the upstream sent as an error (vLLM and others write `{"error": {...}}` mid-stream). */
export class UpstreamStreamError extends Error {
  override name = "UpstreamStreamError";
}

/** Parses a payload, turning an `{"error": ...}` object into an UpstreamStreamError. */
export function parsePayload<T>(data: string): T {
  const value = JSON.parse(data) as T & { error?: { message?: string } | string };
  if (value !== null && typeof value === "object" && "error" in value && value.error !== undefined) {
    const e = value.error;
    throw new UpstreamStreamError(typeof e === "string" ? e : (e.message ?? "upstream error event"));
  }
  return value;
}
