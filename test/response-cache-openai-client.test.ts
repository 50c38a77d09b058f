/**
 * The response cache (`--response-cache on`) through the official `openai` client, against the app
 * listening on 127.0.0.1 over the scripted FakeEngine (a test double for the model). The script
 * numbers its answers ("Answer 1", "Answer 2", ...), so an answer that comes from the cache is the
 * earlier one word for word, and one the engine generated again is not.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getHarmonyTokenizer } from "../src/harmony/tokenizer.ts";
import type { GenerationRequest } from "../src/engines/engine.ts";
import { buildFakeApp } from "./helpers/fake-app.ts";
import { WEATHER_CALL } from "./helpers/responses-sse.ts";

let generated = 0;
function numberedScript(req: GenerationRequest): readonly number[] {
  generated += 1;
  const tok = getHarmonyTokenizer();
  if (tok.decode(req.promptTokens).includes("weather")) return tok.encodeWithSpecials(WEATHER_CALL);
  return tok.encodeWithSpecials(
    `<|channel|>analysis<|message|>Counting.<|end|><|start|>assistant<|channel|>final<|message|>Answer ${generated}.<|return|>`,
  );
}

const { app } = buildFakeApp({
  script: numberedScript,
  config: { responseCache: true, apiKey: ["key-a", "key-b"] },
});
let url: string;
let client: OpenAI;
let other: OpenAI;
const model = "gpt-oss-fake";

interface CacheStats {
  enabled: boolean;
  hits: number;
  misses: number;
  entries: number;
  bytes: number;
  max_bytes: number;
}

async function cacheStats(): Promise<CacheStats> {
  const res = await fetch(`${url}/stats`, { headers: { authorization: "Bearer key-a" } });
  return ((await res.json()) as { cache: CacheStats }).cache;
}

/** A chat request of its own (`topic` keeps each test's prompt apart from the others'). */
function chat(topic: string, extra: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming> = {}) {
  return {
    model,
    messages: [{ role: "user" as const, content: `Tell me about ${topic}.` }],
    temperature: 0,
    ...extra,
  };
}

async function streamedText(stream: AsyncIterable<OpenAI.ChatCompletionChunk>): Promise<string> {
  let text = "";
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
  return text;
}

beforeAll(async () => {
  url = await app.listen({ host: "127.0.0.1", port: 0 });
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "key-a", maxRetries: 0 });
  other = new OpenAI({ baseURL: `${url}/v1`, apiKey: "key-b", maxRetries: 0 });
});

afterAll(async () => {
  await app.close();
});

