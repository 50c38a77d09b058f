import { describe, expect, it } from "vitest";
import { HarmonyStreamParser, type HarmonyEvent, type HarmonyParseResult } from "./parser.ts";
import { SPECIAL_TOKENS } from "./special-tokens.ts";
import { getHarmonyTokenizer } from "./tokenizer.ts";

const tokenizer = getHarmonyTokenizer();

/** Model output written with spelled control tokens (the prompt ended with `<|start|>assistant`). */
function tokens(output: string): number[] {
  return tokenizer.encodeWithSpecials(output);
}

function parse(ids: readonly number[]): { events: HarmonyEvent[]; result: HarmonyParseResult } {
  const parser = new HarmonyStreamParser();
  const events = parser.pushAll(ids);
  const result = parser.finish();
  events.push(...result.events);
  return { events, result };
}

function textOf(events: HarmonyEvent[], type: "reasoning-delta" | "content-delta"): string {
  return events.map((e) => (e.type === type ? e.text : "")).join("");
}

describe("HarmonyStreamParser: well-formed output", () => {
  it("streams analysis as reasoning and final as content", () => {
    const { events, result } = parse(
      tokens(
        "<|channel|>analysis<|message|>User greets. Reply.<|end|>" +
          "<|start|>assistant<|channel|>final<|message|>Hello there!<|return|>",
      ),
    );
    expect(textOf(events, "reasoning-delta")).toBe("User greets. Reply.");
    expect(textOf(events, "content-delta")).toBe("Hello there!");
    expect(events.filter((e) => e.type === "content-delta").every((e) => e.channel === "final")).toBe(true);
    expect(result).toMatchObject({
      reasoning: "User greets. Reply.",
      content: "Hello there!",
      toolCalls: [],
      stoppedOn: "return",
      parseErrors: 0,
    });
    // Reasoning arrives before content, as deltas (more than one per message).
    const firstContent = events.findIndex((e) => e.type === "content-delta");
    expect(events.findLastIndex((e) => e.type === "reasoning-delta")).toBeLessThan(firstContent);
    expect(events.filter((e) => e.type === "reasoning-delta").length).toBeGreaterThan(1);
  });

  it("parses a tool call with the recipient after the channel", () => {
    const { events, result } = parse(
      tokens(
        "<|channel|>analysis<|message|>Need weather.<|end|>" +
          '<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"location":"Paris"}<|call|>',
      ),
    );
    expect(events.filter((e) => e.type.startsWith("tool-call-") && e.type !== "tool-call-delta")).toEqual([
      {
        type: "tool-call-start",
        index: 0,
        name: "get_weather",
        recipient: "functions.get_weather",
        channel: "commentary",
      },
      { type: "tool-call-end", index: 0 },
    ]);
    const args = events.map((e) => (e.type === "tool-call-delta" ? e.argumentsDelta : "")).join("");
    expect(args).toBe('{"location":"Paris"}');
    expect(result.toolCalls).toEqual([
      {
        index: 0,
        name: "get_weather",
        recipient: "functions.get_weather",
        channel: "commentary",
        arguments: '{"location":"Paris"}',
      },
    ]);
    expect(result.stoppedOn).toBe("call");
    expect(result.parseErrors).toBe(0);
    expect(result.content).toBe("");
  });

  it("parses a tool call with the recipient after the role (chat-template style)", () => {
    const first = parse(tokens(' to=functions.lookup<|channel|>commentary json<|message|>{"q":1}<|call|>'));
    expect(first.result.toolCalls).toEqual([
      {
        index: 0,
        name: "lookup",
        recipient: "functions.lookup",
        channel: "commentary",
        arguments: '{"q":1}',
      },
    ]);
    expect(first.result.parseErrors).toBe(0);
    const later = parse(
      tokens(
        "<|channel|>analysis<|message|>hm<|end|><|start|>assistant to=functions.lookup<|channel|>commentary <|constrain|>json<|message|>{}<|call|>",
      ),
    );
    expect(later.result.toolCalls.map((c) => c.name)).toEqual(["lookup"]);
    expect(later.result.parseErrors).toBe(0);
  });

  it("accepts a bare function name and calls on other channels", () => {
    const { result } = parse(
      tokens("<|channel|>analysis to=get_time <|constrain|>json<|message|>{}<|call|>"),
    );
    expect(result.toolCalls).toEqual([
      { index: 0, name: "get_time", recipient: "get_time", channel: "analysis", arguments: "{}" },
    ]);
    expect(result.reasoning).toBe("");
  });

  it("numbers successive tool calls", () => {
    const { result } = parse(
      tokens(
        "<|channel|>commentary to=functions.a <|constrain|>json<|message|>{}<|call|>" +
          "<|start|>assistant<|channel|>commentary to=functions.b <|constrain|>json<|message|>[]<|call|>",
      ),
    );
    expect(result.toolCalls.map((c) => [c.index, c.name, c.arguments])).toEqual([
      [0, "a", "{}"],
      [1, "b", "[]"],
    ]);
  });

  it("emits a commentary preamble as content with channel commentary", () => {
    const { events, result } = parse(
      tokens(
        "<|channel|>commentary<|message|>Checking the weather…<|end|>" +
          "<|start|>assistant<|channel|>commentary to=functions.w <|constrain|>json<|message|>{}<|call|>",
      ),
    );
    expect(events[0]).toEqual({
      type: "content-delta",
      text: expect.any(String) as string,
      channel: "commentary",
    });
    expect(result.content).toBe("Checking the weather…");
    expect(result.toolCalls).toHaveLength(1);
  });

  it("reports the channel whose content is streaming", () => {
    const parser = new HarmonyStreamParser();
    const seen: (string | undefined)[] = [];
    for (const t of tokens(
      "<|channel|>analysis<|message|>a<|end|><|start|>assistant<|channel|>final<|message|>b",
    )) {
      parser.push(t);
      seen.push(parser.channel);
    }
    // <|channel|> analysis <|message|> a <|end|> <|start|> assistant <|channel|> final <|message|> b
    const u = undefined;
    expect(seen).toEqual([u, u, "analysis", "analysis", u, u, u, u, u, "final", "final"]);
  });

  it("decodes characters split across tokens without U+FFFD", () => {
    const answer = "안녕하세요! 䨻𝔘 🦜🪿 done";
    const ids = tokens(`<|channel|>final<|message|>${answer}<|return|>`);
    const { events, result } = parse(ids);
    expect(result.content).toBe(answer);
    for (const e of events) if (e.type === "content-delta") expect(e.text).not.toContain("\uFFFD");
  });
});

