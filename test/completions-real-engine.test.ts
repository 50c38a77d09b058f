/**
 * `/v1/completions`, `/tokenize` and logprobs on the real tiny model through the official `openai`
 * client: over the node-llama-cpp engine (test/helpers/llama-app.ts), which refuses logprobs, and
 * over the native engine, which reports them. Random weights: the tests assert the protocol and the
 * numbers' relations (greedy picks the most likely token), never the words.
 */
import OpenAI from "openai";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultConfig } from "../src/config/defaults.ts";
import type { Engine } from "../src/engines/engine.ts";
import { createNativeEngine } from "../src/engines/native/native-engine.ts";
import { engineOptions } from "../src/engines/native/tiny-engine-support.ts";
import { buildApp } from "../src/http/app.ts";
import { createServerMetrics } from "../src/metrics/prometheus.ts";
import { StatsCollector } from "../src/metrics/stats-collector.ts";
import { Scheduler } from "../src/scheduler/scheduler.ts";
import { ModelPool } from "../src/serving/model-pool.ts";
import { sseData } from "./helpers/fake-app.ts";
import { buildLlamaApp, type LlamaApp } from "./helpers/llama-app.ts";
import { SUITE_DATE } from "./helpers/suite-date.ts";

const PROMPT = "<|start|>user<|message|>Say hi<|end|><|start|>assistant";

describe("completions on the tiny model, node-llama-cpp engine", () => {
  let llama: LlamaApp;
  let client: OpenAI;
  beforeAll(async () => {
    llama = await buildLlamaApp();
    const url = await llama.app.listen({ host: "127.0.0.1", port: 0 });
    client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 });
  }, 120_000);
  afterAll(async () => {
    await llama?.close();
  });

  it("completes a raw prompt, streamed and not, with real token counts", async () => {
    const tokens = (
      await llama.app.inject({
        method: "POST",
        url: "/tokenize",
        payload: { model: "gpt-oss-tiny", prompt: PROMPT },
      })
    ).json<{ count: number }>();
    const completion = await client.completions.create({
      model: "gpt-oss-tiny",
      prompt: PROMPT,
      max_tokens: 6,
      temperature: 0,
    });
    expect(completion.choices[0]?.finish_reason).toMatch(/^(stop|length)$/);
    expect(completion.usage?.prompt_tokens).toBe(tokens.count);
    expect(completion.usage?.completion_tokens).toBeGreaterThan(0);
    const stream = await client.completions.create({
      model: "gpt-oss-tiny",
      prompt: PROMPT,
      max_tokens: 6,
      temperature: 0,
      stream: true,
    });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
    expect(text).toBe(completion.choices[0]?.text);
  });

  it("return_token_ids: streamed ids join to the non-streamed ones, prompt ids match /tokenize, stop_reason names the stop token", async () => {
    const payload = {
      model: "gpt-oss-tiny",
      prompt: PROMPT,
      max_tokens: 12,
      temperature: 0.8,
      seed: 7,
      return_token_ids: true,
    };
    const tokenized = (
      await llama.app.inject({
        method: "POST",
        url: "/tokenize",
        payload: { model: "gpt-oss-tiny", prompt: PROMPT },
      })
    ).json<{ tokens: number[] }>();
    const whole = (await llama.app.inject({ method: "POST", url: "/v1/completions", payload })).json<{
      choices: {
        token_ids: number[];
        prompt_token_ids: number[];
        finish_reason: string;
        stop_reason: unknown;
      }[];
      usage: { completion_tokens: number };
    }>();
    const choice = whole.choices[0]!;
    expect(choice.prompt_token_ids).toEqual(tokenized.tokens);
    expect(choice.token_ids).toHaveLength(whole.usage.completion_tokens);
    if (choice.finish_reason === "stop") expect(choice.stop_reason).toBe(choice.token_ids.at(-1));
    else expect(choice.stop_reason).toBeNull();
    const res = await llama.app.inject({
      method: "POST",
      url: "/v1/completions",
      payload: { ...payload, stream: true },
    });
    const chunks = sseData(res.body).slice(0, -1) as {
      choices: { token_ids: number[]; prompt_token_ids?: number[] }[];
    }[];
    expect(chunks.flatMap((c) => c.choices[0]?.token_ids ?? [])).toEqual(choice.token_ids);
    expect(chunks[0]?.choices[0]?.prompt_token_ids).toEqual(tokenized.tokens);
  });

  it("stop_token_ids ends the generation at the first of the ids generated", async () => {
    const payload = {
      model: "gpt-oss-tiny",
      prompt: PROMPT,
      max_tokens: 8,
      temperature: 0,
      return_token_ids: true,
    };
    const free = (await llama.app.inject({ method: "POST", url: "/v1/completions", payload })).json<{
      choices: { token_ids: number[] }[];
    }>();
    // Greedy and random weights: whatever came third is what it stops on now (or earlier, if it came before).
    const freeIds = free.choices[0]!.token_ids;
    const target = freeIds[Math.min(2, freeIds.length - 1)]!;
    const stopped = (
      await llama.app.inject({
        method: "POST",
        url: "/v1/completions",
        payload: { ...payload, stop_token_ids: [target] },
      })
    ).json<{ choices: { token_ids: number[]; finish_reason: string; stop_reason: unknown }[] }>();
    const choice = stopped.choices[0]!;
    expect(choice.finish_reason).toBe("stop");
    expect(choice.stop_reason).toBe(target);
    expect(choice.token_ids).toEqual(
      free.choices[0]!.token_ids.slice(0, free.choices[0]!.token_ids.indexOf(target) + 1),
    );
  });

  it("refuses logprobs with a 400 that names the native engine", async () => {
    const res = await llama.app.inject({
      method: "POST",
      url: "/v1/completions",
      payload: { model: "gpt-oss-tiny", prompt: PROMPT, logprobs: 1 },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toMatch(/native engine/);
  });
});

