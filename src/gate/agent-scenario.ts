/**
 * `bench --scenario agent`: the agent replay of issue 14. `sessions` agent loops at once against
 * one target; within a session the turns run in sequence, each a streamed chat completion with
 * `tools` over the whole transcript so far, which then grows by a tool call and its result
 * (agent-transcript.ts). What matters is how TTFT holds up as the transcript grows: a server whose
 * prefix cache keeps each session's previous prompt only prefills the new tail.
 */
import type {
  AgentScenarioOptions,
  AgentTargetReport,
  AgentTurnRecord,
  AgentTurnSummary,
} from "./bench-types.ts";
import type { BenchTarget } from "./bench-runner.ts";
import { AgentTranscript, AGENT_TOOLS } from "./agent-transcript.ts";
import type { GateClock } from "./gate-clock.ts";
import type { PromptFactory } from "./prompt-factory.ts";
import { percentile, ttftMs } from "./stats-math.ts";

export interface AgentRunOptions {
  agent: AgentScenarioOptions;
  maxTokens: number;
  seed: number;
  temperature?: number;
  topP?: number;
  requestTimeoutMs: number;
}

function p50(values: ReadonlyArray<number | null>): number | null {
  const present = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
  return present.length === 0 ? null : percentile(present, 50);
}

/** Per-turn medians over the sessions; failed turns count as failed and stay out of the medians. */
export function summarizeTurns(records: readonly AgentTurnRecord[], turns: number): AgentTurnSummary[] {
  return Array.from({ length: turns }, (_, i) => {
    const all = records.filter((r) => r.turn === i + 1);
    const ok = all.filter((r) => r.ok);
    return {
      turn: i + 1,
      ok: ok.length,
      failed: all.length - ok.length,
      ttftMsP50: p50(ok.map((r) => r.ttftMs)),
      e2eMsP50: p50(ok.map((r) => r.e2eMs)),
      promptTokensP50: p50(ok.map((r) => r.promptTokens)),
      cachedTokensP50: p50(ok.map((r) => r.cachedTokens)),
      completionTokensP50: p50(ok.map((r) => r.completionTokens)),
      modelToolCalls: all.filter((r) => r.toolCallFromModel).length,
    };
  });
}

export async function runAgentScenario(
  target: BenchTarget,
  options: AgentRunOptions,
  prompts: PromptFactory,
  clock: GateClock,
  log: (line: string) => void,
): Promise<AgentTargetReport> {
  const { turns, sessions } = options.agent;
  const transcripts = Array.from(
    { length: sessions },
    (_, session) =>
      new AgentTranscript(
        { session, seed: options.seed, turns, toolResultTokens: options.agent.toolResultTokens },
        prompts,
      ),
  );
  const records: AgentTurnRecord[] = [];
  const started = clock.now();
  await Promise.all(
    transcripts.map(async (transcript, session) => {
      for (let turn = 1; turn <= turns; turn++) {
        const r = await target.client.chat(
          {
            model: target.model,
            messages: transcript.messages,
            tools: AGENT_TOOLS,
            max_tokens: options.maxTokens,
            stream: true,
            stream_options: { include_usage: true },
            ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
            ...(options.topP !== undefined ? { top_p: options.topP } : {}),
          },
          { timeoutMs: options.requestTimeoutMs },
        );
        // A failed turn still grows the transcript (synthetically), so later turns stay comparable.
        const { fromModel } = transcript.advance(r.ok ? r.toolCalls : undefined);
        const record: AgentTurnRecord = {
          session,
          turn,
          ok: r.ok,
          ttftMs: ttftMs(r) ?? null,
          e2eMs: r.endAt - r.sentAt,
          promptTokens: r.promptTokens ?? null,
          cachedTokens: r.cachedTokens ?? null,
          completionTokens: r.outputTokens,
          toolCallFromModel: fromModel,
        };
        if (!r.ok) record.error = r.error ?? `HTTP ${r.status}`;
        records.push(record);
        log(
          `    session ${session} turn ${turn}: ${r.ok ? "ok" : `FAILED ${record.error ?? ""}`}, ` +
            `TTFT ${record.ttftMs === null ? "n/a" : Math.round(record.ttftMs)} ms, prompt ${record.promptTokens ?? "n/a"}, ` +
            `cached ${record.cachedTokens ?? "n/a"}`,
        );
      }
    }),
  );
  records.sort((a, b) => a.session - b.session || a.turn - b.turn);
  return {
    target: target.client.baseUrl,
    model: target.model,
    durationS: Math.round((clock.now() - started) / 100) / 10,
    turns: summarizeTurns(records, turns),
    records,
    errors: [...new Set(records.flatMap((r) => (r.error === undefined ? [] : [r.error])))].slice(0, 5),
  };
}