describe("HarmonyStreamParser: malformed output degrades, never throws", () => {
  it("plain text with no header comes out as content", () => {
    const noise = tokenizer.encode("Hello world, this is just noise from random weights.");
    const { events, result } = parse(noise);
    expect(result.content).toBe("Hello world, this is just noise from random weights.");
    expect(result.parseErrors).toBe(1);
    // Visible early: content starts streaming before the last token.
    const parser = new HarmonyStreamParser();
    const early = noise.slice(0, 3).flatMap((t) => [...parser.push(t)]);
    expect(early.some((e) => e.type === "content-delta")).toBe(true);
    expect(events.filter((e) => e.type === "parse-error")).toHaveLength(1);
  });

  it("a missing channel is treated as final text and counted", () => {
    const { result } = parse(tokens("<|message|>Hi<|end|>"));
    expect(result.content).toBe("Hi");
    expect(result.parseErrors).toBe(1);
  });

  it("a header without <|message|> keeps its channel and shows the rest as text", () => {
    const { result } = parse(tokens("<|channel|>final The answer is 42 and that is final.<|return|>"));
    expect(result.content).toBe("The answer is 42 and that is final.");
    expect(result.parseErrors).toBe(1);
  });

  it("text after <|end|> without a new header still reaches the user", () => {
    const { result } = parse(tokens("<|channel|>final<|message|>A<|end|> and B"));
    expect(result.content).toBe("A and B");
    expect(result.parseErrors).toBe(1);
  });

  it("skips stray control tokens inside content", () => {
    const ids = tokens("<|channel|>final<|message|>one two");
    ids.splice(5, 0, SPECIAL_TOKENS.endOfText, SPECIAL_TOKENS.constrain, 200500);
    const { result } = parse(ids);
    expect(result.content).toBe("one two");
    expect(result.parseErrors).toBe(3);
  });

  it("a new header inside a message closes the message", () => {
    const { result } = parse(
      tokens(
        "<|channel|>analysis<|message|>think<|channel|>final<|message|>answer<|start|>assistant<|channel|>final<|message|>!",
      ),
    );
    expect(result.reasoning).toBe("think");
    expect(result.content).toBe("answer!");
    expect(result.parseErrors).toBe(2);
  });

  it("generation cut inside a header shows nothing and is not an error", () => {
    const { result } = parse(
      tokens("<|channel|>analysis<|message|>x<|end|><|start|>assistant<|channel|>fin"),
    );
    expect(result.content).toBe("");
    expect(result.parseErrors).toBe(0);
  });

  it("closes an unterminated tool call at finish; finish is idempotent; pushes after it are ignored", () => {
    const parser = new HarmonyStreamParser();
    parser.pushAll(tokens('<|channel|>commentary to=functions.f <|constrain|>json<|message|>{"a":'));
    const result = parser.finish();
    expect(result.events).toEqual([{ type: "tool-call-end", index: 0 }]);
    expect(result.toolCalls[0]?.arguments).toBe('{"a":');
    expect(result.stoppedOn).toBe("none");
    expect(parser.push(tokenizer.encode("x")[0] ?? 0)).toEqual([]);
    expect(parser.finish()).toBe(result);
  });

  it("an incomplete character at a control token becomes U+FFFD, not lost text after it", () => {
    const emoji = tokenizer.encode("🦜");
    const ids = [
      ...tokens("<|channel|>final<|message|>"),
      emoji[0] ?? 0,
      ...tokens("<|end|>"),
      ...tokens(" ok"),
    ];
    const { result } = parse(ids);
    expect(result.content).toBe("\uFFFD ok");
  });
});
