/**
 * The clients gpt-oss users run, unchanged and with their default settings, against the real server
 * process on the tiny random-weight model (one process for the whole file). Random weights write
 * noise, so calls and outputs are forced through standard fields (tool_choice, schemas) and the
 * tests assert the protocol (a call of the named tool whose input parses, an object that fits the
 * schema, what the client sent), never the words. Each runs three turns, streaming and not:
 * - AI SDK (@ai-sdk/openai Responses and .chat(), @ai-sdk/openai-compatible): a forced call, its
 *   result back without a call, a structured answer (Output.object); streamed all through in the
 *   streaming variant; the Responses provider's second turn sends item_reference items.
 * - LangChain (chat and useResponsesApi): the same three turns, .stream() in the streaming variant,
 *   withStructuredOutput(...).stream() for the structured answer.
 * - Agents SDK, a zod-typed tool (strict) and outputType, both APIs: three run()s, each a forced call
 *   and a typed output, continued from result.history (Chat Completions) or previousResponseId.
 * - Codex CLI (its npm binary, wire_api responses, default tools and features): codex exec, then
 *   codex exec resume twice, the last with --output-schema. Codex calls no tool here: it sends
 *   tool_choice auto, under which the steered random model answers instead of calling.
 */
import { createOpenAI } from "@ai-sdk/openai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import type { AIMessageChunk } from "@langchain/core/messages";
import { tool as langchainTool } from "@langchain/core/tools";
import { ChatOpenAI } from "@langchain/openai";
import {
  Agent,
  type AgentInputItem,
  run,
  setDefaultOpenAIClient,
  setOpenAIAPI,
  setTracingDisabled,
  tool as agentTool,
} from "@openai/agents";
import {
  generateText,
  Output,
  stepCountIs,
  streamText,
  tool,
  type LanguageModel,
  type ModelMessage,
} from "ai";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { startRecordingProxy, type RecordedRequest, type RecordingProxy } from "./helpers/recording-proxy.ts";
import { startServerProcess, waitReady, type ServerProcess } from "./helpers/server-process.ts";

let server: ServerProcess;
let baseURL: string;
const MODEL = "gpt-oss-tiny";

beforeAll(async () => {
  server = await startServerProcess(["--model", "tiny", "--parallel", "4", "--context-size", "32768"]);
  await waitReady(server.url);
  baseURL = `${server.url}/v1`;
});

afterAll(async () => {
  expect(await server?.stop()).toBe(0);
});

/** What every client's tool takes: a zod schema with the keywords zod 4 emits (int bounds, min length, enum). */
const weatherInput = z.object({
  city: z.string().min(1).max(40),
  days: z.number().int().min(1).max(7),
  unit: z.enum(["c", "f"]),
});
const forecast = z.object({ summary: z.string().max(60), high: z.number().int() });

