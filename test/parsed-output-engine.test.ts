/**
 * Engines that return parsed output (issue 11 part 6: a chat-level upstream gives reasoning,
 * content and tool calls, not harmony tokens): serving takes their ParsedOutputEvents without the
 * harmony parser, through both APIs, streaming and not; stop strings still apply; raw-prompt
 * completions are refused; every constrained request carries its constraint by meaning, and the
 * conversation itself; such an engine constrains output its own way (no GBNF, nothing refused).
 */
import OpenAI from "openai";
import { getHarmonyTokenizer } from "../src/harmony/tokenizer.ts";
import { describe, expect, it } from "vitest";
import type {
  Engine,
  EngineHealth,
  EngineInfo,
  GenerationEvent,
  GenerationRequest,
  ParsedOutputEvent,
} from "../src/engines/engine.ts";
import { buildFakeApp } from "./helpers/fake-app.ts";

/** A test double of a chat-level engine: replays parsed deltas, then finishes. */
class ParsedOutputEngineForTest implements Engine {
  readonly info: EngineInfo = {
    name: "parsed-output-test-double",
    modelId: "gpt-oss-fake",
    modelSize: "fake",
    contextSize: 4096,
    maxSequences: 4,
    gpuMode: "cpu",
    randomWeights: false,
    capabilities: { prefixCache: false, grammar: false, parsedOutput: true },
  };
  readonly seen: GenerationRequest[] = [];
  constructor(readonly deltas: ParsedOutputEvent[]) {}
  async *generate(req: GenerationRequest): AsyncGenerator<GenerationEvent> {
    this.seen.push(req);
    let tokens = 0;
    for (const delta of this.deltas) {
      await Promise.resolve();
      tokens += delta.tokenCount ?? 0;
      yield delta;
    }
    yield {
      type: "finish",
      reason: "stop",
      usage: { promptTokens: req.promptTokens.length, cachedTokens: 0, completionTokens: tokens },
    };
  }
  health(): EngineHealth {
    return { status: "ready", activeSequences: 0 };
  }
  async close(): Promise<void> {}
}

const ANSWER: ParsedOutputEvent[] = [
  { type: "parsed", reasoning: "Think ", tokenCount: 1 },
  { type: "parsed", reasoning: "briefly.", tokenCount: 2 },
  { type: "parsed", content: "Hello ", tokenCount: 1 },
  { type: "parsed", content: "there. STOP and more", tokenCount: 4 },
];
const CALL: ParsedOutputEvent[] = [
  { type: "parsed", toolCall: { index: 0, name: "get_weather", arguments: '{"city":' }, tokenCount: 3 },
  { type: "parsed", toolCall: { index: 0, arguments: '"Paris"}' }, tokenCount: 2 },
];
const tools = [
  {
    type: "function" as const,
    function: {
      name: "get_weather",
      parameters: { type: "object", properties: { city: { type: "string" } } },
    },
  },
];

async function serve(
  deltas: ParsedOutputEvent[],
): Promise<{ client: OpenAI; engine: ParsedOutputEngineForTest; close: () => Promise<void> }> {
  const engine = new ParsedOutputEngineForTest(deltas);
  const { app } = buildFakeApp({ serve: engine });
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return { client: new OpenAI({ baseURL: `${url}/v1`, apiKey: "none" }), engine, close: () => app.close() };
}

const user = [{ role: "user" as const, content: "Hi" }];