describe("response cache through the openai client", () => {
  it("a greedy chat request asked again, streamed, gets the same answer from the cache", async () => {
    const before = generated;
    const first = await client.chat.completions.create(chat("owls")).withResponse();
    expect(first.response.headers.get("x-cache")).toBe("miss");
    const answer = first.data.choices[0]!.message.content;
    expect(answer).toMatch(/^Answer \d+\.$/);

    const second = await client.chat.completions.create({ ...chat("owls"), stream: true }).withResponse();
    expect(second.response.headers.get("x-cache")).toBe("hit");
    expect(await streamedText(second.data)).toBe(answer);

    // And a streamed answer served as JSON: the same events, and the original usage.
    const third = await client.chat.completions.create(chat("owls")).withResponse();
    expect(third.response.headers.get("x-cache")).toBe("hit");
    expect(third.data.choices[0]!.message.content).toBe(answer);
    expect(third.data.usage).toEqual(first.data.usage);
    expect(third.data.id).not.toBe(first.data.id);
    expect(generated - before).toBe(1);

    const stats = await cacheStats();
    expect(stats).toMatchObject({ enabled: true, max_bytes: 64 * 1024 * 1024 });
    expect(stats.hits).toBeGreaterThanOrEqual(2);
    expect(stats.entries).toBeGreaterThanOrEqual(1);
    expect(stats.bytes).toBeGreaterThan(0);
  });

  it("never crosses API keys: another key's identical request is generated afresh", async () => {
    const mine = await client.chat.completions.create(chat("bees"));
    const again = await client.chat.completions.create(chat("bees")).withResponse();
    expect(again.response.headers.get("x-cache")).toBe("hit");
    const theirs = await other.chat.completions.create(chat("bees")).withResponse();
    expect(theirs.response.headers.get("x-cache")).toBe("miss");
    expect(theirs.data.choices[0]!.message.content).not.toBe(mine.choices[0]!.message.content);
  });

  it("never caches a sampled request, with or without a seed", async () => {
    const { entries } = await cacheStats();
    for (const extra of [{ temperature: 1 }, { temperature: 1, seed: 7 }, { temperature: null }]) {
      const answers = new Set<string | null>();
      for (let i = 0; i < 2; i++) {
        const res = await client.chat.completions.create(chat("cats", extra)).withResponse();
        expect(res.response.headers.get("x-cache")).toBe("miss");
        answers.add(res.data.choices[0]!.message.content);
      }
      expect(answers.size).toBe(2);
    }
    expect((await cacheStats()).entries).toBe(entries);
  });

  it("Cache-Control: no-store neither reads nor stores; no-cache answers afresh and stores", async () => {
    const noStore = { headers: { "Cache-Control": "no-store" } };
    const noCache = { headers: { "Cache-Control": "no-cache" } };
    const a = await client.chat.completions.create(chat("frogs"), noStore).withResponse();
    expect(a.response.headers.get("x-cache")).toBe("miss");
    const b = await client.chat.completions.create(chat("frogs")).withResponse();
    expect(b.response.headers.get("x-cache")).toBe("miss");
    expect(b.data.choices[0]!.message.content).not.toBe(a.data.choices[0]!.message.content);
    const c = await client.chat.completions.create(chat("frogs"), noStore).withResponse();
    expect(c.response.headers.get("x-cache")).toBe("miss");

    const d = await client.chat.completions.create(chat("frogs"), noCache).withResponse();
    expect(d.response.headers.get("x-cache")).toBe("miss");
    const fresh = d.data.choices[0]!.message.content;
    expect(fresh).not.toBe(b.data.choices[0]!.message.content);
    const e = await client.chat.completions.create(chat("frogs")).withResponse();
    expect(e.response.headers.get("x-cache")).toBe("hit");
    expect(e.data.choices[0]!.message.content).toBe(fresh);
  });

  it("a cached tool call replays with a new call id", async () => {
    const tools: OpenAI.ChatCompletionTool[] = [
      {
        type: "function",
        function: {
          name: "get_weather",
          parameters: { type: "object", properties: { city: { type: "string" } } },
        },
      },
    ];
    const ask = { ...chat("the weather in Paris"), tools };
    const first = await client.chat.completions.create(ask);
    const second = await client.chat.completions.create(ask).withResponse();
    expect(second.response.headers.get("x-cache")).toBe("hit");
    const [call1, call2] = [first, second.data].map((r) => r.choices[0]!.message.tool_calls?.[0]);
    expect(call2).toMatchObject({ function: { name: "get_weather", arguments: '{"city":"Paris"}' } });
    expect(call2?.id).toMatch(/^call_/);
    expect(call2?.id).not.toBe(call1?.id);
  });

  it("serves the Responses API from the cache too, a JSON answer then a stream", async () => {
    const ask = { model, input: "Tell me about moles.", temperature: 0 };
    const first = await client.responses.create(ask).withResponse();
    expect(first.response.headers.get("x-cache")).toBe("miss");
    const second = await client.responses.create({ ...ask, stream: true }).withResponse();
    expect(second.response.headers.get("x-cache")).toBe("hit");
    let text = "";
    let completed: OpenAI.Responses.Response | undefined;
    for await (const event of second.data) {
      if (event.type === "response.output_text.delta") text += event.delta;
      if (event.type === "response.completed") completed = event.response;
    }
    expect(text).toBe(first.data.output_text);
    expect(completed?.id).not.toBe(first.data.id);
    expect(completed?.usage).toEqual(first.data.usage);
  });

  it("serves legacy Completions from the cache", async () => {
    const ask = { model, prompt: "Moles dig", max_tokens: 40, temperature: 0 };
    const first = await client.completions.create(ask).withResponse();
    expect(first.response.headers.get("x-cache")).toBe("miss");
    const second = await client.completions.create({ ...ask, stream: true }).withResponse();
    expect(second.response.headers.get("x-cache")).toBe("hit");
    let text = "";
    for await (const chunk of second.data) text += chunk.choices[0]?.text ?? "";
    expect(text).toBe(first.data.choices[0]!.text);
  });

  it("counts hits and misses in /metrics", async () => {
    const res = await fetch(`${url}/metrics`, { headers: { authorization: "Bearer key-a" } });
    const text = await res.text();
    const stats = await cacheStats();
    expect(text).toContain(`gptoss_response_cache_hits_total ${stats.hits}`);
    expect(text).toContain(`gptoss_response_cache_misses_total ${stats.misses}`);
    expect(text).toContain(`gptoss_response_cache_entries ${stats.entries}`);
    expect(text).toMatch(/gptoss_response_cache_bytes \d+/);
  });
});
