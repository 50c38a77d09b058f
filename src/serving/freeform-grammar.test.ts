import { describe, expect, it } from "vitest";
import { freeformRule } from "./freeform-grammar.ts";

const regex = (definition: string) => freeformRule({ type: "grammar", syntax: "regex", definition });

describe("freeformRule", () => {
  it("leaves text and lark inputs free", () => {
    expect(freeformRule({ type: "text" })).toEqual({ ok: true, gbnf: undefined });
    expect(freeformRule({ type: "grammar", syntax: "lark", definition: "start: x" })).toEqual({
      ok: true,
      gbnf: undefined,
    });
  });

  it("compiles a regex to raw characters, matched whole, anchors or not", () => {
    const anchored = regex("^[a-c]+\\d{2}$");
    expect(anchored).toEqual(regex("[a-c]+\\d{2}"));
    expect(anchored.ok && anchored.gbnf).toMatch(
      /\[\\u0061-\\u0063\] \)\{1,\}.*\[\\u0030-\\u0039\] \)\{2,2\}/,
    );
    expect(regex("a|b").ok && regex("a|b")).toMatchObject({ gbnf: expect.stringContaining(" | ") });
  });

  it("leaves < out of every class (it could start a control token's spelling)", () => {
    const rule = regex("[;-=]");
    expect(rule.ok && rule.gbnf).toContain("[\\u003B\\u003D]");
    expect(regex("<").ok).toBe(false);
  });

  it("says why a regex cannot be compiled", () => {
    expect(regex("(?=a)b")).toMatchObject({ ok: false });
    expect(regex("a{2000}")).toEqual({
      ok: false,
      reason: "cannot be compiled: a repetition bound above 1000",
    });
    expect(regex("(")).toMatchObject({ ok: false, reason: expect.stringContaining("not a valid") });
  });
});
