/**
 * `gpt-oss-server bench`: a concurrency or rate sweep with exact-length prompts, optionally
 * interleaved against a second server (--compare) so that both see the same machine conditions.
 * Exit codes: 0 measured, 1 every request failed, 2 a target did not answer.
 */
import { writeFile } from "node:fs/promises";
import { planLevel, runLevel, type BenchTarget } from "./bench-runner.ts";
import { levelName, renderBenchMarkdown, renderBenchTable } from "./bench-report.ts";
import { renderAgentMarkdown, renderAgentTable } from "./agent-report.ts";
import { runAgentScenario } from "./agent-scenario.ts";
import type {
  AgentReport,
  AgentTargetReport,
  BenchOptions,
  BenchReport,
  LevelReport,
} from "./bench-types.ts";
import { fmtMs, fmtNum } from "./checks.ts";
import { EXIT_FAILED, EXIT_PASSED, EXIT_UNREACHABLE, processIo, type CommandIo } from "./gate-command.ts";
import { PromptFactory } from "./prompt-factory.ts";
import { TargetClient, TargetUnreachableError } from "./target-client.ts";

async function openTarget(
  url: string,
  model: string | undefined,
  apiKey: string | undefined,
): Promise<BenchTarget> {
  const client = new TargetClient(url, apiKey !== undefined ? { apiKey } : {});
  if (model !== undefined) {
    await client.getJson("/v1/models", 10_000);
    return { client, model };
  }
  const listed = await client.getJson("/v1/models", 10_000);
  const first = (listed.body as { data?: Array<{ id?: unknown }> } | undefined)?.data?.[0]?.id;
  if (typeof first !== "string") {
    client.close();
    throw new Error(`${url}: GET /v1/models answered HTTP ${listed.status} with no model id; pass --model`);
  }
  return { client, model: first };
}

export async function runBench(options: BenchOptions, io: CommandIo = processIo): Promise<number> {
  const targets: BenchTarget[] = [];
  try {
    try {
      targets.push(await openTarget(options.url, options.model, options.apiKey));
      if (options.compareUrl !== undefined) {
        targets.push(
          await openTarget(options.compareUrl, options.compareModel ?? options.model, options.apiKey),
        );
      }
    } catch (error) {
      if (!(error instanceof TargetUnreachableError)) throw error;
      io.err(`bench: cannot reach the server: ${error.message}`);
      return EXIT_UNREACHABLE;
    }
    const prompts = new PromptFactory();
    io.err("bench: loading the gpt-oss tokenizer for exact-length prompts");
    prompts.load();
    if (options.scenario === "agent") return await runAgentBench(targets, options, prompts, io);
    for (const t of targets) {
      for (let i = 0; i < options.warmup; i++) {
        const [warm] = planLevel(options, { kind: "concurrency", value: 1 }, 999 + i, prompts);
        if (warm !== undefined)
          await t.client.chat({ ...warmBody(t, warm.prompt) }, { timeoutMs: options.requestTimeoutMs });
      }
    }
    const startedAt = new Date().toISOString();
    const levels: LevelReport[] = [];
    for (const [i, level] of options.levels.entries()) {
      const plan = planLevel(options, level, i, prompts);
      // Alternate who goes first, so a drift in the machine's load does not always favour one.
      const order = i % 2 === 1 ? [...targets].reverse() : targets;
      for (const t of order) {
        io.err(`bench: ${t.client.baseUrl} ${levelName(level)}: ${plan.length} requests`);
        const result = await runLevel(t, level, plan, options, io.clock, io.err);
        io.err(
          `  ${result.stats.requests - result.stats.failed}/${result.stats.requests} ok, ` +
            `TTFT p50 ${fmtMs(result.stats.ttftMs.p50)}, ${fmtNum(result.stats.outputTokensPerS, 1)} out tok/s` +
            (result.errors.length > 0 ? `, errors: ${result.errors.join("; ")}` : ""),
        );
        levels.push(result);
      }
    }
    levels.sort(
      (a, b) =>
        targets.findIndex((t) => t.client.baseUrl === a.target) -
        targets.findIndex((t) => t.client.baseUrl === b.target),
    );
    const report: BenchReport = {
      tool: "gpt-oss-server bench",
      startedAt,
      targets: targets.map((t) => ({ url: t.client.baseUrl, model: t.model })),
      settings: {
        prompt_tokens: spec(options.promptTokens),
        max_tokens: spec(options.maxTokens),
        fixed_output: options.fixedOutput,
        temperature: options.temperature ?? "server default",
        top_p: options.topP ?? "server default",
        slo_ttft_ms: options.sloTtftMs,
        slo_tpot_ms: options.sloTpotMs,
        arrival: options.arrival,
        seed: options.seed,
        requests_per_level: options.requests ?? "auto",
      },
      levels,
    };
    io.out(renderBenchTable(report));
    if (options.jsonFile !== undefined)
      await writeFile(options.jsonFile, `${JSON.stringify(report, null, 2)}\n`);
    if (options.markdownFile !== undefined)
      await writeFile(options.markdownFile, renderBenchMarkdown(report));
    return levels.every((l) => l.stats.failed === l.stats.requests) ? EXIT_FAILED : EXIT_PASSED;
  } finally {
    for (const t of targets) t.client.close();
  }
}

