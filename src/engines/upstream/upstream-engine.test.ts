/**
 * UpstreamEngine against an upstream test double (a plain node:http server that answers as vLLM's
 * /v1/completions does with return_token_ids): what it sends, how it reads token ids, and how it
 * classes failures (retryable or not, the circuit). The real thing, our own server as upstream,
 * is in test/upstream-gateway-process.test.ts.
 */
import { describe, expect, it } from "vitest";
import { collectRun } from "../engine.contract.ts";
import type { UpstreamDialect } from "./dialect.ts";
import { CIRCUIT_FAILURES } from "./upstream-engine.ts";
import { connectToDouble, request, sse, type Handler } from "./upstream-double-for-test.ts";
import { vllmDialect } from "./vllm-dialect.ts";

/** vLLM as a double: /v1/models with max_model_len, /health, and /v1/completions answered by `handler`. */
const connect = (handler: Handler, dialect?: UpstreamDialect) =>
  connectToDouble(
    {
      model: { id: "openai/gpt-oss-20b", max_model_len: 4096 },
      routes: { "/health": "ok" },
      path: "/v1/completions",
      handler,
    },
    dialect,
  );

describe("UpstreamEngine (upstream test double)", () => {
  it("sends token ids with vLLM's extras and streams the token ids back, the stop token and usage", async () => {
    const { engine, bodies } = await connect((_body, res) =>
      sse(res, [
        { choices: [{ index: 0, text: "a", token_ids: [10, 11], finish_reason: null }] },
        {
          choices: [{ index: 0, text: "", token_ids: [200002], finish_reason: "stop", stop_reason: 200002 }],
        },
        {
          choices: [],
          usage: { prompt_tokens: 3, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 2 } },
        },
      ]),
    );
    expect(engine.info).toMatchObject({ modelId: "openai/gpt-oss-20b", modelSize: "20b", contextSize: 4096 });
    const run = await collectRun(engine, request());
    expect(run.tokens).toEqual([10, 11, 200002]);
    expect(run.finish).toMatchObject({
      reason: "stop",
      stopToken: 200002,
      usage: { promptTokens: 3, cachedTokens: 2, completionTokens: 3 },
    });
    expect(bodies[0]).toMatchObject({
      model: "openai/gpt-oss-20b",
      prompt: [1, 2, 3],
      max_tokens: 8,
      stop_token_ids: [200002, 200012],
      ignore_eos: true,
      logit_bias: { "5": -100 },
      return_token_ids: true,
      skip_special_tokens: false,
      stream: true,
    });
  });

  it("a 429 is retryable back-pressure, a 5xx or 401 a retryable failure, a 400 not retryable", async () => {
    let status = 429;
    const { engine } = await connect((_b, res) => {
      res.statusCode = status;
      res.end("{}");
    });
    await expect(collectRun(engine, request())).rejects.toMatchObject({
      code: "rate_limit_exceeded",
      retryable: true,
    });
    status = 503;
    await expect(collectRun(engine, request())).rejects.toMatchObject({
      code: "engine_error",
      retryable: true,
    });
    status = 400;
    await expect(collectRun(engine, request())).rejects.toMatchObject({
      code: "invalid_value",
      retryable: false,
    });
    status = 401; // a wrong --upstream-key: this upstream's fault, not the request's
    await expect(collectRun(engine, request())).rejects.toMatchObject({
      code: "engine_error",
      retryable: true,
    });
  });

  it("a stop the upstream reports without a stop_reason (vLLM, on the model's own EOS) names the last id", async () => {
    const { engine } = await connect((_body, res) =>
      sse(res, [{ choices: [{ token_ids: [10, 200002], finish_reason: "stop", stop_reason: null }] }]),
    );
    expect((await collectRun(engine, request())).finish).toMatchObject({ reason: "stop", stopToken: 200002 });
  });

  it(`opens the circuit after ${CIRCUIT_FAILURES} failures in a row (health not ready) and closes it on a success`, async () => {
    let fail = true;
    const { engine } = await connect((_b, res) => {
      if (fail) {
        res.statusCode = 500;
        res.end("down");
      } else sse(res, [{ choices: [{ token_ids: [7], finish_reason: "length" }] }]);
    });
    for (let i = 0; i < CIRCUIT_FAILURES; i++) await collectRun(engine, request()).catch(() => undefined);
    expect(engine.health()).toMatchObject({ status: "loading", detail: expect.stringMatching(/is down/) });
    fail = false;
    await engine.probe(); // the /health probe succeeds: the circuit closes
    expect(engine.health().status).toBe("ready");
    expect((await collectRun(engine, request())).finish.reason).toBe("length");
  });

  it("a stream that ends without a finish is a failure, retryable only if no token came", async () => {
    const { engine } = await connect((_b, res) =>
      sse(res, [{ choices: [{ token_ids: [9], finish_reason: null }] }], "end"),
    );
    await expect(collectRun(engine, request())).rejects.toMatchObject({
      code: "engine_error",
      retryable: false,
    });
  });

  it("refuses a grammar when its dialect takes none, and ends cancelled when aborted before it starts", async () => {
    const { engine } = await connect((_b, res) => sse(res, []), { ...vllmDialect, grammar: false });
    expect(engine.info.capabilities.grammar).toBe(false);
    await expect(collectRun(engine, request({ grammar: { gbnf: "root ::= x" } }))).rejects.toMatchObject({
      code: "engine_error",
    });
    const aborted = new AbortController();
    aborted.abort();
    expect((await collectRun(engine, request(), aborted.signal)).finish.reason).toBe("cancelled");
  });
});
