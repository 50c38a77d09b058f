import type http from "node:http";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { renderAgentTable } from "./agent-report.ts";
import { runAgentScenario, summarizeTurns } from "./agent-scenario.ts";
import { AGENT_TOOLS, AgentTranscript, syntheticToolCall } from "./agent-transcript.ts";
import type { AgentReport, AgentTurnRecord } from "./bench-types.ts";
import {
  chunk,
  startFakeOpenAiServerForTest,
  type FakeOpenAiServerForTest,
} from "./fake-openai-server-for-test.ts";
import { realClock } from "./gate-clock.ts";
import { PromptFactory } from "./prompt-factory.ts";
import { TargetClient } from "./target-client.ts";

const prompts = new PromptFactory();
beforeAll(() => prompts.load(), 60_000);

let server: FakeOpenAiServerForTest | undefined;
let client: TargetClient | undefined;
afterEach(async () => {
  client?.close();
  await server?.close();
  server = undefined;
  client = undefined;
});

const options = { session: 1, seed: 7, turns: 3, toolResultTokens: 20 };

describe("AgentTranscript", () => {
  it("starts with the system prompt and a user task, and grows by a tool call and a result each turn", () => {
    const t = new AgentTranscript(options, prompts);
    expect(t.messages.map((m) => m.role)).toEqual(["system", "user"]);
    t.advance(undefined);
    t.advance(undefined);
    expect(t.messages.map((m) => m.role)).toEqual([
      "system",
      "user",
      "assistant",
      "tool",
      "assistant",
      "tool",
    ]);
    const [call, result] = t.messages.slice(2) as unknown as [
      { tool_calls: Array<{ id: string; function: { name: string } }> },
      { tool_call_id: string; content: string },
    ];
    expect(result.tool_call_id).toBe(call.tool_calls[0]?.id);
    expect(prompts.count(result.content)).toBe(20);
  });

  it("is deterministic for a seed and differs between sessions", () => {
    const grow = (session: number) => {
      const t = new AgentTranscript({ ...options, session }, prompts);
      t.advance(undefined);
      return JSON.stringify(t.messages);
    };
    expect(grow(1)).toBe(grow(1));
    expect(grow(1)).not.toBe(grow(2));
  });

  it("appends a synthetic tool call when the answer made none (or an unusable one), else the model's", () => {
    const t = new AgentTranscript(options, prompts);
    expect(t.advance([])).toEqual({ fromModel: false });
    expect(t.advance([{ id: "x", name: "no_such_tool", arguments: "{}" }])).toEqual({ fromModel: false });
    expect(t.advance([{ id: "call_9", name: "grep", arguments: '{"pattern":"x"}' }])).toEqual({
      fromModel: true,
    });
    const calls = t.messages.filter((m) => m.role === "assistant").map((m) => m.tool_calls[0]);
    expect(calls[0]?.function).toEqual({
      name: syntheticToolCall(1, 1).name,
      arguments: syntheticToolCall(1, 1).arguments,
    });
    expect(calls[2]).toMatchObject({ id: "call_9", function: { name: "grep" } });
    expect(t.modelCalls).toBe(1);
    expect(AGENT_TOOLS.map((x) => x.function.name)).toContain(syntheticToolCall(1, 1).name);
  });
});

const record = (turn: number, session: number, extra: Partial<AgentTurnRecord> = {}): AgentTurnRecord => ({
  session,
  turn,
  ok: true,
  ttftMs: 10 * turn + session,
  e2eMs: 100,
  promptTokens: 1000 * turn,
  cachedTokens: null,
  completionTokens: 5,
  toolCallFromModel: false,
  ...extra,
});

describe("summarizeTurns", () => {
  it("takes p50 over sessions per turn, keeps failures out of the medians, and n/a for no cached_tokens", () => {
    const turns = summarizeTurns(
      [
        record(1, 0),
        record(1, 1),
        record(1, 2),
        record(2, 0, { cachedTokens: 900 }),
        record(2, 1, { cachedTokens: 1100 }),
        record(2, 2, { ok: false, ttftMs: null, error: "boom" }),
      ],
      2,
    );
    expect(turns[0]).toMatchObject({ turn: 1, ok: 3, failed: 0, ttftMsP50: 11, cachedTokensP50: null });
    expect(turns[1]).toMatchObject({ turn: 2, ok: 2, failed: 1, ttftMsP50: 20.5, cachedTokensP50: 1000 });
  });
});

/** A fake server that answers each turn with a usage chunk: cached = the previous prompt's size. */
function answer(body: Record<string, unknown>, res: http.ServerResponse, callTool: boolean): void {
  const messages = body["messages"] as unknown[];
  res.writeHead(200, { "content-type": "text/event-stream" });
  res.write(
    chunk(
      callTool
        ? {
            tool_calls: [
              { index: 0, id: "call_m", function: { name: "list_dir", arguments: '{"path":"."}' } },
            ],
          }
        : { content: "thinking out loud" },
    ),
  );
  const prompt = 100 * messages.length;
  const usage = {
    prompt_tokens: prompt,
    completion_tokens: 3,
    prompt_tokens_details: { cached_tokens: prompt - 200 },
  };
  res.write(`data: ${JSON.stringify({ choices: [], usage })}\n\n`);
  res.end("data: [DONE]\n\n");
}

describe("runAgentScenario", () => {
  it("runs the sessions' turns in order with tools and usage, and reports cached_tokens per turn", async () => {
    const bodies: Array<Record<string, unknown>> = [];
    server = await startFakeOpenAiServerForTest((body, res) => {
      bodies.push(body);
      answer(body, res, bodies.length % 2 === 0);
    });
    client = new TargetClient(server.url);
    const report = await runAgentScenario(
      { client, model: "fake-model" },
      {
        agent: { turns: 3, sessions: 2, toolResultTokens: 10 },
        maxTokens: 8,
        seed: 1,
        requestTimeoutMs: 5000,
      },
      prompts,
      realClock,
      () => {},
    );
    expect(bodies).toHaveLength(6);
    expect(bodies[0]).toMatchObject({
      tools: AGENT_TOOLS,
      stream_options: { include_usage: true },
      max_tokens: 8,
    });
    expect(report.records.every((r) => r.ok)).toBe(true);
    expect(report.turns.map((t) => t.promptTokensP50)).toEqual([200, 400, 600]);
    expect(report.turns.map((t) => t.cachedTokensP50)).toEqual([0, 200, 400]);
    expect(report.turns.reduce((n, t) => n + t.modelToolCalls, 0)).toBe(3);
    const full: AgentReport = {
      tool: "gpt-oss-server bench",
      scenario: "agent",
      startedAt: "now",
      targets: [{ url: report.target, model: "fake-model" }],
      settings: {},
      results: [report],
    };
    expect(renderAgentTable(full)).toMatch(/TTFT p50 at turn 3 .* cached_tokens 400 of 600 prompt tokens/);
  });

  it("shows n/a for a server that reports no cached_tokens", async () => {
    server = await startFakeOpenAiServerForTest((_body, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(chunk({ content: "hi" }));
      res.write(
        `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 50, completion_tokens: 1 } })}\n\n`,
      );
      res.end("data: [DONE]\n\n");
    });
    client = new TargetClient(server.url);
    const report = await runAgentScenario(
      { client, model: "fake-model" },
      {
        agent: { turns: 2, sessions: 1, toolResultTokens: 5 },
        maxTokens: 8,
        seed: 1,
        requestTimeoutMs: 5000,
      },
      prompts,
      realClock,
      () => {},
    );
    expect(report.turns.map((t) => t.cachedTokensP50)).toEqual([null, null]);
  });
});
