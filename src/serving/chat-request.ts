/**
 * Chat Completions request: wire JSON → validated ServingRequest (serving-request.ts). This is where client input is
 * checked and normalized once (style rule 1); downstream code trusts the types.
 */
import { z } from "zod";
import { ServerError } from "../errors/server-error.ts";
import { assertSupportedSchema } from "./json-schema-support.ts";
import { REASONING_EFFORTS, reasoningEffortFields } from "./reasoning-effort.ts";
import { MAX_MESSAGES, MAX_TOOLS } from "./request-limits.ts";
import { parseLogitBias, parseStop, samplingFields } from "./sampling-fields.ts";
import {
  CHAT_FIELDS,
  type DomainMessage,
  type ResponseFormat,
  type ServingRequest,
} from "./serving-request.ts";

const textPart = z.object({ type: z.literal("text"), text: z.string() });
const content = z.union([z.string(), z.array(z.union([textPart, z.object({ type: z.string() }).loose()]))]);

const toolCallWire = z.object({
  id: z.string(),
  type: z.literal("function").optional(),
  function: z.object({ name: z.string().min(1), arguments: z.string() }),
});

const message = z.discriminatedUnion("role", [
  z.object({ role: z.literal("system"), content, name: z.string().optional() }),
  z.object({ role: z.literal("developer"), content, name: z.string().optional() }),
  z.object({ role: z.literal("user"), content, name: z.string().optional() }),
  z.object({
    role: z.literal("assistant"),
    content: content.nullish(),
    reasoning: z.string().nullish(),
    reasoning_content: z.string().nullish(),
    thinking: z.string().nullish(),
    tool_calls: z.array(toolCallWire).nullish(),
    name: z.string().optional(),
  }),
  z.object({ role: z.literal("tool"), content, tool_call_id: z.string(), name: z.string().optional() }),
]);

const functionTool = z.object({
  type: z.literal("function"),
  function: z.object({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "function names use letters, digits, _ . - (max 64)"),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
  }),
});

const effort = z.enum(REASONING_EFFORTS);

export const chatRequestSchema = z.object({
  model: z.string().min(1),
  messages: z
    .array(message)
    .min(1, "messages must contain at least one message")
    .max(MAX_MESSAGES, `at most ${MAX_MESSAGES} messages in one request`),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  ...samplingFields,
  n: z
    .literal(1, {
      message:
        "only n=1 is supported: each extra choice would need its own sequence sharing the prompt's KV cache, which this server does not do yet; send parallel requests (with different seeds) instead",
    })
    .nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  tools: z.array(functionTool).max(MAX_TOOLS, `at most ${MAX_TOOLS} tools in one request`).nullish(),
  tool_choice: z
    .union([
      z.enum(["auto", "none", "required"]),
      z.object({ type: z.literal("function"), function: z.object({ name: z.string() }) }),
    ])
    .nullish(),
  response_format: z.object({ type: z.string() }).loose().nullish(),
  reasoning_effort: effort.nullish(),
  reasoning: z.object({ effort: effort.optional() }).nullish(),
  user: z.string().nullish(),
  profile: z.string().nullish(),
  /** vLLM extension: keep generating through stop tokens (benchmarks force output lengths with it). */
  ignore_eos: z.boolean().nullish(),
  /** vLLM extension: stop tokens do not end generation before this many tokens. */
  min_tokens: z.number().int().min(0).nullish(),
});

type WireChatRequest = z.infer<typeof chatRequestSchema>;

const jsonSchemaFormat = z.object({
  type: z.literal("json_schema"),
  json_schema: z.object({
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "names use letters, digits, _ and - (max 64)"),
    description: z.string().optional(),
    schema: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
  }),
});

/**
 * `response_format` → the domain's ResponseFormat. A json_schema's keywords are checked here, so an
 * unsupported one is a 400 naming it (json-schema-support.ts); the pipeline builds the grammar.
 */
function parseResponseFormat(wire: WireChatRequest["response_format"]): ResponseFormat {
  if (wire === null || wire === undefined || wire.type === "text") return { type: "text" };
  if (wire.type === "json_object") return { type: "json_object" };
  if (wire.type !== "json_schema") {
    throw new ServerError(
      "invalid_value",
      `response_format type '${wire.type}' is not supported; use 'text', 'json_object' or 'json_schema'`,
      { param: "response_format.type" },
    );
  }
  const parsed = jsonSchemaFormat.safeParse(wire);
  if (!parsed.success) {
    const error = zodToServerError(parsed.error);
    throw new ServerError(error.code, `response_format.${error.message}`, {
      param: `response_format.${error.param ?? ""}`.replace(/\.$/, ""),
    });
  }
  const format = parsed.data.json_schema;
  // No schema means any JSON value (OpenAI makes `schema` optional).
  const schema = format.schema ?? {};
  assertSupportedSchema(schema, "response_format.json_schema.schema");
  return {
    type: "json_schema",
    name: format.name,
    schema,
    strict: format.strict ?? false,
    ...(format.description !== undefined ? { description: format.description } : {}),
  };
}

function textOf(value: z.infer<typeof content>, param: string): string {
  if (typeof value === "string") return value;
  return value
    .map((part, i) => {
      if (part.type === "text" && typeof part.text === "string") return part.text;
      throw new ServerError(
        "invalid_value",
        `content part type '${part.type}' is not supported: gpt-oss reads text only`,
        {
          param: `${param}[${i}].type`,
        },
      );
    })
    .join("");
}

