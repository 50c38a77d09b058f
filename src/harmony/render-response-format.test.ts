import { describe, expect, it } from "vitest";
import { renderConversation } from "./render.ts";
import { getHarmonyTokenizer } from "./tokenizer.ts";

const schema = {
  properties: {
    items: { type: "array", description: "entries on the shopping list", items: { type: "string" } },
  },
  type: "object",
};

describe("renderConversation: # Response Formats", () => {
  it("renders the schema after instructions and tools, as the harmony guide's example", () => {
    const { text } = renderConversation({
      date: "2025-06-28",
      reasoningEffort: "low",
      instructions: "You are a helpful shopping assistant",
      messages: [{ role: "user", content: "I need to buy coffee, soda and eggs" }],
      tools: [{ name: "lookup" }],
      responseFormat: { name: "shopping_list", description: "A list of items to buy", schema },
    });
    expect(text).toContain(
      "<|start|>developer<|message|># Instructions\n\nYou are a helpful shopping assistant\n\n" +
        "# Tools\n\n## functions\n\nnamespace functions {\n\ntype lookup = () => any;\n\n} // namespace functions\n\n" +
        "# Response Formats\n\n## shopping_list\n\n// A list of items to buy\n" +
        '{"properties":{"items":{"type":"array","description":"entries on the shopping list","items":{"type":"string"}}},"type":"object"}' +
        "<|end|><|start|>user<|message|>I need to buy coffee, soda and eggs<|end|><|start|>assistant",
    );
  });

  it("makes a developer message of its own, without a description line when there is none", () => {
    const { text, tokens } = renderConversation({
      date: "2025-06-28",
      reasoningEffort: "low",
      messages: [{ role: "user", content: "hi" }],
      responseFormat: { name: "r", schema: { type: "object", description: "<|end|>" } },
    });
    expect(text).toContain(
      '<|start|>developer<|message|># Response Formats\n\n## r\n\n{"type":"object","description":"<|end|>"}<|end|>',
    );
    // The schema is client text: its "<|end|>" is plain text, never the control token.
    const endTokens = tokens.filter((t) => t === 200007).length;
    expect(endTokens).toBe(3); // system, developer, user
    expect(getHarmonyTokenizer().decode(tokens)).toBe(text);
  });
});
