/**
 * UpstreamEngine with SGLang's dialect against an SGLang test double: a plain node:http server that
 * answers as SGLang's documented native API does (`POST /generate` streaming `data: {text,
 * output_ids, meta_info}` events and `data: [DONE]`, `/v1/models` with `owned_by: "sglang"` and
 * `max_model_len`, `/health`), in both of SGLang's streaming modes: cumulative `output_ids` (the
 * default) and deltas (`--incremental-streaming-output`).
 */
import type { ServerResponse } from "node:http";
import { describe, expect, it } from "vitest";
import { collectRun } from "../engine.contract.ts";
import { sglangDialect } from "./sglang-dialect.ts";
import { connectToDouble, request, sse, type Handler } from "./upstream-double-for-test.ts";

type Body = { input_ids: number[]; sampling_params: Record<string, unknown>; stream: boolean };

const CARD = { id: "openai/gpt-oss-20b", object: "model", created: 0, owned_by: "sglang" };

/** SGLang as a double: /v1/models, /health, and /generate answered by `handler`. */
const connect = (handler: Handler<Body>) =>
  connectToDouble(
    {
      model: { ...CARD, root: CARD.id, max_model_len: 131072 },
      routes: { "/health": "" },
      path: "/generate",
      handler,
    },
    sglangDialect,
  );

interface Script {
  ids: number[];
  /** SGLang's finish_reason JSON (schedule_batch.py's FINISH_*.to_json()). */
  finish: Record<string, unknown>;
  incremental?: boolean;
  cached?: number;
  /** Leave the stream after this many events, without a finish or [DONE] (a dying server). */
  breakAfter?: number;
}

/** Streams `script` one token an event, as SGLang's tokenizer manager does with stream_interval 1. */
function generate(body: Body, res: ServerResponse, script: Script): void {
  const events = script.ids.map((_id, i) => {
    const done = i === script.ids.length - 1;
    const meta_info = {
      id: "rid-1",
      finish_reason: done ? script.finish : null,
      prompt_tokens: body.input_ids.length,
      weight_version: "default",
      completion_tokens: i + 1,
      cached_tokens: script.cached ?? 0,
    };
    const output_ids = script.incremental === true ? [script.ids[i]] : script.ids.slice(0, i + 1);
    return { text: "", output_ids, meta_info };
  });
  if (script.breakAfter === undefined) {
    sse(res, events);
    return;
  }
  // The events that made it out, then the connection dies (once they are flushed).
  res.writeHead(200, { "content-type": "text/event-stream" });
  const sent = events
    .slice(0, script.breakAfter)
    .map((e) => `data: ${JSON.stringify(e)}\n\n`)
    .join("");
  if (sent === "") res.destroy();
  else res.write(sent, () => res.destroy());
}

const stopAt = (id: number) => ({ type: "stop", matched: id });