/** The agent replay against each target in turn (A first), after one unmeasured request each. */
async function runAgentBench(
  targets: readonly BenchTarget[],
  options: BenchOptions,
  prompts: PromptFactory,
  io: CommandIo,
): Promise<number> {
  const startedAt = new Date().toISOString();
  const results: AgentTargetReport[] = [];
  for (const t of targets) {
    for (let i = 0; i < options.warmup; i++) {
      await t.client.chat(warmBody(t, `warm-up ${i}`), { timeoutMs: options.requestTimeoutMs });
    }
    const { sessions, turns } = options.agent;
    io.err(`bench: ${t.client.baseUrl} agent replay: ${sessions} sessions x ${turns} turns`);
    const result = await runAgentScenario(
      t,
      {
        agent: options.agent,
        maxTokens: options.maxTokens.min,
        seed: options.seed,
        requestTimeoutMs: options.requestTimeoutMs,
        ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
        ...(options.topP !== undefined ? { topP: options.topP } : {}),
      },
      prompts,
      io.clock,
      options.verbose ? io.err : () => {},
    );
    const last = result.turns[result.turns.length - 1];
    io.err(
      `  ${result.records.filter((r) => r.ok).length}/${result.records.length} turns ok in ${result.durationS} s, ` +
        `TTFT p50 at the last turn ${fmtMs(last?.ttftMsP50 ?? null)}`,
    );
    results.push(result);
  }
  const report: AgentReport = {
    tool: "gpt-oss-server bench",
    scenario: "agent",
    startedAt,
    targets: targets.map((t) => ({ url: t.client.baseUrl, model: t.model })),
    settings: {
      sessions: options.agent.sessions,
      turns: options.agent.turns,
      tool_result_tokens: options.agent.toolResultTokens,
      max_tokens: options.maxTokens.min,
      temperature: options.temperature ?? "server default",
      top_p: options.topP ?? "server default",
      seed: options.seed,
    },
    results,
  };
  io.out(renderAgentTable(report));
  if (options.jsonFile !== undefined)
    await writeFile(options.jsonFile, `${JSON.stringify(report, null, 2)}\n`);
  if (options.markdownFile !== undefined) await writeFile(options.markdownFile, renderAgentMarkdown(report));
  return results.every((r) => r.records.every((x) => !x.ok)) ? EXIT_FAILED : EXIT_PASSED;
}

function warmBody(t: BenchTarget, prompt: string): Record<string, unknown> {
  return { model: t.model, messages: [{ role: "user", content: prompt }], max_tokens: 4, stream: false };
}

function spec(s: { min: number; max: number }): string {
  return s.min === s.max ? String(s.min) : `${s.min}-${s.max}`;
}