describe("AI SDK", () => {
  /** Request bodies the providers sent, through the providers' `fetch` option. */
  const sent: { url: string; body: unknown }[] = [];
  const recordingFetch: typeof fetch = (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    sent.push({ url, body: typeof init?.body === "string" ? JSON.parse(init.body) : undefined });
    return fetch(input, init);
  };
  let referencesSeen = 0;
  /** The ids the Responses provider holds for reasoning parts: it sends these as item_reference. */
  const storedReasoningIds = (messages: ModelMessage[]): string[] =>
    messages.flatMap((m) =>
      m.role === "assistant" && Array.isArray(m.content)
        ? m.content.flatMap((part) => {
            if (part.type !== "reasoning") return [];
            const id = (part.providerOptions?.["openai"] as { itemId?: unknown } | undefined)?.itemId;
            return typeof id === "string" ? [id] : [];
          })
        : [],
    );
  afterAll(() => {
    // Written to the log so a run shows whether item_reference was exercised (noise decides).
    console.info(`AI SDK Responses: ${referencesSeen} item_reference item(s) sent and resolved`);
  });
  const providers: Array<[string, () => LanguageModel]> = [
    [
      "@ai-sdk/openai (Responses, its default)",
      () => createOpenAI({ baseURL, apiKey: "none", fetch: recordingFetch })(MODEL),
    ],
    ["@ai-sdk/openai .chat()", () => createOpenAI({ baseURL, apiKey: "none" }).chat(MODEL)],
    [
      "@ai-sdk/openai-compatible",
      // supportsStructuredOutputs: the provider sends the schema only when told the server enforces it
      // (without, it asks for any JSON object and checks the schema afterwards).
      () =>
        createOpenAICompatible({
          name: "gptoss",
          baseURL,
          apiKey: "none",
          supportsStructuredOutputs: true,
        }).chatModel(MODEL),
    ],
  ];
  for (const [name, model] of providers) {
    for (const streaming of [false, true]) {
      it(`${name}${streaming ? ", streaming" : ""}: forced call, its result, a structured answer`, async () => {
        const calls: unknown[] = [];
        const weather = tool({
          description: "Weather forecast for a city",
          inputSchema: weatherInput,
          execute: (input) => {
            calls.push(input);
            return Promise.resolve({ high: 21, sky: "clear" });
          },
        });
        const messages: ModelMessage[] = [{ role: "user", content: "What is the weather in Paris?" }];
        /** One turn through generateText, or streamText consumed to its end. */
        const turn = async <O extends Parameters<typeof generateText>[0]>(options: O) => {
          if (!streaming) {
            const r = await generateText(options);
            return {
              messages: r.response.messages,
              toolCalls: r.toolCalls,
              output: () => r.output as unknown,
            };
          }
          const r = streamText(options as Parameters<typeof streamText>[0]);
          await r.consumeStream();
          const output = await r.output.then(
            (o) => () => o as unknown,
            (error: unknown) => () => {
              throw error;
            },
          );
          return { messages: (await r.response).messages, toolCalls: await r.toolCalls, output };
        };
        const requestsBefore = sent.length;
        // Turn 1: the forced call, executed by the SDK.
        const turn1 = await turn({
          model: model(),
          messages,
          tools: { weather },
          toolChoice: { type: "tool", toolName: "weather" } as const,
          maxOutputTokens: 300,
          stopWhen: stepCountIs(1),
        });
        expect(turn1.toolCalls.map((c) => c.toolName)).toEqual(["weather"]);
        expect(calls).toHaveLength(1);
        expect(weatherInput.safeParse(calls[0]).success).toBe(true);
        messages.push(...turn1.messages);

        // Turn 2: the result goes back; the model may answer anything, without a call.
        const turn2 = await turn({
          model: model(),
          messages,
          tools: { weather },
          toolChoice: "none",
          maxOutputTokens: 40,
        });
        expect(turn2.toolCalls).toEqual([]);
        messages.push(...turn2.messages, { role: "user", content: "Summarise it as JSON." });

        // Turn 3: a structured answer that fits the schema.
        const turn3 = await turn({
          model: model(),
          messages,
          output: Output.object({ schema: forecast }),
          maxOutputTokens: 300,
        });
        expect(forecast.safeParse(turn3.output()).success).toBe(true);

        if (name.includes("Responses")) {
          // The first turn's stored reasoning item comes back as an item_reference, which the server
          // resolved (turn 2 succeeded). Noise may have written no reasoning, hence no item to refer to.
          const bodies = sent
            .slice(requestsBefore)
            .map((r) => r.body as { input: { type?: string; id?: string }[] });
          expect(bodies).toHaveLength(3);
          const references = bodies[1]!.input
            .filter((item) => item.type === "item_reference")
            .map((i) => i.id);
          expect(references).toEqual(storedReasoningIds(turn1.messages));
          if (references.length > 0) referencesSeen += references.length;
        }
      });
    }
  }
});

