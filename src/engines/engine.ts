/**
 * The engine interface: token level, no HTTP, no OpenAI. Serving renders prompts with the harmony
 * layer, an engine turns prompt tokens into generated tokens, the harmony parser turns those into
 * reasoning/content/tool-call deltas. See shared/design/architecture.md.
 *
 * Errors: `generate` rejects (throws from the iterator) with a ServerError; aborting the signal ends
 * the stream with a `finish` event whose reason is "cancelled" (a client abort is not an error).
 */

export interface SamplingParams {
  /** OpenAI semantics: 0 means greedy. */
  temperature: number;
  /** Nucleus mass in (0, 1]; 1 disables it. */
  topP: number;
  /** Fixed seed for reproducible sampling; undefined draws a random one. */
  seed?: number | undefined;
  /** OpenAI presence/frequency penalties in [-2, 2], applied over generated tokens. */
  presencePenalty: number;
  frequencyPenalty: number;
  /** token id -> bias in [-100, 100], added to the logit. */
  logitBias: ReadonlyMap<number, number>;
}

export interface GenerationRequest {
  /** The server's request id (also used in logs and for cancel). */
  id: string;
  promptTokens: readonly number[];
  sampling: SamplingParams;
  /** Generation ends when one of these is sampled; the token is reported but not counted as content. */
  stopTokens: readonly number[];
  /** Generated-token cap (stop tokens included). */
  maxTokens: number;
  /** Keep generating through stop tokens (vLLM's ignore_eos, for benchmarks). */
  ignoreStopTokens?: boolean;
  /** Stop tokens do not end generation before this many tokens (vLLM's min_tokens). */
  minTokens?: number;
  /** Lower runs first when the engine has to choose. */
  priority?: number;
  /**
   * Constrained decoding (engines whose `capabilities.grammar` is true). Under a grammar a stop
   * token can only be sampled where the grammar is complete, and sampling one always ends the
   * generation (`ignoreStopTokens` and `minTokens` do not apply: nothing may follow a complete
   * output). End-of-generation tokens that are not in `stopTokens` are never sampled.
   */
  grammar?: GenerationGrammar;
  /**
   * What the output must be, by meaning: set on every request whose output is constrained (a
   * response format, tools). An engine that constrains output its own way (an upstream server's
   * guided decoding, a chat-level API) reads this; `grammar` is the same meaning compiled by
   * serving to llama.cpp's GBNF over harmony tokens, set only for engines whose
   * `capabilities.grammar` says they take it.
   */
  output?: OutputSpec;
  /**
   * The conversation by meaning, for engines that take messages rather than token ids (a chat-level
   * upstream, `capabilities.parsedOutput`): set for them only. `promptTokens` is set all the same
   * (the harmony render of this conversation), for budgets, routing affinity and usage.
   */
  conversation?: GenerationConversation;
  /**
   * Report each generated token's log-probability and this many most likely alternatives (0..20),
   * only on engines whose `capabilities.logprobs` is true; undefined: none (the hot path pays
   * nothing). OpenAI's definition, as vLLM's default `raw_logprobs`: the log-softmax of the model's
   * raw logits, before temperature, penalties, logit_bias, grammar and top_p, so a logprob says
   * what the model thinks of the token whatever the sampling settings were.
   */
  logprobs?: number;
}

/** GenerationRequest.conversation: what harmony renders, as plain data (serializable). */
export interface GenerationConversation {
  /** The client's system and developer messages, joined (harmony's developer instructions). */
  instructions?: string;
  messages: readonly ConversationMessage[];
  reasoningEffort: "low" | "medium" | "high";
}

/** A message of the conversation; an assistant's reasoning is its chain of thought across tool calls. */
export type ConversationMessage =
  | { role: "user"; content: string }
  | {
      role: "assistant";
      content?: string;
      reasoning?: string;
      toolCalls?: ReadonlyArray<{ id: string; name: string; arguments: string }>;
    }
  | { role: "tool"; toolCallId: string; name: string; content: string };

/** OutputSpec's tools: a function (JSON arguments, `parameters` its schema) or a freeform one. */
export interface OutputTool {
  name: string;
  /** What the tool does, for engines that show the model the tools themselves. */
  description?: string;
  /** The harmony namespace it is called through; absent: `functions`. */
  namespace?: string;
  parameters?: Record<string, unknown>;
  /** A freeform tool's input: any text, or text in a grammar (regex or lark). */
  freeform?: { type: "text" } | { type: "grammar"; syntax: string; definition: string };
}

/** Structured output by meaning: Chat's `response_format`, Responses' `text.format`. */
export type OutputResponseFormat =
  | { type: "text" }
  | { type: "json_object" }
  | {
      type: "json_schema";
      name: string;
      schema: Record<string, unknown>;
      strict: boolean;
      description?: string;
    };

/** GenerationRequest.output: structured output and tool calls by meaning (plain data, serializable). */
export interface OutputSpec {
  responseFormat: OutputResponseFormat;
  tools: readonly OutputTool[];
  toolChoice: "auto" | "none" | "required" | { name: string };
}

/** A token and its log-probability under the model's raw distribution (GenerationRequest.logprobs). */
export interface TokenAlternative {
  token: number;
  logprob: number;
}

