/** Chat events → one `chat.completion` object (the non-streaming form). */
import type {
  ChatCompletionWire,
  ChatToolCallWire,
  FinishReasonWire,
  ServerExtrasWire,
  TokenLogprobWire,
  UsageWire,
} from "../protocol/chat.ts";
import type { PreparedAnswer } from "./answer-pipeline.ts";
import type { AnswerEvent, AnswerUsage } from "./answer-events.ts";
import { toTokenLogprobWire } from "./token-logprobs.ts";

export const SYSTEM_FINGERPRINT = "gpt-oss-server";

export function extrasOf(prepared: PreparedAnswer): ServerExtrasWire {
  return {
    chosen_engine: prepared.routed.model.engineType,
    profile: prepared.profile.name,
    request_id: prepared.requestId,
    ...(prepared.routed.fallback !== undefined ? { model_fallback: prepared.routed.fallback } : {}),
  };
}

/** Collects events; returns undefined when the request was cancelled before it finished. */
export async function collectChatCompletion(
  prepared: PreparedAnswer,
  events: AsyncIterable<AnswerEvent>,
): Promise<ChatCompletionWire | undefined> {
  let reasoning = "";
  let content = "";
  const toolCalls: ChatToolCallWire[] = [];
  const logprobs: TokenLogprobWire[] = [];
  let finish: { reason: FinishReasonWire; usage: UsageWire } | undefined;
  for await (const e of events) {
    switch (e.type) {
      case "reasoning":
        reasoning += e.text;
        break;
      case "content":
        content += e.text;
        break;
      case "tool-call":
        toolCalls[e.index] = { id: e.id, type: "function", function: { name: e.name, arguments: "" } };
        break;
      case "tool-arguments": {
        const call = toolCalls[e.index];
        if (call !== undefined) call.function.arguments += e.text;
        break;
      }
      case "logprobs":
        for (const t of e.tokens) logprobs.push(toTokenLogprobWire(t.token, t.logprob));
        break;
      case "finish":
        finish = { reason: e.reason, usage: usageWire(e.usage) };
        break;
      case "cancelled":
        return undefined;
    }
  }
  if (finish === undefined) return undefined;
  const calls = toolCalls.filter((c) => c !== undefined);
  return {
    id: `chatcmpl-${prepared.requestId}`,
    object: "chat.completion",
    created: prepared.created,
    model: prepared.routed.model.id,
    system_fingerprint: SYSTEM_FINGERPRINT,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: content === "" && calls.length > 0 ? null : content,
          ...(reasoning !== "" ? { reasoning, reasoning_content: reasoning } : {}),
          ...(calls.length > 0 ? { tool_calls: calls } : {}),
          refusal: null,
        },
        finish_reason: finish.reason,
        // OpenAI: an object whenever logprobs were asked for (content holds the answer's tokens).
        logprobs: prepared.request.logprobs !== undefined ? { content: logprobs, refusal: null } : null,
      },
    ],
    usage: finish.usage,
    ...extrasOf(prepared),
  };
}

/** Chat Completions' usage object. */
export function usageWire(usage: AnswerUsage): UsageWire {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedTokens },
    completion_tokens_details: { reasoning_tokens: usage.reasoningTokens },
  };
}
