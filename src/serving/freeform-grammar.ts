/**
 * A freeform (Responses `custom`) tool's input → the GBNF that constrains it. The input is raw text,
 * not JSON, so a `regex` format compiles to characters as written (json-schema-pattern.ts parses the
 * regex; its subset applies), matched whole, as OpenAI's regex-constrained custom tools are. `<` is
 * left out of every character class: `<|` would spell a control token as text and desynchronise the
 * parser (the same rule as free text). A `lark` grammar, or any other syntax, is shown to the model
 * (render-tools.ts) but not enforced: the input is free text.
 */
import { parsePattern, type CharSet, type PatternNode } from "./json-schema-pattern.ts";
import type { FreeformInput } from "./serving-request.ts";

/** Repetition bounds above this are refused: llama.cpp expands `{m,n}` into that many rules. */
const MAX_REPEAT = 1000;

const LT = 0x3c;

function escapeCodePoint(cp: number): string {
  return cp <= 0xffff
    ? `\\u${cp.toString(16).toUpperCase().padStart(4, "0")}`
    : `\\U${cp.toString(16).toUpperCase().padStart(8, "0")}`;
}

/** The set without `<`. */
function withoutLt(set: CharSet): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [lo, hi] of set) {
    if (hi < LT || lo > LT) out.push([lo, hi]);
    else {
      if (lo < LT) out.push([lo, LT - 1]);
      if (hi > LT) out.push([LT + 1, hi]);
    }
  }
  return out;
}

class FreeformError extends Error {}

function expression(node: PatternNode): string {
  switch (node.kind) {
    case "chars": {
      const ranges = withoutLt(node.set);
      if (ranges.length === 0) throw new FreeformError("a character class that only holds '<'");
      const body = ranges
        .map(([lo, hi]) =>
          lo === hi ? escapeCodePoint(lo) : `${escapeCodePoint(lo)}-${escapeCodePoint(hi)}`,
        )
        .join("");
      return `[${body}]`;
    }
    case "seq":
      return node.items.length === 0 ? '""' : `( ${node.items.map(expression).join(" ")} )`;
    case "alt":
      return `( ${node.branches.map(expression).join(" | ")} )`;
    case "repeat": {
      if (node.min > MAX_REPEAT || (node.max ?? 0) > MAX_REPEAT) {
        throw new FreeformError(`a repetition bound above ${MAX_REPEAT}`);
      }
      const inner = `( ${expression(node.node)} )`;
      return node.max === undefined ? `${inner}{${node.min},}` : `${inner}{${node.min},${node.max}}`;
    }
  }
}

export type FreeformRule = { ok: true; gbnf: string | undefined } | { ok: false; reason: string };

/**
 * The GBNF expression a freeform tool's input must match, `gbnf: undefined` when it is not enforced
 * (text, lark), or why a regex cannot be compiled.
 */
export function freeformRule(format: FreeformInput): FreeformRule {
  if (format.type !== "grammar" || format.syntax !== "regex") return { ok: true, gbnf: undefined };
  const parsed = parsePattern(format.definition);
  if (!Array.isArray(parsed)) return { ok: false, reason: parsed.reason };
  try {
    // Anchors or not, the whole input must match: a tool's input is the match, not a text around it.
    return { ok: true, gbnf: `( ${parsed.map((alt) => expression(alt.node)).join(" | ")} )` };
  } catch (error) {
    if (error instanceof FreeformError) return { ok: false, reason: `cannot be compiled: ${error.message}` };
    throw error;
  }
}
