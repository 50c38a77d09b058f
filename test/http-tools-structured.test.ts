/**
 * Tool calling and structured output over HTTP, with the scripted FakeEngine (a test double for the
 * model) behind a real listening server, read by the official `openai` client and its stream
 * parser. The script plays what a grammar-constrained model writes; the tests check what serving
 * sends the engine (grammar, bans, prompt) and what clients get back.
 */
import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import type { GenerationRequest } from "../src/engines/engine.ts";
import { SPECIAL_TOKENS } from "../src/harmony/special-tokens.ts";
import { getHarmonyTokenizer } from "../src/harmony/tokenizer.ts";
import { buildFakeApp, type FakeApp, type FakeAppOptions } from "./helpers/fake-app.ts";

const tokenizer = getHarmonyTokenizer();
const ARGS = '{"location": "Paris", "unit": "c"}';
const CALL =
  "<|channel|>analysis<|message|>Need the weather tool.<|end|><|start|>assistant" +
  `<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>${ARGS}<|call|>`;
const ANSWER = '{"city":"Paris","temperature":21}';
const JSON_FINAL =
  "<|channel|>analysis<|message|>Fill the schema.<|end|><|start|>assistant" +
  `<|channel|>final<|message|>${ANSWER}<|return|>`;

const tools: OpenAI.Chat.Completions.ChatCompletionFunctionTool[] = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "Gets the weather",
      parameters: {
        type: "object",
        properties: { location: { type: "string" }, unit: { enum: ["c", "f"] } },
        required: ["location"],
      },
    },
  },
];
const schema = {
  type: "object",
  properties: { city: { type: "string" }, temperature: { type: "integer" } },
  required: ["city", "temperature"],
  additionalProperties: false,
};

let running: FakeApp | undefined;
afterEach(async () => {
  await running?.app.close();
  running = undefined;
});

/** A listening app whose script is `harmony`; `seen` collects the engine's requests. */
async function serve(
  harmony: string,
  options: FakeAppOptions = {},
): Promise<{ client: OpenAI; seen: GenerationRequest[]; app: FakeApp }> {
  const seen: GenerationRequest[] = [];
  const tokens = tokenizer.encodeWithSpecials(harmony);
  running = buildFakeApp({
    ...options,
    script: (req) => {
      seen.push(req);
      return tokens;
    },
  });
  const url = await running.app.listen({ port: 0, host: "127.0.0.1" });
  return {
    client: new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 }),
    seen,
    app: running,
  };
}

const user = [{ role: "user" as const, content: "Weather in Paris?" }];

describe("tool calls", () => {
  it("streams delta.tool_calls with incremental arguments that the openai stream parser assembles", async () => {
    const { client, seen } = await serve(CALL);
    const stream = await client.chat.completions.create({
      model: "gpt-oss-fake",
      messages: user,
      tools,
      stream: true,
    });
    const argDeltas: string[] = [];
    let id: string | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      for (const call of choice?.delta.tool_calls ?? []) {
        expect(call.index).toBe(0);
        if (call.id !== undefined) id = call.id;
        if (call.function?.arguments) argDeltas.push(call.function.arguments);
      }
      finish = choice?.finish_reason ?? finish;
    }
    expect(id).toMatch(/^call_/);
    expect(argDeltas.length).toBeGreaterThan(3); // token by token, not in one piece
    expect(argDeltas.join("")).toBe(ARGS);
    expect(finish).toBe("tool_calls");
    // The grammar went to the engine: this tool's call is constrained, a final answer allowed.
    expect(seen[0]?.grammar?.gbnf).toContain('" to=functions.get_weather"');
    expect(seen[0]?.grammar?.gbnf).toContain("h-final");

    const runner = client.chat.completions.stream({ model: "gpt-oss-fake", messages: user, tools });
    const final = await runner.finalChatCompletion();
    const call = final.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === "function" ? call.function : undefined).toEqual({
      name: "get_weather",
      arguments: ARGS,
    });
    expect(final.choices[0]?.finish_reason).toBe("tool_calls");
  });

  it("round-trips call ids: the next request's history pairs the result with its call", async () => {
    const { client, seen } = await serve(CALL);
    const first = await client.chat.completions.create({ model: "gpt-oss-fake", messages: user, tools });
    const message = first.choices[0]!.message;
    expect(first.choices[0]?.finish_reason).toBe("tool_calls");
    const callId = message.tool_calls?.[0]?.id;
    expect(callId).toMatch(/^call_/);
    await client.chat.completions.create({
      model: "gpt-oss-fake",
      tools,
      messages: [
        ...user,
        { role: "assistant", content: null, tool_calls: message.tool_calls ?? [] },
        { role: "tool", tool_call_id: callId!, content: '{"temp": 21}' },
      ],
    });
    const prompt = tokenizer.decode(seen[1]!.promptTokens);
    expect(prompt).toContain(
      `<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>${ARGS}<|call|>`,
    );
    // The result is attributed to the function its tool_call_id names.
    expect(prompt).toContain(
      '<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>{"temp": 21}<|end|>',
    );
  });

  it("tool_choice: none renders no tools and sends no grammar; required and named ban <|return|>", async () => {
    const { client, seen } = await serve(CALL);
    await client.chat.completions.create({
      model: "gpt-oss-fake",
      messages: user,
      tools,
      tool_choice: "none",
    });
    expect(seen[0]?.grammar).toBeUndefined();
    expect(tokenizer.decode(seen[0]!.promptTokens)).not.toContain("namespace functions");

    await client.chat.completions.create({
      model: "gpt-oss-fake",
      messages: user,
      tools,
      tool_choice: "required",
    });
    expect(seen[1]?.grammar?.gbnf).not.toContain("h-final");
    expect(seen[1]?.sampling.logitBias.get(SPECIAL_TOKENS.return)).toBe(-100);

    const named = await client.chat.completions.create({
      model: "gpt-oss-fake",
      messages: user,
      tools,
      tool_choice: { type: "function", function: { name: "get_weather" } },
    });
    expect(named.choices[0]?.finish_reason).toBe("tool_calls");
    expect(seen[2]?.grammar?.gbnf).toContain('" to=functions.get_weather"');
    expect(seen[2]?.sampling.logitBias.get(SPECIAL_TOKENS.return)).toBe(-100);
  });

  it("a strict tool with keywords the grammar cannot enforce is a 400; a non-strict one gets any object", async () => {
    const { client, seen } = await serve(CALL);
    const loose = structuredClone(tools);
    (loose[0]!.function.parameters!["properties"] as Record<string, object>)["location"] = {
      type: "string",
      pattern: "^(?=[A-Z])",
    };
    const strictTools = structuredClone(loose);
    strictTools[0]!.function.strict = true;
    const error = await client.chat.completions
      .create({ model: "gpt-oss-fake", messages: user, tools: strictTools })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).message).toContain(
      "'pattern' at tools.0.function.parameters.properties.location",
    );
    const ok = await client.chat.completions.create({ model: "gpt-oss-fake", messages: user, tools: loose });
    expect(ok.choices[0]?.finish_reason).toBe("tool_calls");
    expect(seen[0]?.grammar?.gbnf).toMatch(/h-call-0 ::= .*j-object/);
  });
});

