/**
 * Domain types of a conversation to render (camelCase, not OpenAI wire: serving converts). Chat
 * Completions and the Responses API both map onto these; later fields (response formats, built-in
 * tools) are added as optional members.
 */

export type ReasoningEffort = "low" | "medium" | "high";

/** A JSON Schema object as clients send it; render-tools.ts reads the parts harmony renders. */
export type JsonSchema = Readonly<Record<string, unknown>>;

export interface FunctionTool {
  name: string;
  description?: string | undefined;
  /** JSON Schema of the arguments object; absent or without properties renders as `() => any`. */
  parameters?: JsonSchema | undefined;
  /** The namespace it is rendered in and called through (`to={namespace}.{name}`); absent: `functions`. */
  namespace?: string | undefined;
  /** A freeform tool: `(FREEFORM) => any`, its input raw text (a grammar, if any, as comments). */
  freeform?: { type: "text" } | { type: "grammar"; syntax: string; definition: string } | undefined;
}

/** A namespace's description, rendered as `//` lines under its `## name` heading. */
export interface ToolNamespace {
  name: string;
  description?: string | undefined;
}

export interface ToolCall {
  /** The client-visible call id; not rendered (harmony has no call ids) but kept for pairing. */
  id: string;
  name: string;
  /** The arguments as the JSON text the model wrote (rendered verbatim), or a freeform input. */
  arguments: string;
  /** The namespace of the recipient; absent: `functions`. */
  namespace?: string | undefined;
  /** A freeform tool's call: rendered without `<|constrain|>json`. */
  freeform?: boolean | undefined;
}

export interface UserMessage {
  role: "user";
  content: string;
}

/**
 * One assistant turn. Without tool calls, `content` is a final answer. With tool calls, `content`
 * is a preamble (rendered on the commentary channel) and `reasoning` is the chain of thought that
 * led to the call.
 */
export interface AssistantMessage {
  role: "assistant";
  content?: string | undefined;
  reasoning?: string | undefined;
  toolCalls?: readonly ToolCall[] | undefined;
}

export interface ToolMessage {
  role: "tool";
  toolCallId?: string | undefined;
  /** The function's name; "" means: take it from the call `toolCallId` points at. */
  name: string;
  /** The function's namespace; absent: `functions` (or the call's, when `name` is ""). */
  namespace?: string | undefined;
  content: string;
}

export type ConversationMessage = UserMessage | AssistantMessage | ToolMessage;

export interface RenderInput {
  /** YYYY-MM-DD, fixed per server start so that prompts share a cacheable prefix. */
  date: string;
  reasoningEffort: ReasoningEffort;
  /** Defaults to "You are ChatGPT, a large language model trained by OpenAI." */
  modelIdentity?: string | undefined;
  /** The client's system/developer messages, rendered under "# Instructions". */
  instructions?: string | undefined;
  messages: readonly ConversationMessage[];
  tools?: readonly FunctionTool[] | undefined;
  /** Descriptions of namespaces other than `functions` that `tools` use. */
  toolNamespaces?: readonly ToolNamespace[] | undefined;
  /** Structured output, rendered under "# Response Formats" in the developer message. */
  responseFormat?: ResponseFormatSchema | undefined;
  /**
   * Stop with TokenLimitExceededError (tokenizer.ts) as soon as the prompt is known to pass this
   * many tokens: a prompt that cannot fit the context is refused without tokenizing all of it.
   */
  tokenLimit?: number | undefined;
}

/** A named JSON Schema the final answer must follow (Chat `response_format` json_schema). */
export interface ResponseFormatSchema {
  name: string;
  description?: string | undefined;
  schema: JsonSchema;
}

export interface RenderedPrompt {
  tokens: number[];
  /** The same prompt with control tokens spelled out, for debugging and logs. */
  text: string;
}
