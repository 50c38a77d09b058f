/**
 * OpenAI Responses API wire shapes (snake_case, no logic), plus the v4.5.1 extras on the response
 * object. Request validation lives in serving/responses-request.ts; the object and its streaming
 * events are built by serving/responses-output.ts.
 */
import type { ServerExtrasWire } from "./chat.ts";

// ---- input items (what `input` may hold; earlier output items are valid input items too) ----

export interface InputTextPartWire {
  type: "input_text";
  text: string;
}

export interface OutputTextPartWire {
  type: "output_text";
  text: string;
  annotations: unknown[];
  logprobs: unknown[];
}

export interface ReasoningTextPartWire {
  type: "reasoning_text";
  text: string;
}

export interface MessageInputItemWire {
  type?: "message";
  id?: string;
  role: "user" | "system" | "developer" | "assistant";
  content: string | Array<{ type: string; text?: string; refusal?: string }>;
  status?: string;
}

export interface FunctionCallItemWire {
  type: "function_call";
  id?: string;
  call_id: string;
  name: string;
  /** The tool's `namespace` tool, when it came from one (Codex's tool groups). */
  namespace?: string;
  arguments: string;
  status?: ItemStatusWire;
}

export interface FunctionCallOutputItemWire {
  type: "function_call_output";
  id?: string;
  /** Absent in Codex's goals feature: the output pairs with the latest unanswered call. */
  call_id?: string;
  output: string | Array<{ type: string; text?: string }>;
  status?: string;
}

export interface CustomToolCallItemWire {
  type: "custom_tool_call";
  id?: string;
  call_id: string;
  name: string;
  namespace?: string;
  input: string;
  status?: string;
}

export interface CustomToolCallOutputItemWire {
  type: "custom_tool_call_output";
  id?: string;
  call_id?: string;
  output: string | Array<{ type: string; text?: string }>;
  status?: string;
}

/** An item of a stored response, by id (`type` may be omitted, as OpenAI allows). */
export interface ItemReferenceWire {
  type?: "item_reference";
  id: string;
}

export interface ReasoningItemWire {
  type: "reasoning";
  id?: string;
  summary?: Array<{ type: "summary_text"; text: string }>;
  content?: ReasoningTextPartWire[] | null;
  encrypted_content?: string | null;
  status?: ItemStatusWire;
}

export type InputItemWire =
  | MessageInputItemWire
  | FunctionCallItemWire
  | FunctionCallOutputItemWire
  | CustomToolCallItemWire
  | CustomToolCallOutputItemWire
  | ReasoningItemWire;

// ---- output items ----

export type ItemStatusWire = "in_progress" | "completed" | "incomplete";

export interface OutputMessageWire {
  id: string;
  type: "message";
  role: "assistant";
  status: ItemStatusWire;
  content: OutputTextPartWire[];
}

export interface SummaryTextPartWire {
  type: "summary_text";
  text: string;
}

export interface OutputReasoningWire {
  id: string;
  type: "reasoning";
  /** The reasoning text itself when `reasoning.summary` was asked for (gpt-oss has no summarizer). */
  summary: SummaryTextPartWire[];
  content: ReasoningTextPartWire[];
  status: ItemStatusWire;
}

export interface OutputFunctionCallWire {
  id: string;
  type: "function_call";
  call_id: string;
  name: string;
  /** Set when the tool came from a `namespace` tool. */
  namespace?: string;
  arguments: string;
  status: ItemStatusWire;
}

export interface OutputCustomToolCallWire {
  id: string;
  type: "custom_tool_call";
  call_id: string;
  name: string;
  namespace?: string;
  input: string;
  status: ItemStatusWire;
}

export type OutputItemWire =
  OutputMessageWire | OutputReasoningWire | OutputFunctionCallWire | OutputCustomToolCallWire;

// ---- the response object ----

