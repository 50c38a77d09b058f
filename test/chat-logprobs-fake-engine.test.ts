/**
 * Chat Completions `logprobs` / `top_logprobs` through the official `openai` client, against the app
 * over the scripted FakeEngine, whose logprobs are deterministic (fake-engine.ts fakeLogprob): the
 * answer's tokens carry them, non-streamed and streamed; reasoning and harmony markers do not.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakeLogprob } from "../src/engines/fake/fake-engine.ts";
import { getHarmonyTokenizer } from "../src/harmony/tokenizer.ts";
import { buildFakeApp } from "./helpers/fake-app.ts";

const tokenizer = getHarmonyTokenizer();
const HEAD =
  "<|channel|>analysis<|message|>Thinking it over.<|end|><|start|>assistant<|channel|>final<|message|>";
const ANSWER = "Hello there, world!";
const OUTPUT = tokenizer.encodeWithSpecials(`${HEAD}${ANSWER}<|return|>`);
/** Where the answer's tokens start in the output, and the tokens themselves. */
const FIRST = tokenizer.encodeWithSpecials(HEAD).length;
const ANSWER_TOKENS = OUTPUT.slice(FIRST, -1);

const { app } = buildFakeApp({ script: () => OUTPUT });
let client: OpenAI;
const model = "gpt-oss-fake";
const messages = [{ role: "user" as const, content: "Hi" }];

beforeAll(async () => {
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 });
});

afterAll(async () => {
  await app.close();
});

function expected(topN: number): OpenAI.Chat.ChatCompletionTokenLogprob[] {
  return ANSWER_TOKENS.map((token, i) => {
    const lp = fakeLogprob(token, FIRST + i, topN);
    const entry = (t: number, logprob: number) => ({
      token: tokenizer.decode([t]),
      logprob,
      bytes: Array.from(tokenizer.tokenBytes(t)),
    });
    return { ...entry(token, lp.logprob), top_logprobs: lp.top.map((t) => entry(t.token, t.logprob)) };
  });
}

describe("chat completions logprobs", () => {
  it("is null unless asked", async () => {
    const completion = await client.chat.completions.create({ model, messages });
    expect(completion.choices[0]?.logprobs).toBeNull();
  });

  it("lists the answer's tokens with their logprobs and top_logprobs alternatives", async () => {
    const completion = await client.chat.completions.create({
      model,
      messages,
      logprobs: true,
      top_logprobs: 3,
    });
    expect(completion.choices[0]?.message.content).toBe(ANSWER);
    const content = completion.choices[0]?.logprobs?.content;
    expect(content).toEqual(expected(3));
    expect(content?.map((c) => c.token).join("")).toBe(ANSWER);
  });

  it("logprobs: true alone gives no alternatives", async () => {
    const completion = await client.chat.completions.create({ model, messages, logprobs: true });
    expect(completion.choices[0]?.logprobs?.content).toEqual(expected(0));
  });

  it("streams each token's logprobs in chunks", async () => {
    const stream = await client.chat.completions.create({
      model,
      messages,
      logprobs: true,
      top_logprobs: 2,
      stream: true,
    });
    const content: OpenAI.Chat.ChatCompletionTokenLogprob[] = [];
    let text = "";
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      content.push(...(chunk.choices[0]?.logprobs?.content ?? []));
    }
    expect(text).toBe(ANSWER);
    expect(content).toEqual(expected(2));
  });

  it("refuses top_logprobs above 20, and logprobs on an engine that cannot report them", async () => {
    const high = await app.inject({
      method: "POST",
      url: "/v1/chat/completions",
      payload: { model, messages, logprobs: true, top_logprobs: 21 },
    });
    expect(high.statusCode).toBe(400);
    expect(high.json().error.param).toBe("top_logprobs");
    const other = buildFakeApp({ script: () => OUTPUT, logprobs: false });
    const refused = await other.app.inject({
      method: "POST",
      url: "/v1/chat/completions",
      payload: { model, messages, logprobs: true },
    });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error.param).toBe("logprobs");
    await other.app.close();
  });

  it("n > 1 is a 400 that says why", async () => {
    const res = await app.inject({
      method: "POST",
      url: "/v1/chat/completions",
      payload: { model, messages, n: 2 },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.param).toBe("n");
    expect(res.json().error.message).toMatch(
      /only n=1 is supported: each extra choice would need its own sequence/,
    );
  });
});
