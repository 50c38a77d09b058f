/**
 * Harmony-shaped output through the REAL embedded engine (llama.cpp, tiny random-weight model):
 * the grammar that serving builds for tool_choice=required and for a json_schema response format
 * is the only thing that gives noise this shape. Random weights would never write harmony headers;
 * here the analysis, the call and the final JSON travel the whole real path (renderer, grammar,
 * llama.cpp sampler, harmony parser, HTTP) and come back as `reasoning`, `tool_calls`, `content`.
 *
 * Steering: the server's own for random-weight models (src/serving/random-weights-steering.ts:
 * `<|channel|>`, "analysis", `<|end|>` and JSON closers favoured), which this test once did by hand
 * with logit_bias; no bias is sent here, so the test holds the server's steering to its purpose.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLlamaApp, type LlamaApp } from "./helpers/llama-app.ts";
import { VERDICT_RESPONSE_FORMAT } from "./helpers/verdict-format.ts";

let llama: LlamaApp;

beforeAll(async () => {
  llama = await buildLlamaApp();
});
afterAll(async () => {
  await llama?.close();
});

interface ChatJson {
  choices: {
    message: {
      content: string | null;
      reasoning?: string;
      tool_calls?: { id: string; type: string; function: { name: string; arguments: string } }[];
    };
    finish_reason: string;
  }[];
  usage: { completion_tokens: number };
}

async function chat(body: Record<string, unknown>): Promise<ChatJson> {
  const res = await llama.app.inject({
    method: "POST",
    url: "/v1/chat/completions",
    payload: { model: "gpt-oss-tiny", max_tokens: 80, ...body },
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

describe("grammar-forced harmony through llama.cpp", () => {
  it("reports grammar support", () => {
    expect(llama.engine.info.capabilities.grammar).toBe(true);
  });

  it("tool_choice=required: reasoning, then a call whose arguments fit the schema, ended by <|call|>", async () => {
    const body = await chat({
      seed: 1,
      messages: [{ role: "user", content: "Weather in Paris?" }],
      tools: [
        {
          type: "function",
          function: {
            name: "get_weather",
            parameters: {
              type: "object",
              properties: { unit: { enum: ["c", "f"] }, ok: { type: "boolean" } },
              required: ["unit", "ok"],
            },
          },
        },
      ],
      tool_choice: "required",
    });
    const choice = body.choices[0]!;
    expect(choice.message.reasoning ?? "").not.toBe("");
    expect(choice.finish_reason).toBe("tool_calls");
    expect(body.usage.completion_tokens).toBeLessThan(80); // ended by <|call|>, not by length
    const call = choice.message.tool_calls?.[0];
    expect(call?.function.name).toBe("get_weather");
    expect(call?.id).toMatch(/^call_/);
    const args = JSON.parse(call!.function.arguments) as Record<string, unknown>;
    expect(Object.keys(args).sort()).toEqual(["ok", "unit"]);
    expect(["c", "f"]).toContain(args["unit"]);
    expect(typeof args["ok"]).toBe("boolean");
    expect(choice.message.content ?? "").toBe("");
  }, 60_000);

  it("a call cut by max_tokens is finish_reason length with its partial arguments, not tool_calls", async () => {
    const request = {
      seed: 1,
      messages: [{ role: "user", content: "Weather in Paris?" }],
      tools: [
        {
          type: "function",
          function: {
            name: "get_weather",
            parameters: {
              type: "object",
              properties: { unit: { enum: ["c", "f"] }, ok: { type: "boolean" } },
              required: ["unit", "ok"],
            },
          },
        },
      ],
      tool_choice: "required",
    };
    const whole = await chat(request);
    expect(whole.choices[0]!.finish_reason).toBe("tool_calls");
    // The same seeded run, cut two tokens before its <|call|>: inside the arguments.
    const cut = await chat({ ...request, max_tokens: whole.usage.completion_tokens - 2 });
    const choice = cut.choices[0]!;
    expect(choice.finish_reason).toBe("length");
    const args = choice.message.tool_calls?.[0]?.function.arguments ?? "";
    expect(() => JSON.parse(args) as unknown).toThrow();
  }, 60_000);

  it("response_format json_schema: reasoning, then a final answer that is JSON valid under the schema", async () => {
    const body = await chat({
      seed: 4,
      messages: [{ role: "user", content: "Is it ok?" }],
      response_format: VERDICT_RESPONSE_FORMAT,
    });
    const choice = body.choices[0]!;
    expect(choice.message.reasoning ?? "").not.toBe("");
    expect(choice.finish_reason).toBe("stop");
    expect(body.usage.completion_tokens).toBeLessThan(80);
    const answer = JSON.parse(choice.message.content ?? "") as Record<string, unknown>;
    expect(Object.keys(answer).sort()).toEqual(["answer", "sure"]);
    expect(["yes", "no"]).toContain(answer["answer"]);
    expect(typeof answer["sure"]).toBe("boolean");
    expect(choice.message.tool_calls ?? []).toEqual([]);
  }, 60_000);
});
