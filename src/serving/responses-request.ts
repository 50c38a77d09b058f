/**
 * Responses API request: wire JSON → validated ServingRequest (serving-request.ts), plus what the
 * response object echoes back and the conversation to store for `previous_response_id`. Client
 * input is checked here once (style rule 1); 400s name the offending field in `param`.
 */
import { z } from "zod";
import { ServerError } from "../errors/server-error.ts";
import type { InputItemWire, TextFormatWire, ToolChoiceWire, ToolWire } from "../protocol/responses.ts";
import { assertSupportedSchema } from "./json-schema-support.ts";
import {
  itemsToConversation,
  parseInputItem,
  userItem,
  type ItemLookup,
  type LocatedItem,
} from "./responses-items.ts";
import { parseResponsesTools, resolveToolChoice } from "./responses-tools.ts";
import { REASONING_EFFORTS, reasoningEffortFields } from "./reasoning-effort.ts";
import { MAX_MESSAGES, MAX_TOOLS } from "./request-limits.ts";
import { RESPONSES_FIELDS, type ResponseFormat, type ServingRequest } from "./serving-request.ts";
import { zodToServerErrorAt } from "./zod-error.ts";

const textFormat = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text") }),
  z.object({ type: z.literal("json_object") }),
  z.object({
    type: z.literal("json_schema"),
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "format names use letters, digits, _ - (max 64)"),
    schema: z.record(z.string(), z.unknown()),
    strict: z.boolean().nullish(),
    description: z.string().optional(),
  }),
]);

const effort = z.enum(REASONING_EFFORTS);

export const responsesRequestSchema = z.object({
  model: z.string().min(1),
  // A refine, not .max() on the array: a union reports a failed member as "invalid input".
  input: z
    .union([z.string(), z.array(z.unknown())])
    .refine((v) => typeof v === "string" || v.length <= MAX_MESSAGES, {
      message: `at most ${MAX_MESSAGES} input items in one request`,
    }),
  instructions: z.string().nullish(),
  previous_response_id: z.string().min(1).nullish(),
  max_output_tokens: z.number().int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  reasoning: z
    .object({
      effort: effort.nullish(),
      summary: z.string().nullish(),
      generate_summary: z.string().nullish(),
    })
    .nullish(),
  tools: z
    .array(z.object({ type: z.string() }).loose())
    .max(MAX_TOOLS, `at most ${MAX_TOOLS} tools in one request`)
    .nullish(),
  tool_choice: z
    .union([
      z.enum(["auto", "none", "required"]),
      z.object({ type: z.literal("function"), name: z.string() }),
      z.object({ type: z.literal("custom"), name: z.string() }),
      // A hosted tool ({type: "web_search_preview"}, ...): left out like the tool itself.
      z
        .object({ type: z.string().refine((t) => !["function", "custom", "allowed_tools"].includes(t)) })
        .loose(),
    ])
    .nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  text: z.object({ format: textFormat.nullish(), verbosity: z.string().nullish() }).nullish(),
  store: z.boolean().nullish(),
  stream: z.boolean().nullish(),
  metadata: z
    .record(z.string().max(64), z.string().max(512))
    .refine((m) => Object.keys(m).length <= 16, "metadata holds at most 16 pairs")
    .nullish(),
  user: z.string().nullish(),
  truncation: z.enum(["auto", "disabled"]).nullish(),
  background: z.boolean().nullish(),
  /** Not an OpenAI Responses field: reproducible sampling, as in Chat Completions. */
  seed: z.number().int().nullish(),
  /** v4.5.1 extra: the profile for this request only. */
  profile: z.string().nullish(),
  include: z.array(z.string()).nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
});

/** What the response object reports back about the request (OpenAI echoes these). */
export interface ResponseEcho {
  instructions: string | null;
  maxOutputTokens: number | null;
  previousResponseId: string | null;
  store: boolean;
  /** As sent: hosted tools the prompt leaves out are still echoed. */
  tools: ToolWire[];
  toolChoice: ToolChoiceWire;
  textFormat: TextFormatWire;
  parallelToolCalls: boolean;
  user: string | null;
  metadata: Record<string, string>;
  /** `reasoning.summary` as asked ("auto", "concise", "detailed"), or null. */
  reasoningSummary: string | null;
  /** `background: true`: answered at once (queued), generated detached, polled with GET. */
  background: boolean;
}

export interface ParsedResponsesRequest {
  serving: ServingRequest;
  echo: ResponseEcho;
  /** Stored history (previous_response_id) followed by this request's input items. */
  conversation: InputItemWire[];
  /** This request's input items alone (item references resolved): GET …/input_items lists them. */
  input: InputItemWire[];
  /** What the server changed or left out instead of refusing (the route sends them as a header). */
  warnings: string[];
}

export interface ResponsesParseOptions {
  /** Hosted tools (web_search, mcp, ...) are a 400 instead of left out with a warning. */
  strictTools?: boolean;
  /** Resolves `item_reference` input items; without it every reference is a 400. */
  items?: ItemLookup;
}

/** The stored conversation through a response, or undefined when unknown, expired or not stored. */
export type HistoryLookup = (responseId: string) => readonly InputItemWire[] | undefined;

/** A `tool_choice` naming a hosted tool: `auto` with a warning (a 400 under strict tools). */
function hostedChoiceAsAuto(
  choice: ToolChoiceWire | { type: string },
  strictTools: boolean,
  warnings: string[],
): ToolChoiceWire {
  if (typeof choice === "string" || choice.type === "function" || choice.type === "custom") {
    return choice as ToolChoiceWire;
  }
  if (strictTools) {
    throw new ServerError(
      "unsupported_tool",
      `tool_choice names the hosted tool '${choice.type}' (--strict-tools)`,
      {
        param: "tool_choice.type",
      },
    );
  }
  warnings.push(`tool_choice '${choice.type}' is a hosted tool this server cannot run: served as auto`);
  return "auto";
}

