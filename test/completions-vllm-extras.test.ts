/**
 * vLLM's extensions of `POST /v1/completions` that a token-level client needs (return_token_ids,
 * stop_token_ids, stop_reason, ignore_eos beside stop_token_ids, skip_special_tokens), against the
 * app over the scripted FakeEngine, streamed and not.
 */
import { afterAll, describe, expect, it } from "vitest";
import { SPECIAL_TOKENS } from "../src/harmony/special-tokens.ts";
import { getHarmonyTokenizer } from "../src/harmony/tokenizer.ts";
import { buildFakeApp, sseData } from "./helpers/fake-app.ts";

const tokenizer = getHarmonyTokenizer();
const OUTPUT = "<|channel|>final<|message|>Hello there, world!<|return|>";
const OUTPUT_TOKENS = tokenizer.encodeWithSpecials(OUTPUT);
/** A second output the "model" writes for odd seeds, so the seed decides what is generated. */
const OTHER_TOKENS = tokenizer.encodeWithSpecials("<|channel|>final<|message|>Bye now.<|return|>");
const PROMPT = "<|start|>user<|message|>Hi<|end|><|start|>assistant";
const model = "gpt-oss-fake";

const { app } = buildFakeApp({
  script: (req) => ((req.sampling.seed ?? 0) % 2 === 1 ? OTHER_TOKENS : OUTPUT_TOKENS),
});

afterAll(async () => {
  await app.close();
});

interface Choice {
  text: string;
  finish_reason: string | null;
  stop_reason: number | string | null;
  token_ids?: number[];
  prompt_token_ids?: number[];
}
interface Completion {
  choices: Choice[];
  usage?: { completion_tokens: number; prompt_tokens_details: { cached_tokens: number } } | null;
}

