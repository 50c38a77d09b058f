import { describe, expect, it } from "vitest";
import type { InputItemWire } from "../protocol/responses.ts";
import { itemsToConversation } from "./responses-items.ts";
import { historyItem } from "./stored-history.ts";

const items = [
  {
    type: "message",
    id: "msg_1",
    role: "user",
    content: [{ type: "input_text", text: "Hi", extra: "x".repeat(1000) }],
  },
  {
    type: "reasoning",
    id: "rs_1",
    summary: [],
    content: [{ type: "reasoning_text", text: "think" }],
    encrypted_content: "E".repeat(100_000),
    status: "completed",
  },
  { type: "function_call", id: "fc_1", call_id: "call_1", name: "f", arguments: "{}", status: "completed" },
  {
    type: "function_call_output",
    id: "fco_1",
    call_id: "call_1",
    output: [{ type: "input_text", text: "42" }],
  },
  {
    type: "message",
    id: "msg_2",
    role: "assistant",
    status: "completed",
    content: [{ type: "output_text", text: "Done", annotations: [], logprobs: [] }],
  },
] as unknown as InputItemWire[];

describe("historyItem", () => {
  it("keeps only what a later turn renders: the same conversation from a fraction of the bytes", () => {
    const compact = items.map(historyItem);
    const located = (list: readonly InputItemWire[]) =>
      list.map((item, i) => ({ item, param: `input.${i}` }));
    expect(itemsToConversation(located(compact))).toEqual(itemsToConversation(located(items)));
    const text = JSON.stringify(compact);
    expect(text).not.toContain("encrypted_content");
    expect(text).not.toContain("msg_1");
    expect(text.length).toBeLessThan(400);
  });

  it("falls back to the summary when a reasoning item has no text", () => {
    const item = { type: "reasoning", summary: [{ type: "summary_text", text: "short" }] } as InputItemWire;
    expect(historyItem(item)).toEqual({
      type: "reasoning",
      content: [{ type: "reasoning_text", text: "short" }],
    });
  });
});