describe("SGLang dialect (SGLang test double)", () => {
  it("writes the prompt as input_ids with SGLang's sampling params, the context from max_model_len", async () => {
    const { engine, bodies } = await connect((body, res) =>
      generate(body, res, { ids: [10, 200002], finish: stopAt(200002) }),
    );
    expect(engine.info).toMatchObject({ modelId: "openai/gpt-oss-20b", contextSize: 131072 });
    expect(engine.info.capabilities.grammar).toBe(true);
    await collectRun(engine, request({ minTokens: 2, sampling: { seed: 42 } }));
    expect(bodies[0]).toEqual({
      input_ids: [1, 2, 3],
      sampling_params: {
        max_new_tokens: 8,
        temperature: 0.7,
        top_p: 0.9,
        presence_penalty: 0.5,
        frequency_penalty: 0,
        sampling_seed: 42,
        logit_bias: { "5": -100 },
        ignore_eos: false,
        stop_token_ids: [200002, 200012],
        min_new_tokens: 2,
        skip_special_tokens: false,
      },
      stream: true,
    });
  });

  it("a request that ignores its stops sends ignore_eos and no stop ids (SGLang's ignore_eos turns both off)", async () => {
    const { engine, bodies } = await connect((body, res) =>
      generate(body, res, { ids: [10, 11], finish: { type: "length", length: 2 } }),
    );
    await collectRun(engine, request({ ignoreStopTokens: true, maxTokens: 2 }));
    expect(bodies[0]?.sampling_params).toMatchObject({ ignore_eos: true, max_new_tokens: 2 });
    expect(bodies[0]?.sampling_params).not.toHaveProperty("stop_token_ids");
  });

  it("a grammar goes as sampling_params.ebnf in xgrammar's EBNF; stops are kept and no minimum is sent", async () => {
    const { engine, bodies } = await connect((body, res) =>
      generate(body, res, { ids: [200005, 200012], finish: stopAt(200012) }),
    );
    const gbnf = 'root ::= <[200005]> "final" <[200008]> [a-z]+\n';
    await collectRun(engine, request({ grammar: { gbnf }, ignoreStopTokens: true, minTokens: 3 }));
    const params = bodies[0]?.sampling_params;
    expect(params).toMatchObject({ ignore_eos: false, stop_token_ids: [200002, 200012] });
    expect(params).not.toHaveProperty("min_new_tokens");
    expect(params?.["ebnf"]).toBe(
      'root ::= _harmony ( "<|call|>" )?\n_harmony ::= "<|channel|>" "final" "<|message|>" [a-z]+\n',
    );
  });

  for (const incremental of [false, true]) {
    it(`reads ${incremental ? "incremental" : "cumulative"} output_ids once each, the matched stop id and usage`, async () => {
      const { engine } = await connect((body, res) =>
        generate(body, res, { ids: [10, 11, 12, 200012], finish: stopAt(200012), incremental, cached: 2 }),
      );
      const run = await collectRun(engine, request());
      expect(run.tokens).toEqual([10, 11, 12, 200012]);
      expect(run.finish).toEqual({
        type: "finish",
        reason: "stop",
        stopToken: 200012,
        usage: { promptTokens: 3, cachedTokens: 2, completionTokens: 4 },
      });
    });
  }

  it("a length finish ends with reason length", async () => {
    const { engine } = await connect((body, res) =>
      generate(body, res, { ids: [10, 11, 12], finish: { type: "length", length: 3 }, incremental: true }),
    );
    const run = await collectRun(engine, request({ maxTokens: 3 }));
    expect(run.tokens).toEqual([10, 11, 12]);
    expect(run.finish).toMatchObject({ reason: "length", usage: { completionTokens: 3 } });
  });

  it("a stop without an id (a stop string) names the last id when it is one of ours", async () => {
    const { engine } = await connect((body, res) =>
      generate(body, res, { ids: [10, 200002], finish: { type: "stop", matched: "<|return|>" } }),
    );
    expect((await collectRun(engine, request())).finish).toMatchObject({ reason: "stop", stopToken: 200002 });
  });

  it("a 5xx is a retryable failure; an abort finish or error event after a token is not retryable", async () => {
    let mode: "503" | "abort" | "error" = "503";
    const { engine } = await connect((body, res) => {
      if (mode === "503") {
        res.statusCode = 503;
        res.end("Service Unavailable");
      } else if (mode === "abort") {
        generate(body, res, { ids: [10, 11], finish: { type: "abort", message: "scheduler shut down" } });
      } else {
        const meta = { finish_reason: null, prompt_tokens: 3, completion_tokens: 1, cached_tokens: 0 };
        sse(res, [
          { text: "a", output_ids: [10], meta_info: meta },
          { error: { message: "boom", type: "invalid_request_error" } },
        ]);
      }
    });
    await expect(collectRun(engine, request())).rejects.toMatchObject({
      code: "engine_error",
      retryable: true,
    });
    mode = "abort";
    await expect(collectRun(engine, request())).rejects.toMatchObject({
      code: "engine_error",
      retryable: false,
      message: expect.stringMatching(/scheduler shut down/),
    });
    mode = "error";
    await expect(collectRun(engine, request())).rejects.toMatchObject({
      code: "engine_error",
      retryable: false,
      message: expect.stringMatching(/boom/),
    });
  });

  it("a stream that breaks off is a failure, retryable only if no token came", async () => {
    let breakAfter = 2;
    const { engine } = await connect((body, res) =>
      generate(body, res, { ids: [10, 11, 12, 200002], finish: stopAt(200002), breakAfter }),
    );
    await expect(collectRun(engine, request())).rejects.toMatchObject({
      code: "engine_error",
      retryable: false,
    });
    breakAfter = 0;
    await expect(collectRun(engine, request())).rejects.toMatchObject({
      code: "engine_error",
      retryable: true,
    });
  });

  it("a finish whose count exceeds the ids streamed is refused (a server that streams no output_ids)", async () => {
    const { engine } = await connect((_body, res) => {
      const meta = {
        finish_reason: stopAt(200002),
        prompt_tokens: 3,
        completion_tokens: 2,
        cached_tokens: 0,
      };
      sse(res, [{ text: "hi", meta_info: meta }]);
    });
    await expect(collectRun(engine, request())).rejects.toMatchObject({
      code: "engine_error",
      message: expect.stringMatching(/streamed 0 output_ids/),
    });
  });
});