describe("structured output", () => {
  const format = {
    type: "json_schema" as const,
    json_schema: { name: "weather", description: "The weather", schema, strict: true },
  };

  it("json_schema: content is the JSON answer, reasoning apart; the schema is rendered and enforced", async () => {
    const { client, seen } = await serve(JSON_FINAL);
    const res = await client.chat.completions.create({
      model: "gpt-oss-fake",
      messages: user,
      response_format: format,
    });
    const message = res.choices[0]!.message as (typeof res.choices)[0]["message"] & { reasoning?: string };
    expect(JSON.parse(message.content ?? "")).toEqual({ city: "Paris", temperature: 21 });
    expect(message.reasoning).toBe("Fill the schema.");
    expect(res.choices[0]?.finish_reason).toBe("stop");
    const prompt = tokenizer.decode(seen[0]!.promptTokens);
    expect(prompt).toContain(
      `# Response Formats\n\n## weather\n\n// The weather\n${JSON.stringify(schema)}<|end|>`,
    );
    expect(seen[0]?.grammar?.gbnf).toContain('"\\"temperature\\""');
    // The same constraint by meaning, for engines that compile it themselves.
    expect(seen[0]?.output?.responseFormat).toMatchObject({ type: "json_schema", name: "weather", schema });
    expect(seen[0]?.sampling.logitBias.get(SPECIAL_TOKENS.call)).toBe(-100);

    // Streamed, the content deltas concatenate to the same JSON.
    const runner = client.chat.completions.stream({
      model: "gpt-oss-fake",
      messages: user,
      response_format: format,
    });
    const streamed = await runner.finalChatCompletion();
    expect(JSON.parse(streamed.choices[0]?.message.content ?? "")).toEqual({
      city: "Paris",
      temperature: 21,
    });
  });

  it("json_object: any object, enforced by a grammar without a rendered schema", async () => {
    const { client, seen } = await serve(JSON_FINAL);
    const res = await client.chat.completions.create({
      model: "gpt-oss-fake",
      messages: user,
      response_format: { type: "json_object" },
    });
    expect(JSON.parse(res.choices[0]?.message.content ?? "")).toEqual({ city: "Paris", temperature: 21 });
    expect(seen[0]?.grammar?.gbnf).toContain('h-final ::= <[200005]> "final" <[200008]>');
    expect(tokenizer.decode(seen[0]!.promptTokens)).not.toContain("# Response Formats");
  });

  it("rejects unsupported schema keywords with a 400 naming them and their path", async () => {
    const { client, seen } = await serve(JSON_FINAL);
    const bad = {
      type: "json_schema" as const,
      json_schema: {
        name: "bad",
        schema: { type: "object", properties: { n: { type: "number", multipleOf: 5 } }, not: {} },
      },
    };
    const error = await client.chat.completions
      .create({ model: "gpt-oss-fake", messages: user, response_format: bad })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    const e = error as InstanceType<typeof OpenAI.BadRequestError>;
    expect(e.code).toBe("invalid_value");
    expect(e.param).toBe("response_format.json_schema.schema.properties.n");
    expect(e.message).toContain("'multipleOf' at response_format.json_schema.schema.properties.n");
    expect(e.message).toContain("'not' at response_format.json_schema.schema");
    expect(seen).toHaveLength(0);
  });

  it("an engine without grammar support refuses structured output but serves auto tool calls", async () => {
    const { client, seen } = await serve(CALL, { grammar: false });
    const error = await client.chat.completions
      .create({ model: "gpt-oss-fake", messages: user, response_format: { type: "json_object" } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("response_format");
    const res = await client.chat.completions.create({ model: "gpt-oss-fake", messages: user, tools });
    expect(res.choices[0]?.finish_reason).toBe("tool_calls");
    expect(seen[0]?.grammar).toBeUndefined();
  });
});