describe("LangChain", () => {
  for (const useResponsesApi of [false, true]) {
    for (const streaming of [false, true]) {
      it(`@langchain/openai${useResponsesApi ? " (useResponsesApi)" : ""}${streaming ? ", streaming" : ""}: forced call, its result, a structured answer`, async () => {
        const chat = new ChatOpenAI({
          model: MODEL,
          apiKey: "none",
          configuration: { baseURL },
          useResponsesApi,
          maxTokens: 300,
          maxRetries: 0,
        });
        // Streaming as LangChain users stream: .stream() and concat. (`streaming: true` with
        // invoke() on Chat Completions counts tokens with tiktoken, which LangChain downloads from
        // a CDN: offline, as here, it hangs there before returning; the server is not involved.)
        type Input = Parameters<typeof chat.invoke>[0];
        const ask = async <
          T extends {
            invoke(i: Input): Promise<AIMessageChunk>;
            stream(i: Input): Promise<AsyncIterable<AIMessageChunk>>;
          },
        >(
          model: T,
          input: Input,
        ): Promise<AIMessageChunk> => {
          if (!streaming) return model.invoke(input);
          let whole: AIMessageChunk | undefined;
          for await (const chunk of await model.stream(input))
            whole = whole === undefined ? chunk : whole.concat(chunk);
          return whole!;
        };
        const weather = langchainTool((input) => Promise.resolve(JSON.stringify({ high: 21, input })), {
          name: "weather",
          description: "Weather forecast for a city",
          schema: weatherInput,
        });
        const withTools = chat.bindTools([weather], { tool_choice: "weather" });
        const history: Parameters<typeof chat.invoke>[0] = [["user", "What is the weather in Paris?"]];
        const first = await ask(withTools, history);
        expect(first.tool_calls?.map((c) => c.name)).toEqual(["weather"]);
        const call = first.tool_calls![0]!;
        expect(weatherInput.safeParse(call.args).success).toBe(true);
        const result = await weather.invoke(call);
        const second = await ask(chat, [...history, first, result]);
        expect(second.tool_calls ?? []).toEqual([]);
        const structured = chat.withStructuredOutput(forecast, { name: "forecast", strict: true });
        const third: Input = [...history, first, result, second, ["user", "Summarise it as JSON."]];
        // Streamed, a structured runnable yields the parsed object as it grows; the last is whole.
        let answer: unknown;
        if (streaming) for await (const partial of await structured.stream(third)) answer = partial;
        else answer = await structured.invoke(third);
        expect(forecast.safeParse(answer).success).toBe(true);
      });
    }
  }
});

