/**
 * What a stored response keeps of its conversation for `previous_response_id`: only what a later
 * turn renders (responses-items.ts itemsToConversation). Item ids, statuses, annotations,
 * `encrypted_content` and any extra keys a client sent are dropped; content parts become one
 * string. A client re-sending a 4 MB blob of extras each turn used to have it kept for an hour.
 */
import type { InputItemWire, OutputItemWire } from "../protocol/responses.ts";

type Parts = string | ReadonlyArray<{ type: string; text?: string; refusal?: string }>;

/** Content parts → their text, as itemsToConversation reads them (text, or a refusal's text). */
function joined(content: Parts): string {
  if (typeof content === "string") return content;
  return content.map((p) => p.text ?? p.refusal ?? "").join("");
}

/** One item → the smallest item that renders the same. */
export function historyItem(item: InputItemWire | OutputItemWire): InputItemWire {
  if (item.type === undefined || item.type === "message") {
    return { type: "message", role: item.role, content: joined(item.content) };
  }
  switch (item.type) {
    case "function_call":
      return {
        type: "function_call",
        call_id: item.call_id,
        name: item.name,
        ...(item.namespace !== undefined ? { namespace: item.namespace } : {}),
        arguments: item.arguments,
      };
    case "custom_tool_call":
      return {
        type: "custom_tool_call",
        call_id: item.call_id,
        name: item.name,
        ...(item.namespace !== undefined ? { namespace: item.namespace } : {}),
        input: item.input,
      };
    case "function_call_output":
    case "custom_tool_call_output":
      return {
        type: item.type,
        ...(item.call_id !== undefined ? { call_id: item.call_id } : {}),
        output: joined(item.output),
      };
    case "reasoning": {
      // The reasoning text if there is any, else the summary (itemsToConversation's rule).
      const parts = item.content ?? [];
      const text =
        parts.length > 0
          ? parts.map((p) => p.text).join("")
          : (item.summary ?? []).map((s) => s.text).join("\n");
      return { type: "reasoning", content: text === "" ? [] : [{ type: "reasoning_text", text }] };
    }
  }
}
