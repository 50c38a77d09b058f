/**
 * The domain request shared by every OpenAI-style API this server speaks. camelCase, validated,
 * normalized: code downstream of a request parser trusts it (style rule 1).
 */
import type { OutputResponseFormat } from "../engines/engine.ts";

export interface DomainToolCall {
  id: string;
  name: string;
  /** The arguments JSON, or a freeform tool's raw text input. */
  arguments: string;
  /** The harmony namespace the tool was called through; absent: `functions`. */
  namespace?: string;
  /** A custom (freeform) tool's call: raw text input, rendered without `<|constrain|>json`. */
  freeform?: boolean;
}

export type DomainMessage =
  | { role: "user"; content: string }
  | { role: "assistant"; content?: string; reasoning?: string; toolCalls?: DomainToolCall[] }
  | { role: "tool"; toolCallId: string; name: string; content: string; namespace?: string };

export interface DomainFunctionTool {
  name: string;
  description?: string;
  parameters?: Record<string, unknown>;
  /** The harmony namespace the tool is rendered in and called through; absent: `functions`. */
  namespace?: string;
  /** A custom (freeform) tool: raw text input instead of JSON arguments (Responses `custom`). */
  freeform?: FreeformInput;
}

/** How a freeform tool's input looks: any text, or text in a grammar (shown to the model). */
export type FreeformInput = { type: "text" } | { type: "grammar"; syntax: string; definition: string };

/** A tool namespace's own description (Responses `namespace` tools), rendered above its block. */
export interface DomainToolNamespace {
  name: string;
  description?: string;
}

/** Structured output (Chat `response_format`, Responses `text.format`): the engine interface's type. */
export type ResponseFormat = OutputResponseFormat;

/**
 * The client's own names for the fields the pipeline's errors point at, so that an error names
 * `max_output_tokens` to a Responses client and `max_tokens` to a Chat one (`param` and message).
 */
export interface WireFields {
  maxTokens: string;
  messages: string;
  responseFormat: string;
  /** Where the JSON schema of `responseFormat` sits. */
  responseFormatSchema: string;
  toolChoice: string;
  logprobs: string;
}

export const CHAT_FIELDS: Readonly<WireFields> = Object.freeze({
  maxTokens: "max_tokens",
  messages: "messages",
  responseFormat: "response_format",
  responseFormatSchema: "response_format.json_schema.schema",
  toolChoice: "tool_choice",
  logprobs: "logprobs",
});

export const RESPONSES_FIELDS: Readonly<WireFields> = Object.freeze({
  maxTokens: "max_output_tokens",
  messages: "input",
  responseFormat: "text.format",
  responseFormatSchema: "text.format.schema",
  toolChoice: "tool_choice",
  logprobs: "top_logprobs",
});

/**
 * What a client asked for, independent of the wire API it used (Chat Completions, Responses):
 * the request parsers produce it, the answer pipeline (answer-pipeline.ts, answer-events.ts) serves it.
 */
export interface ServingRequest {
  model: string;
  /** The client's system and developer messages, joined: harmony puts them under "# Instructions". */
  instructions?: string;
  messages: DomainMessage[];
  /** What the client asked for; the profile supplies the default and the cap. */
  maxTokens?: number;
  temperature?: number;
  topP: number;
  seed?: number;
  stop: string[];
  presencePenalty: number;
  frequencyPenalty: number;
  logitBias: Map<number, number>;
  stream: boolean;
  includeUsage: boolean;
  reasoningEffort: "low" | "medium" | "high";
  /** The effort the client asked for when it was mapped to reasoningEffort (reasoning-effort.ts). */
  reasoningEffortAsked?: "none" | "minimal" | "low" | "medium" | "high" | "xhigh";
  /** As given by the client: validated against the profile names later, so the 400 can list them. */
  profile?: string;
  tools: DomainFunctionTool[];
  /** Descriptions of the namespaces `tools` use besides `functions` (absent: none). */
  toolNamespaces?: DomainToolNamespace[];
  toolChoice: "auto" | "none" | "required" | { name: string };
  responseFormat: ResponseFormat;
  ignoreEos: boolean;
  minTokens: number;
  /** Report the answer's token logprobs with this many alternatives (0..20); absent: none. */
  logprobs?: number;
  /** The wire's names for fields, for errors (CHAT_FIELDS, RESPONSES_FIELDS). */
  fields: Readonly<WireFields>;
}
