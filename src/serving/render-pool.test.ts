import { afterAll, describe, expect, it } from "vitest";
import { ServerError } from "../errors/server-error.ts";
import { OFF_THREAD_CHARS, RenderPool } from "./render-pool.ts";
import { encodeRawPrompt } from "./raw-prompt.ts";
import { renderServingRequest } from "./render-request.ts";
import { parseChatRequest } from "./chat-request.ts";

const pool = new RenderPool({ threads: 1 });
afterAll(() => pool.close());

function request(content: string) {
  return parseChatRequest({ model: "m", messages: [{ role: "user", content }] });
}

const prose = "The quick brown fox jumps over the lazy dog; the server keeps answering. ";

describe("RenderPool", () => {
  it("renders a large prompt on a worker to exactly the tokens the thread would", async () => {
    const big = request(prose.repeat(Math.ceil((2 * OFF_THREAD_CHARS) / prose.length)));
    const here = renderServingRequest(big, "2026-12-02");
    const there = await pool.render(big, "2026-12-02", 100_000);
    expect(there.tokens).toEqual(here.tokens);
    expect(there.text).toBe(here.text);
  });

  it("refuses a prompt past the limit with context_length_exceeded, from a worker and from the thread", async () => {
    const big = request(prose.repeat(Math.ceil((2 * OFF_THREAD_CHARS) / prose.length)));
    const refused = await pool.render(big, "2026-12-02", 1_000).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ServerError);
    expect((refused as ServerError).code).toBe("context_length_exceeded");
    const small = await pool.render(request(prose.repeat(30)), "2026-12-02", 50).catch((e: unknown) => e);
    expect((small as ServerError).code).toBe("context_length_exceeded");
  });

  it("refuses a run of one letter from its length alone, without BPE (which would take ~55 s)", async () => {
    const started = performance.now();
    const refused = await pool
      .render(request("a".repeat(4_000_000)), "2026-12-02", 8192)
      .catch((e: unknown) => e);
    expect((refused as ServerError).code).toBe("context_length_exceeded");
    expect((refused as ServerError).message).toMatch(/at least \d+ tokens/);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it("stops tokenizing a long pre-token at the limit (a run within the length bound)", async () => {
    // 200k letters could be 1,563 tokens by length, but BPE makes ~25k of them: refused mid-way.
    const refused = await pool
      .render(request("a".repeat(200_000)), "2026-12-02", 2_000)
      .catch((e: unknown) => e);
    expect((refused as ServerError).code).toBe("context_length_exceeded");
  });
});

describe("RenderPool.encodeRaw (raw prompts: /v1/completions, /tokenize)", () => {
  const raw = `<|start|>user<|message|>${prose.repeat(Math.ceil((2 * OFF_THREAD_CHARS) / prose.length))}<|end|>`;

  it("tokenizes a long raw prompt on a worker to exactly the ids of the thread, control tokens included", async () => {
    const there = await pool.encodeRaw(raw, 100_000);
    expect(there).toEqual(encodeRawPrompt(raw, 100_000));
    expect(there[0]).toBe(200_006);
    expect(there.at(-1)).toBe(200_007);
  });

  it("refuses past the limit, from a worker and from the length alone", async () => {
    const refused = await pool.encodeRaw(raw, 1_000).catch((e: unknown) => e);
    expect((refused as ServerError).code).toBe("context_length_exceeded");
    const started = performance.now();
    const hopeless = await pool.encodeRaw("a".repeat(4_000_000), 8192).catch((e: unknown) => e);
    expect((hopeless as ServerError).code).toBe("context_length_exceeded");
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
