/**
 * Output items of a Responses API response and the events that finish them (the builder in
 * responses-output.ts opens and fills them): call items for the tool the model named, and each
 * item's closing events (`*.done`, `content_part.done`, summary `*.done`, `output_item.done`).
 */
import { randomBytes } from "node:crypto";
import type {
  OutputCustomToolCallWire,
  OutputFunctionCallWire,
  OutputItemWire,
  ResponseStreamEventWire,
} from "../protocol/responses.ts";
import { findTool } from "./responses-tools.ts";
import type { DomainFunctionTool } from "./serving-request.ts";

export function newItemId(prefix: "resp" | "rs" | "msg" | "fc" | "ctc"): string {
  return `${prefix}_${randomBytes(16).toString("hex")}`;
}

/** Events without their sequence number: the builder numbers them as it hands them out. */
export type Unnumbered = ResponseStreamEventWire extends infer E
  ? E extends ResponseStreamEventWire
    ? Omit<E, "sequence_number">
    : never
  : never;

/** Events carry copies: the builder keeps mutating its own objects as text arrives. */
export function snapshot<T>(value: T): T {
  return structuredClone(value);
}

/**
 * A call item: `function_call`, or `custom_tool_call` for a freeform tool. The model names the
 * tool by its recipient (`ns.tool`); the item carries the client's name and `namespace` apart.
 */
export function newCallItem(
  tools: readonly DomainFunctionTool[],
  callId: string,
  called: string,
): OutputFunctionCallWire | OutputCustomToolCallWire {
  const tool = findTool(tools, called);
  const name = tool?.name ?? called;
  const namespace = tool?.namespace !== undefined ? { namespace: tool.namespace } : {};
  if (tool?.freeform !== undefined) {
    return {
      id: newItemId("ctc"),
      type: "custom_tool_call",
      call_id: callId,
      name,
      ...namespace,
      input: "",
      status: "in_progress",
    };
  }
  return {
    id: newItemId("fc"),
    type: "function_call",
    call_id: callId,
    name,
    ...namespace,
    arguments: "",
    status: "in_progress",
  };
}

/** The events that finish `item` (its status already set), output_item.done last. */
export function closeEvents(item: OutputItemWire, index: number): Unnumbered[] {
  const out: Unnumbered[] = [];
  if (item.type === "function_call") {
    out.push({
      type: "response.function_call_arguments.done",
      item_id: item.id,
      output_index: index,
      name: item.name,
      arguments: item.arguments,
    });
  } else if (item.type === "custom_tool_call") {
    out.push({
      type: "response.custom_tool_call_input.done",
      item_id: item.id,
      output_index: index,
      input: item.input,
    });
  } else {
    const part = item.content[0];
    if (part !== undefined) {
      const base = { item_id: item.id, output_index: index, content_index: 0, text: part.text };
      out.push(
        item.type === "message"
          ? {
              type: "response.output_text.done",
              ...base,
              logprobs: part.type === "output_text" ? part.logprobs : [],
            }
          : { type: "response.reasoning_text.done", ...base },
      );
      out.push({
        type: "response.content_part.done",
        item_id: item.id,
        output_index: index,
        content_index: 0,
        part: snapshot(part),
      });
    }
    const summary = item.type === "reasoning" ? item.summary[0] : undefined;
    if (summary !== undefined) {
      const base = { item_id: item.id, output_index: index, summary_index: 0 };
      out.push({ type: "response.reasoning_summary_text.done", ...base, text: summary.text });
      out.push({ type: "response.reasoning_summary_part.done", ...base, part: snapshot(summary) });
    }
  }
  out.push({ type: "response.output_item.done", output_index: index, item: snapshot(item) });
  return out;
}
