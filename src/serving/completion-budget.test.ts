import { describe, expect, it } from "vitest";
import { PROFILES } from "../config/profiles.ts";
import { budgetHeader, completionBudget } from "./completion-budget.ts";

const latency = PROFILES.latency_first;
const context = { defaultMaxTokens: "context" as const };

describe("completionBudget", () => {
  it("serves an explicit max as asked, above the profile's max_new_tokens, up to the context", () => {
    expect(completionBudget(context, latency, 2000, 7000)).toEqual({ maxTokens: 2000, source: "request" });
    expect(completionBudget(context, latency, 9000, 7000).maxTokens).toBe(7000);
  });

  it("defaults to the context left, the profile's max_new_tokens, or a number", () => {
    expect(completionBudget(context, latency, undefined, 7000)).toEqual({
      maxTokens: 7000,
      source: "default",
    });
    expect(completionBudget({ defaultMaxTokens: "profile" }, latency, undefined, 7000).maxTokens).toBe(512);
    expect(completionBudget({ defaultMaxTokens: "profile" }, latency, undefined, 100).maxTokens).toBe(100);
    expect(completionBudget({ defaultMaxTokens: 3000 }, latency, undefined, 7000).maxTokens).toBe(3000);
  });

  it("the operator's cap bounds both, and says it did", () => {
    const capped = { ...context, maxTokensCap: 1000 };
    expect(completionBudget(capped, latency, 2000, 7000)).toEqual({ maxTokens: 1000, source: "cap" });
    expect(completionBudget(capped, latency, undefined, 7000)).toEqual({ maxTokens: 1000, source: "cap" });
    expect(completionBudget(capped, latency, 500, 7000)).toEqual({ maxTokens: 500, source: "request" });
  });

  it("reports a number the server chose, never the client's own", () => {
    expect(budgetHeader({ maxTokens: 2000, source: "request" }, 2000, context)).toBeUndefined();
    expect(budgetHeader({ maxTokens: 7000, source: "default" }, undefined, context)).toBe(
      "7000 (default: context left)",
    );
    expect(budgetHeader({ maxTokens: 1000, source: "cap" }, 2000, context)).toBe(
      "1000 (asked 2000, --max-tokens-cap)",
    );
    expect(budgetHeader({ maxTokens: 1000, source: "cap" }, undefined, context)).toBe(
      "1000 (--max-tokens-cap)",
    );
  });
});
