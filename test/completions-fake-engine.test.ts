/**
 * `POST /v1/completions` (raw prompt, legacy Completions) and vLLM's `/tokenize` / `/detokenize`,
 * through the official `openai` client and raw requests, against the app over the scripted
 * FakeEngine (its logprobs are deterministic: fake-engine.ts fakeLogprob).
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakeLogprob } from "../src/engines/fake/fake-engine.ts";
import { getHarmonyTokenizer } from "../src/harmony/tokenizer.ts";
import { buildFakeApp, sseData } from "./helpers/fake-app.ts";

const tokenizer = getHarmonyTokenizer();
/** The fake model's whole output: a final answer in harmony, ended by <|return|>. */
const OUTPUT = "<|channel|>final<|message|>Hello there, world!<|return|>";
const OUTPUT_TOKENS = tokenizer.encodeWithSpecials(OUTPUT);
const PROMPT = "<|start|>user<|message|>Hi<|end|><|start|>assistant";

const { app } = buildFakeApp({ script: () => OUTPUT_TOKENS });
let client: OpenAI;
const model = "gpt-oss-fake";

beforeAll(async () => {
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 });
});

afterAll(async () => {
  await app.close();
});

describe("POST /v1/completions", () => {
  it("returns the raw output, control tokens spelled out, without the stop token that ended it", async () => {
    const completion = await client.completions.create({ model, prompt: PROMPT, max_tokens: 100 });
    expect(completion.object).toBe("text_completion");
    expect(completion.id).toMatch(/^cmpl-/);
    expect(completion.choices[0]?.text).toBe("<|channel|>final<|message|>Hello there, world!");
    expect(completion.choices[0]?.finish_reason).toBe("stop");
    expect(completion.choices[0]?.logprobs).toBeNull();
    expect(completion.usage?.completion_tokens).toBe(OUTPUT_TOKENS.length);
    expect(completion.usage?.prompt_tokens).toBe(tokenizer.encodeWithSpecials(PROMPT).length);
  });

  it("takes token ids as the prompt, and cuts at max_tokens with finish_reason length", async () => {
    const prompt = tokenizer.encodeWithSpecials(PROMPT);
    const completion = await client.completions.create({ model, prompt, max_tokens: 3 });
    expect(completion.choices[0]?.text).toBe(tokenizer.decode(OUTPUT_TOKENS.slice(0, 3)));
    expect(completion.choices[0]?.finish_reason).toBe("length");
    expect(completion.usage?.prompt_tokens).toBe(prompt.length);
  });

  it("streams text_completion chunks whose text joins to the whole output, then usage", async () => {
    const stream = await client.completions.create({
      model,
      prompt: PROMPT,
      max_tokens: 100,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      expect(chunk.object).toBe("text_completion");
      for (const choice of chunk.choices) {
        text += choice.text;
        finish = choice.finish_reason ?? finish;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe("<|channel|>final<|message|>Hello there, world!");
    expect(finish).toBe("stop");
    expect(usage?.completion_tokens).toBe(OUTPUT_TOKENS.length);
  });

  it("applies stop strings, and echo puts the prompt first", async () => {
    const completion = await client.completions.create({
      model,
      prompt: PROMPT,
      max_tokens: 100,
      stop: [", world"],
      echo: true,
    });
    expect(completion.choices[0]?.text).toBe(`${PROMPT}<|channel|>final<|message|>Hello there`);
    expect(completion.choices[0]?.finish_reason).toBe("stop");
  });

  it("reports logprobs as parallel arrays, streamed too", async () => {
    const completion = await client.completions.create({
      model,
      prompt: PROMPT,
      max_tokens: 100,
      logprobs: 2,
    });
    const logprobs = completion.choices[0]?.logprobs;
    // Every token but the stop token that ended the generation.
    const shown = OUTPUT_TOKENS.slice(0, -1);
    expect(logprobs?.tokens).toEqual(shown.map((t) => tokenizer.decode([t])));
    expect(logprobs?.token_logprobs).toEqual(shown.map((t, i) => fakeLogprob(t, i, 2).logprob));
    const first = fakeLogprob(shown[0]!, 0, 2);
    expect(logprobs?.top_logprobs?.[0]).toEqual({
      [tokenizer.decode([first.top[0]!.token])]: first.top[0]!.logprob,
      [tokenizer.decode([first.top[1]!.token])]: first.top[1]!.logprob,
    });
    expect(logprobs?.text_offset?.[1]).toBe(tokenizer.decode([shown[0]!]).length);

    const stream = await client.completions.create({
      model,
      prompt: PROMPT,
      max_tokens: 100,
      logprobs: 0,
      stream: true,
    });
    const streamed: number[] = [];
    for await (const chunk of stream)
      streamed.push(...(chunk.choices[0]?.logprobs?.token_logprobs ?? []).map(Number));
    expect(streamed).toEqual(shown.map((t, i) => fakeLogprob(t, i, 0).logprob));
  });

  it("refuses what it cannot serve with a 400 naming the field", async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ n: 2 }, "n"],
      [{ best_of: 3 }, "best_of"],
      [{ suffix: "x" }, "suffix"],
      [{ echo: true, logprobs: 1 }, "echo"],
      [{ logprobs: 21 }, "logprobs"],
      [{ prompt: ["a", "b"] }, "prompt"],
      [{ prompt: [201088] }, "prompt.0"],
    ];
    for (const [extra, param] of cases) {
      const res = await app.inject({
        method: "POST",
        url: "/v1/completions",
        payload: { model, prompt: PROMPT, ...extra },
      });
      expect(res.statusCode, JSON.stringify(extra)).toBe(400);
      expect(res.json().error.param, JSON.stringify(extra)).toBe(param);
    }
  });

  it("refuses logprobs on an engine that cannot report them", async () => {
    const noLogprobs = buildFakeApp({ script: () => OUTPUT_TOKENS, logprobs: false });
    const res = await noLogprobs.app.inject({
      method: "POST",
      url: "/v1/completions",
      payload: { model, prompt: PROMPT, logprobs: 1 },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toMatch(/cannot report logprobs/);
    await noLogprobs.app.close();
  });

  it("streams an SSE body that ends with [DONE]", async () => {
    const res = await app.inject({
      method: "POST",
      url: "/v1/completions",
      payload: { model, prompt: PROMPT, stream: true },
    });
    const data = sseData(res.body);
    expect(data.at(-1)).toBe("[DONE]");
  });
});

describe("POST /tokenize and /detokenize", () => {
  it("tokenizes a raw prompt with control tokens recognised, and detokenizes it back", async () => {
    const res = await app.inject({ method: "POST", url: "/tokenize", payload: { model, prompt: PROMPT } });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ tokens: number[]; count: number; max_model_len: number }>();
    expect(body.tokens).toEqual(tokenizer.encodeWithSpecials(PROMPT));
    expect(body.count).toBe(body.tokens.length);
    expect(body.max_model_len).toBe(4096);
    const back = await app.inject({
      method: "POST",
      url: "/detokenize",
      payload: { model, tokens: body.tokens },
    });
    expect(back.json()).toEqual({ prompt: PROMPT });
  });

  it("renders messages as chat completions does (/v1/chat/render)", async () => {
    const messages = [{ role: "user", content: "What is 2+2?" }];
    const render = await app.inject({ method: "POST", url: "/v1/chat/render", payload: { model, messages } });
    const res = await app.inject({
      method: "POST",
      url: "/tokenize",
      payload: { model, messages, return_token_strs: true },
    });
    const body = res.json<{ tokens: number[]; token_strs: string[] }>();
    expect(body.tokens).toEqual(render.json().token_ids);
    expect(body.token_strs[0]).toBe("<|start|>");
  });

  it("refuses an unknown model, both prompt and messages, and ids outside the vocabulary", async () => {
    const unknown = await app.inject({
      method: "POST",
      url: "/tokenize",
      payload: { model: "nope", prompt: "x" },
    });
    expect(unknown.statusCode).toBe(404);
    const both = await app.inject({
      method: "POST",
      url: "/tokenize",
      payload: { model, prompt: "x", messages: [{ role: "user", content: "x" }] },
    });
    expect(both.statusCode).toBe(400);
    const bad = await app.inject({ method: "POST", url: "/detokenize", payload: { model, tokens: [1, -1] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.param).toBe("tokens.1");
  });

  it("refuses a prompt longer than the context", async () => {
    const res = await app.inject({
      method: "POST",
      url: "/tokenize",
      payload: { model, prompt: "word ".repeat(5000) },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe("context_length_exceeded");
  });
});