describe("logprobs on the tiny model, native engine", () => {
  let engine: Engine;
  let close: () => Promise<void>;
  let client: OpenAI;
  beforeAll(async () => {
    engine = await createNativeEngine(await engineOptions({ maxSequences: 2 }));
    const pool = new ModelPool();
    pool.add({
      id: engine.info.modelId,
      size: "tiny",
      engineType: "custom",
      engine,
      scheduler: new Scheduler(engine, { maxConcurrent: 2, maxQueue: 8 }),
    });
    pool.markReady();
    const app = buildApp({
      config: Object.freeze({ ...defaultConfig(), model: ["tiny"], date: SUITE_DATE }),
      pool,
      stats: new StatsCollector(),
      metrics: createServerMetrics({ model_size: "tiny", gpu_mode: "cpu" }),
      logger: pino({ level: "silent" }),
      isShuttingDown: () => false,
    });
    const url = await app.listen({ host: "127.0.0.1", port: 0 });
    client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 });
    close = async () => {
      await app.close();
      await engine.close();
    };
  }, 120_000);
  afterAll(async () => {
    await close?.();
  });

  it("greedy completions: each token is the most likely, and the stream carries the same numbers", async () => {
    const request = {
      model: "gpt-oss-tiny",
      prompt: PROMPT,
      max_tokens: 6,
      temperature: 0,
      logprobs: 3,
    } as const;
    const completion = await client.completions.create(request);
    const logprobs = completion.choices[0]?.logprobs;
    const count = logprobs?.tokens?.length ?? 0;
    expect(count).toBeGreaterThan(0);
    expect(logprobs?.tokens?.join("")).toBe(completion.choices[0]?.text);
    for (let i = 0; i < count; i++) {
      const chosen = logprobs!.token_logprobs![i]!;
      const top = Object.values(logprobs!.top_logprobs![i]!);
      expect(chosen).toBeLessThanOrEqual(0);
      expect(chosen).toBeCloseTo(Math.max(...top), 5);
    }
    const stream = await client.completions.create({ ...request, stream: true });
    const streamed: number[] = [];
    for await (const chunk of stream) streamed.push(...(chunk.choices[0]?.logprobs?.token_logprobs ?? []));
    expect(streamed).toHaveLength(count);
    streamed.forEach((lp, i) => expect(lp).toBeCloseTo(logprobs!.token_logprobs![i]!, 3));
  });

  it("chat: logprobs is an object listing the answer's tokens (none may be the random model's)", async () => {
    const completion = await client.chat.completions.create({
      model: "gpt-oss-tiny",
      messages: [{ role: "user", content: "Hi" }],
      max_tokens: 8,
      logprobs: true,
      top_logprobs: 2,
    });
    const content = completion.choices[0]?.logprobs?.content;
    expect(Array.isArray(content)).toBe(true);
    // Joined by their bytes: a token that splits a UTF-8 character spells itself "bytes:\\x.." (as
    // OpenAI does), so only the bytes add up to the text whatever the random model wrote.
    const bytes = Buffer.from((content ?? []).flatMap((c) => c.bytes ?? []));
    expect(bytes.toString("utf8")).toBe(completion.choices[0]?.message.content ?? "");
    for (const entry of content ?? []) expect(entry.top_logprobs).toHaveLength(2);
  });
});
