/**
 * The chat-level dialect (issue 12): any OpenAI-compatible server that cannot take token ids. The
 * conversation goes to `/v1/chat/completions` as OpenAI chat messages and the server's own parsing
 * comes back: reasoning, content and tool calls become ParsedOutputEvents, taken by serving as they
 * are (no harmony parser here). The server enforces `response_format` and `tool_choice` itself, so
 * this dialect takes the request's constraint by meaning (`req.output`), never our GBNF.
 *
 * Field names, where servers differ:
 * - an assistant's reasoning sent back (the chain of thought across tool calls) goes under both
 *   `reasoning_content` (SGLang's, llama-server's, vLLM's before 0.11) and `reasoning` (what vLLM's
 *   gpt-oss path reads from messages, Ollama's and OpenRouter's name): the same text, as our own
 *   server writes it; each server reads the one it knows.
 * - streamed reasoning is read from `delta.reasoning_content`, else `delta.reasoning` (a server that
 *   sends both, as ours does, sends the same text twice).
 * - a tool result carries `name` beside `tool_call_id`: vLLM's gpt-oss path names the tool from it.
 * - instructions go as one `system` message, the role every such server takes (OpenAI treats it as
 *   the developer message for reasoning models; harmony renders ours as the developer's).
 *
 * Not sent: stop strings (serving applies them to the answer, as for every engine), stop token ids,
 * `ignore_eos` and `min_tokens` (token-level notions a chat API does not have).
 */
import type { GenerationConversation, GenerationRequest, GenerationUsage, OutputSpec } from "../engine.ts";
import { ServerError } from "../../errors/server-error.ts";
import {
  parsePayload,
  type DialectContext,
  type StreamReader,
  type StreamStep,
  type UpstreamDialect,
} from "./dialect.ts";
import { openAiSampling, readUsage, type UsageChunk } from "./vllm-dialect.ts";

interface ChatChunk extends UsageChunk {
  choices?: Array<{
    delta?: {
      content?: string | null;
      reasoning_content?: string | null;
      reasoning?: string | null;
      tool_calls?: Array<{
        index?: number;
        id?: string | null;
        function?: { name?: string | null; arguments?: string | null } | null;
      }> | null;
    } | null;
    finish_reason?: string | null;
  }>;
}

export const openAiChatDialect: UpstreamDialect = {
  name: "openai-chat",
  grammar: false,
  parsedOutput: true,
  // Generic OpenAI-compatible servers have no /health; every one lists its models.
  healthPath: "/v1/models",

  request(req: GenerationRequest, { model, budget }: DialectContext) {
    if (req.conversation === undefined) {
      throw new ServerError("engine_error", "a chat-level upstream needs the conversation, not token ids");
    }
    return {
      path: "/v1/chat/completions",
      body: {
        model,
        messages: chatMessages(req.conversation),
        ...(req.output !== undefined ? outputFields(req.output) : {}),
        reasoning_effort: req.conversation.reasoningEffort,
        max_tokens: budget,
        ...openAiSampling(req),
        stream: true,
        stream_options: { include_usage: true },
      },
    };
  },

  reader(): StreamReader {
    // Servers that leave out a tool call's `index` (older Ollama) start each call with an `id`.
    let lastCall = -1;
    return (data: string, usage: GenerationUsage) => {
      if (data === "[DONE]") return { events: [] };
      const chunk = parsePayload<ChatChunk>(data);
      readUsage(chunk, usage);
      const choice = chunk.choices?.[0];
      if (choice === undefined) return { events: [] };
      const delta = choice.delta ?? {};
      const events: StreamStep["events"] = [];
      const reasoning = text(delta.reasoning_content) ?? text(delta.reasoning);
      if (reasoning !== undefined) events.push({ type: "parsed", reasoning });
      const content = text(delta.content);
      if (content !== undefined) events.push({ type: "parsed", content });
      for (const call of delta.tool_calls ?? []) {
        const index = call.index ?? (text(call.id) !== undefined ? lastCall + 1 : Math.max(lastCall, 0));
        lastCall = index;
        const name = text(call.function?.name);
        const args = call.function?.arguments ?? "";
        events.push({
          type: "parsed",
          toolCall: { index, ...(name !== undefined ? { name } : {}), arguments: args },
        });
      }
      const reason = choice.finish_reason;
      if (reason === null || reason === undefined) return { events };
      // "tool_calls" is a stop: serving reports tool_calls for an answer that made a call.
      return { events, finish: { reason: reason === "length" ? "length" : "stop" } };
    };
  },
};

/** A delta's text, undefined when absent or empty. */
function text(value: string | null | undefined): string | undefined {
  return value === null || value === undefined || value === "" ? undefined : value;
}

/** The conversation as OpenAI chat messages. */
export function chatMessages(conversation: GenerationConversation): Array<Record<string, unknown>> {
  const messages: Array<Record<string, unknown>> = [];
  if (conversation.instructions !== undefined) {
    messages.push({ role: "system", content: conversation.instructions });
  }
  for (const m of conversation.messages) {
    switch (m.role) {
      case "user":
        messages.push({ role: "user", content: m.content });
        break;
      case "assistant": {
        const calls = m.toolCalls ?? [];
        messages.push({
          role: "assistant",
          // OpenAI: content may be null only beside tool calls.
          content: m.content ?? (calls.length > 0 ? null : ""),
          ...(m.reasoning !== undefined ? { reasoning_content: m.reasoning, reasoning: m.reasoning } : {}),
          ...(calls.length > 0
            ? {
                tool_calls: calls.map((c) => ({
                  id: c.id,
                  type: "function",
                  function: { name: c.name, arguments: c.arguments },
                })),
              }
            : {}),
        });
        break;
      }
      case "tool":
        messages.push({ role: "tool", tool_call_id: m.toolCallId, name: m.name, content: m.content });
        break;
    }
  }
  return messages;
}

/** tools, tool_choice and response_format, in OpenAI Chat's shapes. */
function outputFields(output: OutputSpec): Record<string, unknown> {
  const format = output.responseFormat;
  const choice = output.toolChoice;
  return {
    ...(output.tools.length > 0
      ? {
          tools: output.tools.map((t) => ({
            type: "function",
            function: {
              name: t.name,
              ...(t.description !== undefined ? { description: t.description } : {}),
              ...(t.parameters !== undefined ? { parameters: t.parameters } : {}),
            },
          })),
          tool_choice:
            typeof choice === "string" ? choice : { type: "function", function: { name: choice.name } },
        }
      : {}),
    ...(format.type === "json_object" ? { response_format: { type: "json_object" } } : {}),
    ...(format.type === "json_schema"
      ? {
          response_format: {
            type: "json_schema",
            json_schema: {
              name: format.name,
              schema: format.schema,
              strict: format.strict,
              ...(format.description !== undefined ? { description: format.description } : {}),
            },
          },
        }
      : {}),
  };
}