/** The pipeline builds the grammar from this; an unsupported schema keyword is a 400 here. */
function toResponseFormat(format: TextFormatWire): ResponseFormat {
  if (format.type !== "json_schema") return format;
  assertSupportedSchema(format.schema, "text.format.schema");
  return {
    type: "json_schema",
    name: format.name,
    schema: format.schema,
    strict: format.strict ?? false,
    ...(format.description !== undefined ? { description: format.description } : {}),
  };
}

export function parseResponsesRequest(
  body: unknown,
  history: HistoryLookup,
  options: ResponsesParseOptions = {},
): ParsedResponsesRequest {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new ServerError("invalid_request_error", "the request body must be a JSON object");
  }
  const parsed = responsesRequestSchema.safeParse(body);
  if (!parsed.success) throw zodToServerErrorAt(parsed.error, "", body);
  const wire = parsed.data;

  const previousId = wire.previous_response_id ?? null;
  const earlier = previousId === null ? [] : history(previousId);
  if (earlier === undefined) {
    throw new ServerError(
      "invalid_value",
      `previous response '${previousId}' not found: it was never stored (store: false), has expired, ` +
        "or was evicted from this server's response store",
      { param: "previous_response_id" },
    );
  }
  const input =
    typeof wire.input === "string"
      ? [userItem(wire.input)]
      : wire.input.map((raw, i) => parseInputItem(raw, `input.${i}`, options.items));
  const located: LocatedItem[] = [
    ...earlier.map((item) => ({ item, param: "previous_response_id" })),
    ...input.map((item, i) => ({ item, param: `input.${i}` })),
  ];
  const { systemTexts, messages } = itemsToConversation(located);
  if (!messages.some((m) => m.role === "user" || m.role === "tool")) {
    throw new ServerError(
      "invalid_value",
      "input must contain at least one user message or function_call_output",
      { param: "input" },
    );
  }

  const parsedTools = parseResponsesTools(wire.tools ?? [], options.strictTools ?? false);
  const tools = parsedTools.tools;
  const warnings: string[] = [];
  const toolChoice = hostedChoiceAsAuto(wire.tool_choice ?? "auto", options.strictTools ?? false, warnings);
  const domainToolChoice = resolveToolChoice(toolChoice, tools);
  if (parsedTools.leftOut.length > 0) {
    warnings.push(
      `tools left out of the prompt (hosted tools this server cannot run): ${parsedTools.leftOut.join(", ")}`,
    );
  }
  const background = wire.background ?? false;
  if (background && wire.stream === true) {
    throw new ServerError(
      "invalid_value",
      "background: true cannot stream here; poll GET /v1/responses/{id}",
      {
        param: "background",
      },
    );
  }
  if (background && wire.store === false) {
    throw new ServerError(
      "invalid_value",
      "background: true needs store: true (it is polled from the store)",
      {
        param: "background",
      },
    );
  }
  const textFormat: TextFormatWire = wire.text?.format ?? { type: "text" };
  // Instructions of an earlier response are not carried over (OpenAI's rule); its system and
  // developer input items are, as part of the conversation.
  const given = wire.instructions ?? "";
  const instructions = [...(given !== "" ? [given] : []), ...systemTexts];
  const maxTokens = wire.max_output_tokens ?? undefined;
  const profile = wire.profile ?? undefined;
  const serving: ServingRequest = {
    fields: RESPONSES_FIELDS,
    model: wire.model,
    ...(instructions.length > 0 ? { instructions: instructions.join("\n\n") } : {}),
    messages,
    ...(maxTokens !== undefined ? { maxTokens } : {}),
    ...(wire.temperature !== null && wire.temperature !== undefined ? { temperature: wire.temperature } : {}),
    topP: wire.top_p ?? 1,
    ...(wire.seed !== null && wire.seed !== undefined ? { seed: wire.seed } : {}),
    stop: [],
    presencePenalty: 0,
    frequencyPenalty: 0,
    logitBias: new Map(),
    stream: wire.stream ?? false,
    includeUsage: false,
    ...reasoningEffortFields(wire.reasoning?.effort),
    ...(profile !== undefined ? { profile } : {}),
    tools,
    ...(parsedTools.namespaces.length > 0 ? { toolNamespaces: parsedTools.namespaces } : {}),
    toolChoice: domainToolChoice,
    responseFormat: toResponseFormat(textFormat),
    ignoreEos: false,
    minTokens: 0,
    // Logprobs when asked for by include (OpenAI's way) or by top_logprobs alone.
    ...(wire.include?.includes("message.output_text.logprobs") === true ||
    (wire.top_logprobs !== null && wire.top_logprobs !== undefined)
      ? { logprobs: wire.top_logprobs ?? 0 }
      : {}),
  };
  const echo: ResponseEcho = {
    instructions: wire.instructions ?? null,
    maxOutputTokens: wire.max_output_tokens ?? null,
    previousResponseId: previousId,
    store: wire.store ?? true,
    tools: parsedTools.echo,
    toolChoice,
    textFormat,
    parallelToolCalls: wire.parallel_tool_calls ?? true,
    user: wire.user ?? null,
    metadata: wire.metadata ?? {},
    reasoningSummary: wire.reasoning?.summary ?? wire.reasoning?.generate_summary ?? null,
    background,
  };
  return { serving, echo, conversation: [...earlier, ...input], input, warnings };
}
