/**
 * The llama-server dialect through UpstreamEngine, against a llama-server test double (a plain
 * node:http server answering /v1/models and /completion in the shapes of llama.cpp's tools/server):
 * the body it writes, how it reads the streamed chunks (ids, finish, usage), the stops llama-server
 * does not know, and the ids its stream leaves out. The real llama-server is in
 * test/upstream-llama-server.test.ts.
 */
import { describe, expect, it } from "vitest";
import { collectRun } from "../engine.contract.ts";
import { getHarmonyTokenizer } from "../../harmony/tokenizer.ts";
import { llamaServerDialect } from "./llama-server-dialect.ts";
import { connectToDouble, request, sse, type Handler } from "./upstream-double-for-test.ts";

/**
 * llama-server as a double: /v1/models as llama-server writes it, /health, and /completion. Its
 * stream sends no `data: [DONE]` (llama-server's native endpoint sends none): `sse(..., "end")`.
 */
const connect = (handler: Handler) =>
  connectToDouble(
    {
      // llama-server names no max_model_len: a slot's context is meta.n_ctx.
      model: { id: "gpt-oss-20b", owned_by: "llamacpp", meta: { n_ctx: 8192 } },
      routes: { "/health": '{"status":"ok"}' },
      path: "/completion",
      handler,
    },
    llamaServerDialect,
  );

/** A partial chunk: `n` is llama-server's tokens_predicted (this chunk's token included). */
const partial = (token: number, n: number, content = "x") => ({
  content,
  tokens: [token],
  stop: false,
  tokens_predicted: n,
  tokens_evaluated: 3,
});
const final = (stopType: string, n: number) => ({
  content: "",
  tokens: [],
  stop: true,
  stop_type: stopType,
  tokens_predicted: n,
  tokens_evaluated: 3,
  timings: { cache_n: 2, prompt_n: 1 },
});