describe("OpenAI Agents SDK", () => {
  for (const api of ["chat_completions", "responses"] as const) {
    for (const stream of [false, true]) {
      it(`${api}${stream ? ", streaming" : ""}: three turns (${api === "responses" ? "previousResponseId" : "result.history"}), each a zod-typed tool (strict by default) forced, then a typed final output`, async () => {
        setTracingDisabled(true);
        setDefaultOpenAIClient(
          new OpenAI({ baseURL, apiKey: "none", maxRetries: 0 }) as unknown as Parameters<
            typeof setDefaultOpenAIClient
          >[0],
        );
        setOpenAIAPI(api);
        const calls: unknown[] = [];
        const weather = agentTool({
          name: "weather",
          description: "Weather forecast for a city",
          parameters: weatherInput,
          execute: (input) => {
            calls.push(input);
            return Promise.resolve("21 degrees and clear");
          },
        });
        const agent = new Agent({
          name: "forecaster",
          instructions: "Answer weather questions with the weather tool.",
          model: MODEL,
          tools: [weather],
          outputType: forecast,
          // Forced on the first turn; the SDK resets it after a call, so the loop ends.
          modelSettings: { toolChoice: "weather", maxTokens: 300 },
        });
        const turn = async (input: string | AgentInputItem[], previousResponseId?: string) => {
          const options = {
            maxTurns: 4,
            ...(previousResponseId === undefined ? {} : { previousResponseId }),
          };
          if (!stream) return run(agent, input, options);
          const streamed = await run(agent, input, { ...options, stream: true });
          for await (const _event of streamed) void _event;
          await streamed.completed;
          return streamed;
        };
        // Three turns, each a forced call (toolChoice applies to each run's first request) and a
        // typed final output. Chat Completions carries the conversation as result.history; the
        // Responses model continues from the stored response (previous_response_id).
        const questions = ["What is the weather in Paris?", "And in Lyon?", "And tomorrow?"];
        let previous: Awaited<ReturnType<typeof turn>> | undefined;
        for (const [i, question] of questions.entries()) {
          const result =
            previous === undefined
              ? await turn(question)
              : api === "chat_completions"
                ? await turn([...previous.history, { role: "user", content: question }])
                : await turn(question, previous.lastResponseId);
          expect(calls).toHaveLength(i + 1);
          expect(weatherInput.safeParse(calls[i]).success).toBe(true);
          expect(forecast.safeParse(result.finalOutput).success).toBe(true);
          if (previous !== undefined && api === "chat_completions") {
            // The earlier turns, the new question, this turn's call, its result and answer.
            expect(result.history.length).toBeGreaterThanOrEqual(previous.history.length + 4);
          }
          if (api === "responses") {
            expect(result.lastResponseId).toMatch(/^resp_/);
            expect(result.lastResponseId).not.toBe(previous?.lastResponseId);
          }
          previous = result;
        }
      });
    }
  }
});

