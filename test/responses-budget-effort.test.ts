/**
 * The Responses API's max_output_tokens and reasoning.effort (issue 10 items 3 and 4), over the
 * scripted FakeEngine, in-process: an explicit max wins over the profile's, a cut answer says so.
 */
import { describe, expect, it } from "vitest";
import { getHarmonyTokenizer } from "../src/harmony/tokenizer.ts";
import { buildFakeApp } from "./helpers/fake-app.ts";

const tok = getHarmonyTokenizer();
// Longer than every profile's max_new_tokens, with no stop token.
const long = Array.from({ length: 3000 }, () => tok.encode(" word")[0]!);

function respond(app: ReturnType<typeof buildFakeApp>["app"], body: Record<string, unknown>) {
  return app.inject({
    method: "POST",
    url: "/v1/responses",
    headers: { "content-type": "application/json" },
    payload: JSON.stringify({ model: "gpt-oss-fake", input: "Hello", ...body }),
  });
}

describe("Responses max_output_tokens", () => {
  it("an explicit max_output_tokens above the profile's 512 is served, and the cut says so", async () => {
    const { app } = buildFakeApp({ script: () => long, contextSize: 8192 });
    const res = await respond(app, { max_output_tokens: 2000 });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.usage.output_tokens).toBe(2000);
    expect(body.status).toBe("incomplete");
    expect(body.incomplete_details).toEqual({ reason: "max_output_tokens" });
    expect(body.max_output_tokens).toBe(2000);
  });

  it("no max_output_tokens (Codex sends none) runs past the profile's 512, to the model's end", async () => {
    const { app } = buildFakeApp({ script: () => long, contextSize: 8192 });
    const res = await respond(app, {});
    expect(res.json().usage.output_tokens).toBe(3000);
    expect(res.headers["x-gptoss-max-tokens"]).toMatch(/\(default: context left\)$/);
  });

  it("--max-tokens-cap cuts it, as incomplete, and the header names the cap", async () => {
    const { app } = buildFakeApp({ script: () => long, contextSize: 8192, config: { maxTokensCap: 64 } });
    const res = await respond(app, { max_output_tokens: 2000, stream: true });
    expect(res.headers["x-gptoss-max-tokens"]).toBe("64 (asked 2000, --max-tokens-cap)");
    expect(res.body).toContain("event: response.incomplete");
  });
});

describe("Responses reasoning.effort", () => {
  it("xhigh is served as high, minimal and none as low, reported in the header and echoed", async () => {
    const { app } = buildFakeApp();
    for (const [asked, served] of [
      ["xhigh", "high"],
      ["minimal", "low"],
      ["none", "low"],
      ["medium", "medium"],
    ] as const) {
      const res = await respond(app, { reasoning: { effort: asked }, max_output_tokens: 5 });
      expect(res.statusCode).toBe(200);
      expect(res.headers["x-gptoss-reasoning-effort"]).toBe(
        asked === served ? served : `${served} (asked ${asked})`,
      );
      expect(res.json().reasoning.effort).toBe(served);
    }
  });
});
