import { describe, expect, it } from "vitest";
import { parseChatRequest } from "./chat-request.ts";
import { REASONING_EFFORTS, reasoningEffortFields, reasoningEffortHeader } from "./reasoning-effort.ts";
import { parseResponsesRequest } from "./responses-request.ts";

describe("reasoning effort", () => {
  it("maps GPT-5's efforts to gpt-oss's three and keeps what was asked when it differs", () => {
    expect(reasoningEffortFields("none")).toEqual({ reasoningEffort: "low", reasoningEffortAsked: "none" });
    expect(reasoningEffortFields("minimal")).toEqual({
      reasoningEffort: "low",
      reasoningEffortAsked: "minimal",
    });
    expect(reasoningEffortFields("xhigh")).toEqual({
      reasoningEffort: "high",
      reasoningEffortAsked: "xhigh",
    });
    for (const e of ["low", "medium", "high"] as const)
      expect(reasoningEffortFields(e)).toEqual({ reasoningEffort: e });
    expect(reasoningEffortFields(undefined)).toEqual({ reasoningEffort: "medium" });
    expect(reasoningEffortFields(null)).toEqual({ reasoningEffort: "medium" });
  });

  it("names the level served, and the asked one when mapped", () => {
    expect(reasoningEffortHeader("low", "minimal")).toBe("low (asked minimal)");
    expect(reasoningEffortHeader("high", undefined)).toBe("high");
  });

  it("both wire parsers accept every effort and map it the same way", () => {
    for (const asked of REASONING_EFFORTS) {
      const expected = reasoningEffortFields(asked);
      const chat = parseChatRequest({
        model: "m",
        messages: [{ role: "user", content: "hi" }],
        reasoning_effort: asked,
      });
      expect(chat).toMatchObject(expected);
      const nested = parseChatRequest({
        model: "m",
        messages: [{ role: "user", content: "hi" }],
        reasoning: { effort: asked },
      });
      expect(nested).toMatchObject(expected);
      const responses = parseResponsesRequest(
        { model: "m", input: "hi", reasoning: { effort: asked } },
        () => undefined,
      );
      expect(responses.serving).toMatchObject(expected);
    }
    expect(() =>
      parseChatRequest({ model: "m", messages: [{ role: "user", content: "hi" }], reasoning_effort: "max" }),
    ).toThrow();
  });
});
