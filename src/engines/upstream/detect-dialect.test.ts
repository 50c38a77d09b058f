/**
 * detectDialect against test doubles of each server: plain node:http servers answering the probe
 * paths as llama-server, SGLang (today's /model_info and the older /get_model_info), vLLM, this
 * server and another OpenAI-compatible server do, 404 elsewhere.
 */
import { describe, expect, it } from "vitest";
import { detectDialect } from "./detect-dialect.ts";
import { startUpstreamDouble } from "./upstream-double-for-test.ts";

type Routes = Record<string, unknown>;

/** A server test double answering each of `routes` with its JSON, 404 otherwise; records auth headers. */
const double = (routes: Routes, key?: string) =>
  startUpstreamDouble({ routes, ...(key !== undefined ? { key } : {}) });

const models = (entry: Record<string, unknown>) => ({
  object: "list",
  data: [{ id: "openai/gpt-oss-20b", object: "model", created: 1, ...entry }],
});

const SERVERS: Array<[string, Routes, string]> = [
  [
    "llama-server (/props)",
    {
      "/props": { default_generation_settings: { n_ctx: 8192 }, total_slots: 1, model_path: "m.gguf" },
      "/v1/models": models({ owned_by: "llamacpp" }),
    },
    "llama-server",
  ],
  [
    "SGLang (/model_info)",
    {
      "/model_info": {
        model_path: "openai/gpt-oss-20b",
        tokenizer_path: "openai/gpt-oss-20b",
        is_generation: true,
      },
      "/get_model_info": { model_path: "openai/gpt-oss-20b", is_generation: true },
      "/v1/models": models({ owned_by: "sglang", root: "openai/gpt-oss-20b", max_model_len: 131072 }),
    },
    "sglang",
  ],
  [
    "an older SGLang (/get_model_info only)",
    {
      "/get_model_info": { model_path: "openai/gpt-oss-20b", tokenizer_path: "openai/gpt-oss-20b" },
      "/v1/models": models({ owned_by: "sglang", max_model_len: 131072 }),
    },
    "sglang",
  ],
  [
    "vLLM (owned_by vllm)",
    {
      "/v1/models": models({
        owned_by: "vllm",
        root: "openai/gpt-oss-20b",
        parent: null,
        max_model_len: 131072,
      }),
    },
    "vllm",
  ],
  [
    "this server (random_weights)",
    { "/v1/models": models({ owned_by: "openai", random_weights: false, context_length: 8192 }) },
    "vllm",
  ],
  ["another OpenAI-compatible server", { "/v1/models": models({ owned_by: "openai" }) }, "openai-chat"],
];

describe("detectDialect (server test doubles)", () => {
  for (const [name, routes, dialect] of SERVERS) {
    it(`${name} → ${dialect}`, async () => {
      const { url } = await double(routes);
      expect(await detectDialect(url, undefined, 2_000)).toBe(dialect);
    });
  }

  it("sends the API key on every probe", async () => {
    const { url, auth } = await double({ "/v1/models": models({ owned_by: "vllm" }) }, "k1");
    expect(await detectDialect(url, "k1", 2_000)).toBe("vllm");
    expect(auth.length).toBeGreaterThanOrEqual(4);
    expect(new Set(auth)).toEqual(new Set(["Bearer k1"]));
  });

  it("an upstream that answers no probe (wrong key, or nothing listening) is an error, not a guess", async () => {
    const { url } = await double({ "/v1/models": models({ owned_by: "vllm" }) }, "right");
    await expect(detectDialect(url, "wrong", 2_000)).rejects.toThrow(/GET \/v1\/models answered 401/);
    const gone = await double({}); // its port, closed before anything asks it
    await gone.close();
    await expect(detectDialect(gone.url, undefined, 2_000)).rejects.toThrow(/GET \/v1\/models failed/);
  });
});