export interface ResponseUsageWire {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export interface FunctionToolWire {
  type: "function";
  name: string;
  description?: string | null | undefined;
  parameters?: Record<string, unknown> | null | undefined;
  strict?: boolean | null | undefined;
}

export type CustomToolFormatWire = { type: "text" } | { type: "grammar"; syntax: string; definition: string };

/** A freeform tool: the model writes raw text as its input (`custom_tool_call.input`). */
export interface CustomToolWire {
  type: "custom";
  name: string;
  description?: string | null | undefined;
  format?: CustomToolFormatWire | null | undefined;
}

/** A group of tools under one name (Codex): rendered as a harmony namespace of its own. */
export interface NamespaceToolWire {
  type: "namespace";
  name: string;
  description?: string | null | undefined;
  tools: Array<FunctionToolWire | CustomToolWire>;
}

/** A hosted tool (web_search, file_search, mcp, ...): echoed as sent, never run here. */
export interface HostedToolWire {
  type: string;
  [key: string]: unknown;
}

export type ToolWire = FunctionToolWire | CustomToolWire | NamespaceToolWire | HostedToolWire;

export type ToolChoiceWire =
  "auto" | "none" | "required" | { type: "function"; name: string } | { type: "custom"; name: string };

export type TextFormatWire =
  | { type: "text" }
  | { type: "json_object" }
  | {
      type: "json_schema";
      name: string;
      schema: Record<string, unknown>;
      strict?: boolean | null | undefined;
      description?: string | undefined;
    };

export type ResponseStatusWire =
  "queued" | "in_progress" | "completed" | "incomplete" | "failed" | "cancelled";

export interface ResponseWire extends ServerExtrasWire {
  id: string;
  object: "response";
  created_at: number;
  completed_at: number | null;
  status: ResponseStatusWire;
  error: { code: string; message: string } | null;
  incomplete_details: { reason: "max_output_tokens" } | null;
  instructions: string | null;
  max_output_tokens: number | null;
  model: string;
  output: OutputItemWire[];
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  reasoning: { effort: "low" | "medium" | "high"; summary: string | null };
  store: boolean;
  temperature: number;
  text: { format: TextFormatWire };
  tool_choice: ToolChoiceWire;
  tools: ToolWire[];
  top_p: number;
  truncation: "disabled";
  usage: ResponseUsageWire | null;
  user: string | null;
  metadata: Record<string, string>;
  background: boolean;
}

export interface ResponseDeletedWire {
  id: string;
  object: "response.deleted";
  deleted: true;
}

// ---- streaming events (SSE `event: <type>`, `data: <the event>`) ----

interface ItemEventBase {
  sequence_number: number;
  output_index: number;
}

interface PartEventBase extends ItemEventBase {
  item_id: string;
  content_index: number;
}

export type ResponseStreamEventWire =
  | { type: "response.created"; sequence_number: number; response: ResponseWire }
  | { type: "response.in_progress"; sequence_number: number; response: ResponseWire }
  | { type: "response.completed"; sequence_number: number; response: ResponseWire }
  | { type: "response.incomplete"; sequence_number: number; response: ResponseWire }
  | { type: "response.failed"; sequence_number: number; response: ResponseWire }
  | ({ type: "response.output_item.added"; item: OutputItemWire } & ItemEventBase)
  | ({ type: "response.output_item.done"; item: OutputItemWire } & ItemEventBase)
  | ({
      type: "response.content_part.added";
      part: OutputTextPartWire | ReasoningTextPartWire;
    } & PartEventBase)
  | ({
      type: "response.content_part.done";
      part: OutputTextPartWire | ReasoningTextPartWire;
    } & PartEventBase)
  | ({ type: "response.output_text.delta"; delta: string; logprobs: unknown[] } & PartEventBase)
  | ({ type: "response.output_text.done"; text: string; logprobs: unknown[] } & PartEventBase)
  | ({ type: "response.reasoning_text.delta"; delta: string } & PartEventBase)
  | ({ type: "response.reasoning_text.done"; text: string } & PartEventBase)
  | ({ type: "response.function_call_arguments.delta"; item_id: string; delta: string } & ItemEventBase)
  | ({
      type: "response.function_call_arguments.done";
      item_id: string;
      name: string;
      arguments: string;
    } & ItemEventBase)
  | ({ type: "response.custom_tool_call_input.delta"; item_id: string; delta: string } & ItemEventBase)
  | ({ type: "response.custom_tool_call_input.done"; item_id: string; input: string } & ItemEventBase)
  | ({ type: "response.reasoning_summary_part.added"; part: SummaryTextPartWire } & SummaryEventBase)
  | ({ type: "response.reasoning_summary_part.done"; part: SummaryTextPartWire } & SummaryEventBase)
  | ({ type: "response.reasoning_summary_text.delta"; delta: string } & SummaryEventBase)
  | ({ type: "response.reasoning_summary_text.done"; text: string } & SummaryEventBase);

interface SummaryEventBase extends ItemEventBase {
  item_id: string;
  summary_index: number;
}