function zodToServerError(error: z.ZodError): ServerError {
  const issue = error.issues[0];
  const path = issue?.path.map(String).join(".") ?? "";
  const missing = issue?.code === "invalid_type" && issue.message.includes("received undefined");
  const message =
    issue === undefined ? "invalid request" : `${path === "" ? "body" : path}: ${issue.message}`;
  return new ServerError(missing ? "missing_required_parameter" : "invalid_value", message, {
    param: path === "" ? null : path,
  });
}

function toDomainMessages(wire: WireChatRequest): { instructions?: string; messages: DomainMessage[] } {
  const instructions: string[] = [];
  const messages: DomainMessage[] = [];
  const toolNames = new Map<string, string>();
  wire.messages.forEach((m, i) => {
    const param = `messages.${i}.content`;
    switch (m.role) {
      case "system":
      case "developer":
        instructions.push(textOf(m.content, param));
        break;
      case "user":
        messages.push({ role: "user", content: textOf(m.content, param) });
        break;
      case "assistant": {
        const reasoning = m.reasoning ?? m.reasoning_content ?? m.thinking ?? undefined;
        const toolCalls = (m.tool_calls ?? []).map((c) => ({
          id: c.id,
          name: c.function.name,
          arguments: c.function.arguments,
        }));
        for (const c of toolCalls) toolNames.set(c.id, c.name);
        const text = m.content === null || m.content === undefined ? undefined : textOf(m.content, param);
        messages.push({
          role: "assistant",
          ...(text !== undefined && text !== "" ? { content: text } : {}),
          ...(reasoning !== undefined && reasoning !== "" ? { reasoning } : {}),
          ...(toolCalls.length > 0 ? { toolCalls } : {}),
        });
        break;
      }
      case "tool": {
        const name = m.name ?? toolNames.get(m.tool_call_id);
        if (name === undefined) {
          throw new ServerError(
            "invalid_value",
            `tool message's tool_call_id '${m.tool_call_id}' matches no earlier tool call`,
            {
              param: `messages.${i}.tool_call_id`,
            },
          );
        }
        messages.push({ role: "tool", toolCallId: m.tool_call_id, name, content: textOf(m.content, param) });
        break;
      }
    }
  });
  if (!messages.some((m) => m.role === "user" || m.role === "tool")) {
    throw new ServerError("invalid_value", "messages must contain at least one user message", {
      param: "messages",
    });
  }
  return { ...(instructions.length > 0 ? { instructions: instructions.join("\n\n") } : {}), messages };
}

export function parseChatRequest(body: unknown): ServingRequest {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new ServerError("invalid_request_error", "the request body must be a JSON object");
  }
  const parsed = chatRequestSchema.safeParse(body);
  if (!parsed.success) throw zodToServerError(parsed.error);
  const wire = parsed.data;

  const responseFormat = parseResponseFormat(wire.response_format);
  const logitBias = parseLogitBias(wire.logit_bias);
  const toolChoiceWire = wire.tool_choice ?? "auto";
  const tools = (wire.tools ?? []).map((t) => ({
    name: t.function.name,
    ...(t.function.description !== undefined ? { description: t.function.description } : {}),
    ...(t.function.parameters !== undefined ? { parameters: t.function.parameters } : {}),
  }));
  (wire.tools ?? []).forEach((t, i) => {
    // A strict function promises schema-valid arguments: refuse what the grammar cannot enforce.
    // Non-strict ones with such keywords get any JSON object as arguments (harmony-grammar.ts).
    if (t.function.strict === true && t.function.parameters !== undefined) {
      assertSupportedSchema(t.function.parameters, `tools.${i}.function.parameters`);
    }
  });
  const toolChoice =
    typeof toolChoiceWire === "string" ? toolChoiceWire : { name: toolChoiceWire.function.name };
  if (toolChoice !== "auto" && toolChoice !== "none" && tools.length === 0) {
    throw new ServerError("invalid_value", "tool_choice requires a tool call, but tools is empty", {
      param: "tool_choice",
    });
  }
  if (typeof toolChoice === "object" && !tools.some((t) => t.name === toolChoice.name)) {
    throw new ServerError("invalid_value", `tool_choice names '${toolChoice.name}', which is not in tools`, {
      param: "tool_choice",
    });
  }
  const maxTokens = wire.max_completion_tokens ?? wire.max_tokens ?? undefined;
  const profile = wire.profile ?? undefined;
  return {
    fields: CHAT_FIELDS,
    model: wire.model,
    ...toDomainMessages(wire),
    ...(maxTokens !== undefined ? { maxTokens } : {}),
    ...(wire.temperature !== null && wire.temperature !== undefined ? { temperature: wire.temperature } : {}),
    topP: wire.top_p ?? 1,
    ...(wire.seed !== null && wire.seed !== undefined ? { seed: wire.seed } : {}),
    stop: parseStop(wire.stop),
    presencePenalty: wire.presence_penalty ?? 0,
    frequencyPenalty: wire.frequency_penalty ?? 0,
    logitBias,
    stream: wire.stream ?? false,
    includeUsage: wire.stream_options?.include_usage ?? false,
    ...reasoningEffortFields(wire.reasoning_effort ?? wire.reasoning?.effort),
    ...(profile !== undefined ? { profile } : {}),
    tools,
    toolChoice,
    responseFormat,
    ignoreEos: wire.ignore_eos ?? false,
    minTokens: wire.min_tokens ?? 0,
    // top_logprobs without logprobs: true asks for nothing (OpenAI requires both), so it is ignored.
    ...(wire.logprobs === true ? { logprobs: wire.top_logprobs ?? 0 } : {}),
  };
}
