import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HarmonyStreamParser, type HarmonyEvent, type HarmonyParseResult } from "./parser.ts";
import { HARMONY_VOCAB_SIZE, SPECIAL_TOKENS } from "./special-tokens.ts";
import { getHarmonyTokenizer } from "./tokenizer.ts";

const tokenizer = getHarmonyTokenizer();
const S = SPECIAL_TOKENS;

type ModelMessage =
  | { kind: "analysis" | "final" | "preamble"; text: string }
  | { kind: "tool"; name: string; args: string; recipientAfterRole: boolean; bare: boolean };

const text = fc.string({ unit: "grapheme", maxLength: 40 });
const toolName = fc
  .stringMatching(/^[a-z_][a-z0-9_]{0,15}$/)
  .filter((n) => n !== "all" && n !== "assistant" && n !== "user");
const modelMessage: fc.Arbitrary<ModelMessage> = fc.oneof(
  fc.record({ kind: fc.constantFrom("analysis" as const, "final" as const, "preamble" as const), text }),
  fc.record({
    kind: fc.constant("tool" as const),
    name: toolName,
    args: text,
    recipientAfterRole: fc.boolean(),
    bare: fc.boolean(),
  }),
);

/** Tokens as gpt-oss emits them after a prompt ending in `<|start|>assistant`. */
function modelOutput(messages: readonly ModelMessage[]): number[] {
  const out: number[] = [];
  const add = (piece: string): void => {
    for (const id of tokenizer.encode(piece)) out.push(id);
  };
  messages.forEach((m, i) => {
    if (i > 0) {
      out.push(S.start);
      add("assistant");
    }
    if (m.kind === "tool") {
      const recipient = m.bare ? m.name : `functions.${m.name}`;
      if (m.recipientAfterRole) add(` to=${recipient}`);
      out.push(S.channel);
      add("commentary");
      if (!m.recipientAfterRole) add(` to=${recipient}`);
      add(" ");
      out.push(S.constrain);
      add("json");
      out.push(S.message);
      add(m.args);
      out.push(S.call);
      return;
    }
    out.push(S.channel);
    add(m.kind === "preamble" ? "commentary" : m.kind);
    out.push(S.message);
    add(m.text);
    out.push(i === messages.length - 1 && m.kind === "final" ? S.return : S.end);
  });
  return out;
}

function run(ids: readonly number[]): { events: HarmonyEvent[]; result: HarmonyParseResult } {
  const parser = new HarmonyStreamParser();
  const events: HarmonyEvent[] = [];
  for (const id of ids) events.push(...parser.push(id));
  const result = parser.finish();
  events.push(...result.events);
  return { events, result };
}

/** The summary must be exactly what the events said, and tool-call events must be well nested. */
function expectConsistent(events: HarmonyEvent[], result: HarmonyParseResult): void {
  const join = (type: "reasoning-delta" | "content-delta"): string =>
    events.map((e) => (e.type === type ? e.text : "")).join("");
  expect(result.content).toBe(join("content-delta"));
  expect(result.reasoning).toBe(join("reasoning-delta"));
  expect(result.parseErrors).toBe(events.filter((e) => e.type === "parse-error").length);
  const open = new Set<number>();
  const args = new Map<number, string>();
  for (const e of events) {
    if (e.type === "tool-call-start") {
      expect(open.has(e.index) || args.has(e.index)).toBe(false);
      open.add(e.index);
      args.set(e.index, "");
    } else if (e.type === "tool-call-delta") {
      expect(open.has(e.index)).toBe(true);
      args.set(e.index, (args.get(e.index) ?? "") + e.argumentsDelta);
    } else if (e.type === "tool-call-end") {
      expect(open.delete(e.index)).toBe(true);
    }
  }
  expect(open.size).toBe(0);
  expect(result.toolCalls.map((c) => [c.index, c.arguments])).toEqual([...args.entries()]);
}

const specialIds = [
  ...Object.values(SPECIAL_TOKENS),
  200000,
  200001,
  200004,
  200009,
  200018,
  200019,
  HARMONY_VOCAB_SIZE - 1,
];
const anyToken = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: HARMONY_VOCAB_SIZE - 1 }) },
  { weight: 2, arbitrary: fc.constantFrom(...specialIds) },
  { weight: 2, arbitrary: fc.constantFrom(...tokenizer.encode(" to=functions.x json\n🦜 final analysis")) },
);

describe("HarmonyStreamParser properties", () => {
  it("well-formed output: no final text, reasoning or tool call is lost", () => {
    fc.assert(
      fc.property(fc.array(modelMessage, { minLength: 1, maxLength: 5 }), (messages) => {
        const { events, result } = run(modelOutput(messages));
        const of = (kinds: string[]): string =>
          messages.map((m) => (kinds.includes(m.kind) && m.kind !== "tool" ? m.text : "")).join("");
        expect(result.content).toBe(of(["final", "preamble"]));
        expect(result.reasoning).toBe(of(["analysis"]));
        expect(result.toolCalls.map((c) => [c.name, c.arguments])).toEqual(
          messages.flatMap((m) => (m.kind === "tool" ? [[m.name, m.args]] : [])),
        );
        expect(result.parseErrors).toBe(0);
        const last = messages[messages.length - 1];
        expect(result.stoppedOn).toBe(
          last?.kind === "tool" ? "call" : last?.kind === "final" ? "return" : "none",
        );
        expectConsistent(events, result);
      }),
      { numRuns: 300 },
    );
  });

  it("random token streams never throw and stay self-consistent", () => {
    fc.assert(
      fc.property(fc.array(anyToken, { maxLength: 120 }), (ids) => {
        const { events, result } = run(ids);
        expectConsistent(events, result);
      }),
      { numRuns: 400 },
    );
  });

  it("mutated well-formed streams never throw and stay self-consistent", () => {
    const mutation = fc.record({
      op: fc.constantFrom("delete" as const, "insert" as const, "replace" as const),
      at: fc.nat(),
      token: anyToken,
    });
    fc.assert(
      fc.property(
        fc.array(modelMessage, { minLength: 1, maxLength: 4 }),
        fc.array(mutation, { minLength: 1, maxLength: 6 }),
        (messages, mutations) => {
          const ids = modelOutput(messages);
          for (const m of mutations) {
            const at = ids.length === 0 ? 0 : m.at % (ids.length + 1);
            if (m.op === "delete") ids.splice(at, 1);
            else if (m.op === "insert") ids.splice(at, 0, m.token);
            else ids.splice(at, 1, m.token);
          }
          const { events, result } = run(ids);
          expectConsistent(events, result);
        },
      ),
      { numRuns: 400 },
    );
  });
});