describe("an engine that returns parsed output", () => {
  it("Chat Completions: reasoning and content without the harmony parser, stop strings applied, streaming and not", async () => {
    const { client, close } = await serve(ANSWER);
    try {
      const res = await client.chat.completions.create({
        model: "gpt-oss-fake",
        messages: user,
        stop: ["STOP"],
      });
      const message = res.choices[0]!.message as { content: string | null; reasoning?: string };
      expect(message.reasoning).toBe("Think briefly.");
      expect(message.content).toBe("Hello there. ");
      expect(res.choices[0]!.finish_reason).toBe("stop");
      expect(res.usage?.completion_tokens).toBeGreaterThan(0);

      const stream = await client.chat.completions.create({
        model: "gpt-oss-fake",
        messages: user,
        stream: true,
      });
      let content = "";
      for await (const chunk of stream) content += chunk.choices[0]?.delta.content ?? "";
      expect(content).toBe("Hello there. STOP and more");
    } finally {
      await close();
    }
  });

  it("counts the gpt-oss tokens of deltas that carry no count, when the engine reports no usage", async () => {
    const uncounted: ParsedOutputEvent[] = ANSWER.map(({ tokenCount: _, ...delta }) => delta);
    const { client, close } = await serve(uncounted);
    const tokens = (text: string): number => getHarmonyTokenizer().encode(text).length;
    try {
      const whole = await client.chat.completions.create({ model: "gpt-oss-fake", messages: user });
      expect(whole.usage?.completion_tokens).toBe(
        tokens("Think ") + tokens("briefly.") + tokens("Hello ") + tokens("there. STOP and more"),
      );
      // Cut at a stop string (the engine is stopped before any usage could come): what was generated.
      const cut = await client.chat.completions.create({
        model: "gpt-oss-fake",
        messages: user,
        stop: ["STOP"],
      });
      expect(cut.choices[0]!.message.content).toBe("Hello there. ");
      expect(cut.usage?.completion_tokens).toBe(whole.usage?.completion_tokens);
    } finally {
      await close();
    }
  });

  it("tool calls come back as calls (id, name, arguments) in Chat and Responses; the constraint travels by meaning", async () => {
    const { client, engine, close } = await serve(CALL);
    try {
      const res = await client.chat.completions.create({
        model: "gpt-oss-fake",
        messages: user,
        tools,
        tool_choice: "auto",
      });
      const call = res.choices[0]!.message.tool_calls?.[0];
      expect(call).toMatchObject({
        type: "function",
        function: { name: "get_weather", arguments: '{"city":"Paris"}' },
      });
      expect(call?.id).toMatch(/^call_/);
      expect(res.choices[0]!.finish_reason).toBe("tool_calls");
      // No GBNF for an engine without the grammar capability; the meaning is there for it.
      expect(engine.seen[0]!.grammar).toBeUndefined();
      expect(engine.seen[0]!.output).toMatchObject({ toolChoice: "auto", tools: [{ name: "get_weather" }] });

      const response = await client.responses.create({
        model: "gpt-oss-fake",
        input: "Hi",
        tools: [
          { type: "function", name: "get_weather", parameters: tools[0]!.function.parameters, strict: false },
        ],
        stream: true,
      });
      const done: OpenAI.Responses.ResponseOutputItem[] = [];
      for await (const event of response)
        if (event.type === "response.output_item.done") done.push(event.item);
      expect(done).toEqual([
        expect.objectContaining({
          type: "function_call",
          name: "get_weather",
          arguments: '{"city":"Paris"}',
        }),
      ]);
    } finally {
      await close();
    }
  });

  it("gets the conversation and constrains output itself: a JSON schema and a required call are not refused, no GBNF is built", async () => {
    const { client, engine, close } = await serve(CALL);
    try {
      await client.chat.completions.create({
        model: "gpt-oss-fake",
        messages: [
          { role: "system", content: "Be brief." },
          ...user,
          {
            role: "assistant",
            content: null,
            reasoning_content: "Call it.",
            tool_calls: [
              { id: "call_1", type: "function", function: { name: "get_weather", arguments: "{}" } },
            ],
          } as OpenAI.Chat.ChatCompletionAssistantMessageParam,
          { role: "tool", tool_call_id: "call_1", content: "sunny" },
        ],
        tools,
        tool_choice: "required",
        response_format: {
          type: "json_schema",
          json_schema: { name: "answer", schema: { type: "object" }, strict: true },
        },
        reasoning_effort: "low",
      });
      const seen = engine.seen[0]!;
      expect(seen.grammar).toBeUndefined();
      expect(seen.promptTokens.length).toBeGreaterThan(0);
      expect(seen.output).toMatchObject({
        toolChoice: "required",
        responseFormat: { type: "json_schema", name: "answer" },
      });
      expect(seen.conversation).toEqual({
        instructions: "Be brief.",
        reasoningEffort: "low",
        messages: [
          { role: "user", content: "Hi" },
          {
            role: "assistant",
            reasoning: "Call it.",
            toolCalls: [{ id: "call_1", name: "get_weather", arguments: "{}" }],
          },
          { role: "tool", toolCallId: "call_1", name: "get_weather", content: "sunny" },
        ],
      });

      // A tool in a namespace could not come back as itself through a chat API.
      const error = await client.responses
        .create({
          model: "gpt-oss-fake",
          input: "Hi",
          tools: [
            {
              type: "namespace",
              name: "shop",
              tools: [{ type: "function", name: "buy", parameters: {}, strict: false }],
            } as unknown as OpenAI.Responses.Tool,
          ],
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("tools");
      expect((error as Error).message).toMatch(/chat-level upstream, which takes function tools only/);
    } finally {
      await close();
    }
  });

  it("a request without tools or a format carries no constraint; /v1/completions is refused (it needs tokens)", async () => {
    const { client, engine, close } = await serve(ANSWER);
    try {
      await client.chat.completions.create({ model: "gpt-oss-fake", messages: user });
      expect(engine.seen[0]!.output).toBeUndefined();
      const error = await client.completions
        .create({ model: "gpt-oss-fake", prompt: "Hi" })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("model");
    } finally {
      await close();
    }
  });
});