describe("Codex CLI", () => {
  interface CodexEvent {
    type: string;
    thread_id?: string;
    item?: { type?: string; text?: string };
    error?: { message?: string };
    message?: string;
  }
  let proxy: RecordingProxy;
  let home: string;
  let work: string;
  beforeAll(async () => {
    // Codex is a binary: a recording proxy in front of the server shows what it sent.
    proxy = await startRecordingProxy(server.url);
    home = await mkdtemp(join(tmpdir(), "codex-home-"));
    work = await mkdtemp(join(tmpdir(), "codex-work-"));
    await writeFile(
      join(home, "config.toml"),
      [
        `model = "${MODEL}"`,
        `model_provider = "gptoss"`,
        `sandbox_mode = "read-only"`,
        `[model_providers.gptoss]`,
        `name = "gpt-oss-server"`,
        `base_url = "${proxy.url}/v1"`,
        `wire_api = "responses"`,
        "",
      ].join("\n"),
    );
  });
  afterAll(async () => {
    await proxy?.close();
    if (home !== undefined) await rm(home, { recursive: true, force: true });
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  /** `codex exec --json` (args after `exec`) in the scratch home and workdir: its exit code and events. */
  async function codexExec(args: string[]): Promise<{ code: number; events: CodexEvent[]; stderr: string }> {
    const bin = join(process.cwd(), "node_modules", ".bin", "codex");
    return new Promise((resolve) => {
      const child = execFile(
        bin,
        ["exec", ...args],
        {
          cwd: work,
          env: { ...process.env, CODEX_HOME: home },
          timeout: 150_000,
          maxBuffer: 64 * 1024 * 1024,
        },
        (error, stdout, stderr) => {
          const events = stdout
            .split("\n")
            .filter((line) => line.startsWith("{"))
            .map((line) => JSON.parse(line) as CodexEvent);
          resolve({
            code: error === null ? 0 : typeof error.code === "number" ? error.code : 1,
            events,
            stderr,
          });
        },
      );
      // Codex reads more of the prompt from a piped stdin until it closes.
      child.stdin?.end();
    });
  }

  function completed(turn: { code: number; events: CodexEvent[]; stderr: string }): void {
    const errors = turn.events.filter((e) => e.type === "error" || e.type === "turn.failed");
    expect(errors, JSON.stringify(errors)).toEqual([]);
    expect(turn.events.map((e) => e.type)).toContain("turn.completed");
    expect(turn.code, turn.stderr.slice(-2000)).toBe(0);
  }

  /** The text of every user message in a Responses request's input. */
  function userTexts(body: unknown): string[] {
    const input = (body as { input?: unknown }).input;
    if (!Array.isArray(input)) return [];
    return input.flatMap((item: { role?: string; content?: unknown }) =>
      item.role === "user" && Array.isArray(item.content)
        ? item.content.map((c: { text?: string }) => c.text ?? "")
        : [],
    );
  }

  it("a three-turn session with its default tools (namespace, web_search) and features: exec, resume, resume with --output-schema", async () => {
    const responses = (): RecordedRequest[] => proxy.requests.filter((r) => r.path.endsWith("/responses"));
    const turn1 = await codexExec(["--json", "--skip-git-repo-check", "Say hi"]);
    completed(turn1);
    const thread = turn1.events.find((e) => e.type === "thread.started")?.thread_id;
    expect(thread).toBeTypeOf("string");
    const after1 = responses().length;
    expect(after1).toBeGreaterThan(0);

    const turn2 = await codexExec(["resume", "--json", "--skip-git-repo-check", thread!, "Say it again"]);
    completed(turn2);
    const second = responses().slice(after1);
    expect(second.length).toBeGreaterThan(0);
    // The resumed turn sends the whole conversation: the first request's user messages, then the new
    // prompt, with the first turn's output between them.
    const texts1 = userTexts(responses()[0]!.body);
    const texts2 = userTexts(second[0]!.body);
    expect(texts2.slice(0, texts1.length)).toEqual(texts1);
    expect(texts2.at(-1)).toBe("Say it again");
    const input2 = (second[0]!.body as { input: { type?: string; role?: string }[] }).input;
    const said = (text: string): number =>
      input2.findIndex((item) => item.role === "user" && JSON.stringify(item).includes(text));
    const between = input2.slice(said("Say hi") + 1, said("Say it again"));
    expect(between.every((item) => item.type === "reasoning" || item.role === "assistant")).toBe(true);
    // Noise may be empty: Codex replays what the first turn wrote (a reasoning item, a message).
    const wrote = turn1.events.filter(
      (e) =>
        e.type === "item.completed" &&
        (e.item?.type === "reasoning" || e.item?.type === "agent_message") &&
        (e.item.text ?? "").trim() !== "",
    );
    if (wrote.length > 0) expect(between.length).toBeGreaterThan(0);
    const after2 = responses().length;

    const schema = {
      type: "object",
      properties: {
        greeting: { type: "string", maxLength: 40 },
        count: { type: "integer", minimum: 0, maximum: 9 },
      },
      required: ["greeting", "count"],
      additionalProperties: false,
    };
    const schemaFile = join(home, "schema.json");
    await writeFile(schemaFile, JSON.stringify(schema));
    const turn3 = await codexExec([
      "resume",
      "--json",
      "--skip-git-repo-check",
      "--output-schema",
      schemaFile,
      thread!,
      "Answer as JSON",
    ]);
    completed(turn3);
    const third = responses().slice(after2);
    const texts3 = userTexts(third[0]!.body);
    expect(texts3.slice(0, texts2.length)).toEqual(texts2);
    expect(texts3.at(-1)).toBe("Answer as JSON");
    expect((third[0]!.body as { text?: { format?: { type?: string } } }).text?.format?.type).toBe(
      "json_schema",
    );
    const answer = turn3.events.filter((e) => e.item?.type === "agent_message").at(-1)?.item?.text;
    const parsed = JSON.parse(answer ?? "") as { greeting: unknown; count: unknown };
    expect(typeof parsed.greeting).toBe("string");
    expect(Number.isInteger(parsed.count)).toBe(true);
  }, 420_000);
});
