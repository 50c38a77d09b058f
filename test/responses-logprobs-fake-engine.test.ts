/**
 * Responses API logprobs (`include: ["message.output_text.logprobs"]`, `top_logprobs`) through the
 * official `openai` client over the scripted FakeEngine (deterministic logprobs: fakeLogprob): the
 * output_text part carries the answer's tokens, and the stream's output_text deltas carry them too.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakeLogprob } from "../src/engines/fake/fake-engine.ts";
import { getHarmonyTokenizer } from "../src/harmony/tokenizer.ts";
import { buildFakeApp } from "./helpers/fake-app.ts";

const tokenizer = getHarmonyTokenizer();
const HEAD = "<|channel|>analysis<|message|>Thinking.<|end|><|start|>assistant<|channel|>final<|message|>";
const ANSWER = "Hello there, world!";
const OUTPUT = tokenizer.encodeWithSpecials(`${HEAD}${ANSWER}<|return|>`);
const FIRST = tokenizer.encodeWithSpecials(HEAD).length;
const ANSWER_TOKENS = OUTPUT.slice(FIRST, -1);

const { app } = buildFakeApp({ script: () => OUTPUT });
let client: OpenAI;
const model = "gpt-oss-fake";

beforeAll(async () => {
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 });
});

afterAll(async () => {
  await app.close();
});

function expected(topN: number): unknown[] {
  const entry = (t: number, logprob: number) => ({
    token: tokenizer.decode([t]),
    logprob,
    bytes: Array.from(tokenizer.tokenBytes(t)),
  });
  return ANSWER_TOKENS.map((token, i) => {
    const lp = fakeLogprob(token, FIRST + i, topN);
    return { ...entry(token, lp.logprob), top_logprobs: lp.top.map((t) => entry(t.token, t.logprob)) };
  });
}

function outputText(response: OpenAI.Responses.Response): OpenAI.Responses.ResponseOutputText | undefined {
  const message = response.output.find((o) => o.type === "message");
  const part = message?.type === "message" ? message.content[0] : undefined;
  return part?.type === "output_text" ? part : undefined;
}

describe("responses logprobs", () => {
  it("are [] unless asked", async () => {
    const response = await client.responses.create({ model, input: "Hi" });
    expect(outputText(response)?.logprobs).toEqual([]);
  });

  it("include message.output_text.logprobs with top_logprobs fills the output_text part", async () => {
    const response = await client.responses.create({
      model,
      input: "Hi",
      include: ["message.output_text.logprobs"],
      top_logprobs: 2,
    });
    expect(response.output_text).toBe(ANSWER);
    expect(outputText(response)?.logprobs).toEqual(expected(2));
  });

  it("streams them on output_text deltas, and the done event holds them all", async () => {
    const stream = await client.responses.create({
      model,
      input: "Hi",
      include: ["message.output_text.logprobs"],
      stream: true,
    });
    const streamed: unknown[] = [];
    let done: unknown[] | undefined;
    let text = "";
    for await (const event of stream) {
      if (event.type === "response.output_text.delta") {
        text += event.delta;
        streamed.push(...event.logprobs);
      }
      if (event.type === "response.output_text.done") done = event.logprobs;
    }
    expect(text).toBe(ANSWER);
    expect(streamed).toEqual(expected(0));
    expect(done).toEqual(expected(0));
  });
});
