import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SPECIAL_TOKENS } from "../harmony/special-tokens.ts";
import { parseChatRequest } from "./chat-request.ts";
import { renderServingRequest } from "./render-request.ts";
import { parseResponsesRequest } from "./responses-request.ts";
import { loadWarmPrompts, WarmPromptError } from "./warm-prompts.ts";

const DATE = "2026-01-15";
const SYSTEM = "You are the support assistant of Example Corp. Answer in one short paragraph.";
const TOOLS = [
  {
    type: "function",
    function: {
      name: "lookup_order",
      description: "Finds an order by its number",
      parameters: { type: "object", properties: { number: { type: "string" } }, required: ["number"] },
    },
  },
];

function file(name: string, content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "gptoss-warm-")), name);
  writeFileSync(path, content);
  return path;
}

/** The tokens a real chat request renders to. */
function chatTokens(body: Record<string, unknown>): number[] {
  return renderServingRequest(parseChatRequest({ model: "m", ...body }), DATE).tokens;
}

describe("loadWarmPrompts", () => {
  it("renders each prefix to exactly what a real request with it begins with, up to its user message", () => {
    const path = file(
      "prompts.json",
      JSON.stringify([SYSTEM, { messages: [{ role: "system", content: SYSTEM }], tools: TOOLS }]),
    );
    const [plain, withTools] = loadWarmPrompts([path], DATE, 8192);
    expect(plain?.source).toBe(`${path}[0]`);
    expect(withTools?.source).toBe(`${path}[1]`);
    const real = chatTokens({
      messages: [
        { role: "system", content: SYSTEM },
        { role: "user", content: "Hello" },
      ],
    });
    expect(real.slice(0, plain!.tokens.length)).toEqual(plain!.tokens);
    expect(real[plain!.tokens.length]).toBe(SPECIAL_TOKENS.start);
    const realWithTools = chatTokens({
      messages: [
        { role: "system", content: SYSTEM },
        { role: "user", content: "Where is order 12?" },
      ],
      tools: TOOLS,
    });
    expect(realWithTools.slice(0, withTools!.tokens.length)).toEqual(withTools!.tokens);
    expect(withTools!.tokens.length).toBeGreaterThan(plain!.tokens.length);
  });

  it("renders the prefix a Responses request with the same instructions begins with", () => {
    const [warm] = loadWarmPrompts([file("system.txt", SYSTEM)], DATE, 8192);
    const parsed = parseResponsesRequest(
      { model: "m", instructions: SYSTEM, input: "Hello" },
      () => undefined,
    );
    const real = renderServingRequest(parsed.serving, DATE).tokens;
    expect(real.slice(0, warm!.tokens.length)).toEqual(warm!.tokens);
  });

  it("takes a text file as one system prompt, and a JSON object as one prefix", () => {
    const text = loadWarmPrompts([file("system.txt", `${SYSTEM}\n`)], DATE, 8192);
    expect(text).toHaveLength(1);
    const object = loadWarmPrompts(
      [file("one.json", JSON.stringify({ messages: [{ role: "system", content: SYSTEM }] }))],
      DATE,
      8192,
    );
    expect(object).toHaveLength(1);
    expect(object[0]!.source).toMatch(/one\.json$/);
  });

  it("names the file and item at fault: unreadable, not a prefix, invalid, too long", () => {
    expect(() => loadWarmPrompts(["/nonexistent/warm.json"], DATE, 8192)).toThrow(WarmPromptError);
    expect(() => loadWarmPrompts([file("bad.json", "[42]")], DATE, 8192)).toThrow(/bad\.json.*system prompt/);
    expect(() =>
      loadWarmPrompts(
        [file("bad.json", JSON.stringify([SYSTEM, { messages: [{ role: "wizard" }] }]))],
        DATE,
        8192,
      ),
    ).toThrow(/bad\.json\[1\]/);
    expect(() => loadWarmPrompts([file("long.txt", SYSTEM)], DATE, 20)).toThrow(/do not fit the context/);
  });
});