/** One generated token's log-probability and the most likely tokens at its position. */
export interface TokenLogprob {
  logprob: number;
  /** Most likely first (ties: lower id first), `GenerationRequest.logprobs` long. */
  top: readonly TokenAlternative[];
}

/**
 * A grammar over the whole generated output, in llama.cpp's GBNF (root rule `root`). `<[id]>`
 * matches exactly the token `id` and `!<[id]>` any other token; character rules match the text of
 * ordinary tokens (and would match a control token's spelled-out text, so grammars keep control
 * tokens out of free text themselves). Free regions in the grammar leave the model unconstrained
 * there: serving uses that to constrain only a final answer or a tool call's arguments.
 */
export interface GenerationGrammar {
  gbnf: string;
}

export type FinishReason = "stop" | "length" | "cancelled";

export interface GenerationUsage {
  promptTokens: number;
  /** Prompt tokens served from a cached prefix instead of being evaluated. */
  cachedTokens: number;
  completionTokens: number;
}

export type GenerationEvent =
  | {
      type: "tokens";
      tokens: readonly number[];
      /** One per token, when the request asked for logprobs. */
      logprobs?: readonly TokenLogprob[];
    }
  | ParsedOutputEvent
  | {
      type: "finish";
      reason: FinishReason;
      /** The stop token that ended generation, when reason is "stop". */
      stopToken?: number;
      usage: GenerationUsage;
    };

/**
 * Output an engine returns already parsed (an upstream server's chat-level API gives reasoning,
 * content and tool calls, not harmony tokens): serving takes it as it is instead of running the
 * harmony parser. Deltas, in order; a tool call's first delta names it.
 */
export interface ParsedOutputEvent {
  type: "parsed";
  /** Completion tokens this delta accounts for, when the engine knows (usage comes with finish). */
  tokenCount?: number;
  reasoning?: string;
  content?: string;
  toolCall?: { index: number; name?: string; arguments: string };
}

export interface EngineInfo {
  /** "llama-cpp", "fake", later "openai-upstream". Reported as chosen_engine's backend. */
  name: string;
  /** The id clients send as `model`, e.g. "gpt-oss-20b". */
  modelId: string;
  /** "20b" | "120b" | "tiny" | "file". */
  modelSize: string;
  contextSize: number;
  /** How many sequences can generate at once. */
  maxSequences: number;
  gpuMode: string;
  /** GPUs the model is spread over (0 on CPU); absent: not known (v4.5.1's gpu_count, tp, pp). */
  gpuCount?: number;
  /** True for the project's own random-weight models: outputs are noise. */
  randomWeights: boolean;
  capabilities: {
    prefixCache: boolean;
    grammar: boolean;
    /** Can report token logprobs (GenerationRequest.logprobs); absent: false. */
    logprobs?: boolean;
    /**
     * Returns ParsedOutputEvents instead of tokens (a chat-level upstream); absent: false. Such an
     * engine cannot serve raw-prompt completions, whose text is the tokens themselves.
     */
    parsedOutput?: boolean;
  };
}

export interface EngineHealth {
  status: "ready" | "loading" | "failed";
  activeSequences: number;
  /** Wall time of the last completed decode step, if known. */
  lastStepMs?: number;
  detail?: string;
  /** An engine in a worker process (src/engines/worker): its pid, restarts and last exit. */
  worker?: {
    pid: number | null;
    restarts: number;
    lastExit?: { code: number | null; signal: string | null; reason: string; at: string; stderrTail: string };
  };
  /** An upstream server (src/engines/upstream): where it is, how it is spoken to, how it has fared. */
  upstream?: UpstreamHealth;
  /**
   * Several replicas behind one engine (replicated-engine.ts): each one's health, running requests
   * and what the router sent it since start.
   */
  replicas?: Array<EngineHealth & { running: number; routing: ReplicaRouting }>;
}

/** An upstream's own figures since start (the gateway's view of it). */
export interface UpstreamHealth {
  url: string;
  dialect: string;
  /** Requests sent to it. */
  requests: number;
  /** Requests and probes it failed (refused, timed out, 5xx, broke mid-stream). */
  failures: number;
  /** Requests it answered 429 (back-pressure: sent elsewhere, not counted as failures). */
  rateLimited: number;
  /** "open": skipped by the router after failures in a row, until a probe or the cool-down. */
  circuit: "closed" | "open";
  lastError?: string;
  /** Its share of the load against the pool's others (--upstream URL#weight=). */
  weight: number;
}

/** A replica's routing figures since start (replicated-engine.ts says what each one counts). */
export interface ReplicaRouting {
  /** Requests sent to this replica (a failed-over request counts on each replica that ran it). */
  requests: number;
  /** Tokens this replica generated. */
  completionTokens: number;
  /** Requests sent here because this replica had served a prefix of their prompt. */
  affinityHits: number;
  /** Requests sent here because the replica holding their prefix was full. */
  spillOvers: number;
  /** Requests this replica took over from one that died before their first token. */
  failovers: number;
}

export interface Engine {
  readonly info: EngineInfo;
  generate(req: GenerationRequest, signal: AbortSignal): AsyncIterable<GenerationEvent>;
  health(): EngineHealth;
  close(): Promise<void>;
}