async function complete(body: Record<string, unknown>): Promise<Completion> {
  const res = await app.inject({
    method: "POST",
    url: "/v1/completions",
    payload: { model, prompt: PROMPT, max_tokens: 100, ...body },
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<Completion>();
}

async function streamChunks(body: Record<string, unknown>): Promise<Completion[]> {
  const res = await app.inject({
    method: "POST",
    url: "/v1/completions",
    payload: { model, prompt: PROMPT, max_tokens: 100, stream: true, ...body },
  });
  expect(res.statusCode, res.body).toBe(200);
  const data = sseData(res.body);
  expect(data.at(-1)).toBe("[DONE]");
  return data.slice(0, -1) as Completion[];
}

describe("return_token_ids", () => {
  it("non-streaming: every generated id, the stop token last and named by stop_reason, and the prompt's ids", async () => {
    const completion = await complete({ return_token_ids: true, seed: 3 });
    const choice = completion.choices[0]!;
    expect(choice.token_ids).toEqual(OTHER_TOKENS);
    expect(choice.token_ids?.at(-1)).toBe(SPECIAL_TOKENS.return);
    expect(choice.finish_reason).toBe("stop");
    expect(choice.stop_reason).toBe(SPECIAL_TOKENS.return);
    expect(choice.text).toBe("<|channel|>final<|message|>Bye now.");
    expect(choice.token_ids).toHaveLength(completion.usage!.completion_tokens);
    const tokenized = await app.inject({
      method: "POST",
      url: "/tokenize",
      payload: { model, prompt: PROMPT },
    });
    expect(choice.prompt_token_ids).toEqual(tokenized.json<{ tokens: number[] }>().tokens);
  });

  it("streaming: the chunks' ids join to the non-streamed ids for the same seeded request; prompt ids on the first chunk", async () => {
    const request = { return_token_ids: true, seed: 4, stream_options: { include_usage: true } };
    const whole = await complete(request);
    const chunks = await streamChunks(request);
    const withChoice = chunks.filter((c) => c.choices.length > 0);
    const ids = withChoice.flatMap((c) => c.choices[0]!.token_ids ?? []);
    expect(ids).toEqual(whole.choices[0]!.token_ids);
    expect(ids).toEqual(OUTPUT_TOKENS);
    for (const c of withChoice) expect(Array.isArray(c.choices[0]!.token_ids)).toBe(true);
    expect(withChoice[0]!.choices[0]!.prompt_token_ids).toEqual(whole.choices[0]!.prompt_token_ids);
    for (const c of withChoice.slice(1)) expect(c.choices[0]!.prompt_token_ids).toBeUndefined();
    // The stop token's chunk carries its id and no text.
    const stopChunk = withChoice.find((c) => c.choices[0]!.token_ids?.includes(SPECIAL_TOKENS.return));
    expect(stopChunk?.choices[0]!.text).toBe("");
    const last = withChoice.at(-1)!.choices[0]!;
    expect(last.finish_reason).toBe("stop");
    expect(last.stop_reason).toBe(SPECIAL_TOKENS.return);
    for (const c of withChoice.slice(0, -1)) expect(c.choices[0]!.stop_reason).toBeNull();
    const usage = chunks.at(-1)!.usage;
    expect(usage?.completion_tokens).toBe(ids.length);
    expect(usage?.prompt_tokens_details.cached_tokens).toBeTypeOf("number");
  });

  it("sends chunks that carry ids but no text (text held back by a possible stop string)", async () => {
    // Every piece could start the stop string until the end: no text until the finish flushes it.
    const request = { return_token_ids: true, stop: ["<|channel|>final<|message|>Hello there, world!?"] };
    const chunks = await streamChunks(request);
    const withChoice = chunks.filter((c) => c.choices.length > 0);
    expect(withChoice.flatMap((c) => c.choices[0]!.token_ids ?? [])).toEqual(OUTPUT_TOKENS);
    expect(
      withChoice.filter((c) => c.choices[0]!.text === "" && c.choices[0]!.token_ids!.length > 0).length,
    ).toBe(OUTPUT_TOKENS.length);
    expect(withChoice.map((c) => c.choices[0]!.text).join("")).toBe(
      "<|channel|>final<|message|>Hello there, world!",
    );
  });

  it("a stop string: stop_reason is the string, and the ids run up to the token that completed it", async () => {
    const completion = await complete({ return_token_ids: true, stop: [", world", "nope"] });
    const choice = completion.choices[0]!;
    expect(choice.text).toBe("<|channel|>final<|message|>Hello there");
    expect(choice.stop_reason).toBe(", world");
    const ids = choice.token_ids!;
    expect(tokenizer.decode(ids)).toContain(", world");
    expect(tokenizer.decode(ids.slice(0, -1))).not.toContain(", world");
    expect(ids).toHaveLength(completion.usage!.completion_tokens);
  });

  it("absent: no ids on the choice; stop_reason is still there; length gives stop_reason null", async () => {
    const completion = await complete({ max_tokens: 3 });
    const choice = completion.choices[0]!;
    expect(choice.token_ids).toBeUndefined();
    expect(choice.prompt_token_ids).toBeUndefined();
    expect(choice.finish_reason).toBe("length");
    expect(choice.stop_reason).toBeNull();
  });
});

describe("stop_token_ids, ignore_eos, min_tokens, skip_special_tokens", () => {
  const there = OUTPUT_TOKENS[OUTPUT_TOKENS.indexOf(SPECIAL_TOKENS.message) + 2]!;

  it("stop_token_ids ends the generation at that id, left out of the text, named by stop_reason", async () => {
    expect(tokenizer.decode([there])).toBe(" there");
    const completion = await complete({ return_token_ids: true, stop_token_ids: [there] });
    const choice = completion.choices[0]!;
    expect(choice.text).toBe("<|channel|>final<|message|>Hello");
    expect(choice.finish_reason).toBe("stop");
    expect(choice.stop_reason).toBe(there);
    expect(choice.token_ids).toEqual(OUTPUT_TOKENS.slice(0, OUTPUT_TOKENS.indexOf(there) + 1));
    const streamed = await streamChunks({ return_token_ids: true, stop_token_ids: [there] });
    expect(streamed.flatMap((c) => c.choices[0]?.token_ids ?? [])).toEqual(choice.token_ids);
    expect(streamed.at(-1)!.choices[0]!.stop_reason).toBe(there);
  });

  it("ignore_eos runs past <|return|> (spelled in the text) but still stops on stop_token_ids, after min_tokens", async () => {
    const completion = await complete({
      return_token_ids: true,
      ignore_eos: true,
      stop_token_ids: [there],
      min_tokens: OUTPUT_TOKENS.length + 1,
    });
    const choice = completion.choices[0]!;
    const upTo = OUTPUT_TOKENS.indexOf(there) + 1;
    expect(choice.token_ids).toEqual([...OUTPUT_TOKENS, ...OUTPUT_TOKENS.slice(0, upTo)]);
    expect(choice.text).toBe(`${OUTPUT}<|channel|>final<|message|>Hello`);
    expect(choice.stop_reason).toBe(there);
  });

  it("skip_special_tokens: true leaves control tokens out of the text, not out of the ids", async () => {
    const completion = await complete({ return_token_ids: true, skip_special_tokens: true });
    // The channel name is ordinary text between control tokens, as vLLM would show it too.
    expect(completion.choices[0]!.text).toBe("finalHello there, world!");
    expect(completion.choices[0]!.token_ids).toEqual(OUTPUT_TOKENS);
    const spelled = await complete({ skip_special_tokens: false });
    expect(spelled.choices[0]!.text).toBe("<|channel|>final<|message|>Hello there, world!");
  });

  it("refuses stop_token_ids outside the vocabulary with a 400 naming the entry", async () => {
    const cases: Array<[unknown, string]> = [
      [[1, 201088], "stop_token_ids.1"],
      [[-1], "stop_token_ids.0"],
      [[2.5], "stop_token_ids.0"],
      ["x", "stop_token_ids"],
      [[SPECIAL_TOKENS.return, "7"], "stop_token_ids.1"],
    ];
    for (const [ids, param] of cases) {
      for (const stream of [false, true]) {
        const res = await app.inject({
          method: "POST",
          url: "/v1/completions",
          payload: { model, prompt: PROMPT, stop_token_ids: ids, stream },
        });
        expect(res.statusCode, JSON.stringify(ids)).toBe(400);
        expect(res.json().error.param, JSON.stringify(ids)).toBe(param);
      }
    }
  });
});