describe("llama-server dialect (llama-server test double)", () => {
  it("posts token ids to /completion with OpenAI's sampling, reads the ids, the EOS stop and usage", async () => {
    const { engine, bodies } = await connect((_body, res) =>
      sse(res, [partial(10, 1), partial(11, 2), partial(200002, 3, ""), final("eos", 3)], "end"),
    );
    expect(engine.info).toMatchObject({ modelId: "gpt-oss-20b", contextSize: 8192 });
    expect(engine.info.capabilities.grammar).toBe(true);
    const run = await collectRun(
      engine,
      request({ grammar: { gbnf: "root ::= <[200005]> [a-z]+" }, sampling: { seed: -1 } }),
    );
    expect(run.tokens).toEqual([10, 11, 200002]);
    expect(run.finish).toMatchObject({
      reason: "stop",
      stopToken: 200002,
      usage: { promptTokens: 3, cachedTokens: 2, completionTokens: 3 },
    });
    expect(bodies[0]).toEqual({
      prompt: [1, 2, 3],
      n_predict: 8,
      stream: true,
      return_tokens: true,
      cache_prompt: true,
      temperature: 0.7,
      top_p: 0.9,
      top_k: 0,
      min_p: 0,
      typical_p: 1,
      top_n_sigma: -1,
      xtc_probability: 0,
      dry_multiplier: 0,
      mirostat: 0,
      repeat_penalty: 1,
      seed: 0xffffffff, // -1 as a uint32
      presence_penalty: 0.5,
      frequency_penalty: 0,
      repeat_last_n: 8,
      // <|endoftext|> is EOG for llama-server but not a stop of this request: banned.
      logit_bias: { "5": -100, "199999": false },
      grammar: "root ::= <[200005]> [a-z]+",
    });
  });

  it("a limit is a length finish; <|call|> names the stop token", async () => {
    let answer = [partial(10, 1), final("limit", 1)];
    const { engine } = await connect((_b, res) => sse(res, answer, "end"));
    expect((await collectRun(engine, request())).finish).toMatchObject({ reason: "length" });
    answer = [partial(200012, 1, ""), final("eos", 1)];
    expect((await collectRun(engine, request())).finish).toMatchObject({ reason: "stop", stopToken: 200012 });
  });

  it("ignoreStopTokens bans every EOG token (llama-server could only stop there)", async () => {
    const { engine, bodies } = await connect((_b, res) =>
      sse(res, [partial(10, 1), final("limit", 1)], "end"),
    );
    await collectRun(engine, request({ ignoreStopTokens: true }));
    // <|endoftext|>, <|return|> and <|call|>: every EOG token, banned.
    expect(bodies[0]?.["logit_bias"]).toEqual({
      "5": -100,
      "199999": false,
      "200002": false,
      "200012": false,
    });
    expect(bodies[0]).not.toHaveProperty("grammar");
  });

  it("minTokens holds EOG tokens off with a grammar; under the request's grammar it does not apply", async () => {
    const { engine, bodies } = await connect((_b, res) =>
      sse(res, [partial(10, 1), final("limit", 1)], "end"),
    );
    await collectRun(engine, request({ minTokens: 3 }));
    expect(bodies[0]?.["grammar"]).toBe("root ::= t{2} t*\nt ::= !<[199999]>\n");
    await collectRun(engine, request({ minTokens: 2501 }));
    expect(bodies[1]?.["grammar"]).toBe("root ::= k{2} t{500} t*\nk ::= t{1000}\nt ::= !<[199999]>\n");
    await collectRun(engine, request({ minTokens: 3, grammar: { gbnf: "root ::= [a]" } }));
    expect(bodies[2]?.["grammar"]).toBe("root ::= [a]");
  });

  it("a stop token llama-server does not know ends the answer there and closes the request", async () => {
    const { engine, bodies, closedEarly } = await connect((_b, res) =>
      // The double keeps generating, as llama-server would, and never ends the response itself.
      sse(res, [partial(10, 1), partial(200007, 2), partial(12, 3), partial(13, 4)], "open"),
    );
    const run = await collectRun(engine, request({ stopTokens: [200007] }));
    expect(run.tokens).toEqual([10, 200007]);
    expect(run.finish).toMatchObject({ reason: "stop", stopToken: 200007, usage: { completionTokens: 2 } });
    await closedEarly; // the engine closed the stream: llama-server cancels the generation
    // <|return|>, <|call|> and <|endoftext|> are not stops of this request: all banned.
    expect(Object.keys(bodies[0]?.["logit_bias"] as object)).toEqual(["5", "199999", "200002", "200012"]);
  });

  it("before minTokens such a stop token is generated like any other", async () => {
    const { engine } = await connect((_b, res) =>
      sse(res, [partial(200007, 1), partial(11, 2), partial(200007, 3)], "open"),
    );
    const run = await collectRun(engine, request({ stopTokens: [200007], minTokens: 2 }));
    expect(run.tokens).toEqual([200007, 11, 200007]);
    expect(run.finish).toMatchObject({ reason: "stop", stopToken: 200007 });
  });

  it("fills the ids a chunk leaves out (a UTF-8 character cut between tokens) from its text", async () => {
    const tokenizer = getHarmonyTokenizer();
    const [a] = tokenizer.encode("a");
    const smile = tokenizer.encode(" 😀!");
    const { engine } = await connect((_b, res) =>
      sse(
        res,
        [
          partial(a!, 1, "a"),
          // Two tokens generated since; llama-server sends the text of both and the id of the last.
          partial(smile.at(-1)!, 3, " 😀!"),
          partial(200002, 4, ""),
          final("eos", 4),
        ],
        "end",
      ),
    );
    const run = await collectRun(engine, request());
    expect(tokenizer.decode(run.tokens)).toBe("a 😀!<|return|>");
    expect(run.tokens.slice(1, -1)).toEqual(tokenizer.encodeWithSpecials(" 😀!"));
    // Usage keeps llama-server's count of the tokens it generated.
    expect(run.finish).toMatchObject({ reason: "stop", stopToken: 200002, usage: { completionTokens: 4 } });
  });
});
