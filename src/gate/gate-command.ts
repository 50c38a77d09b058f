/**
 * `gpt-oss-server gate`: probe → health → the mode's phases → table, JSON and markdown reports.
 * Exit codes: 0 passed, 1 failed (the report names the failing phases), 2 nothing answered at --url.
 */
import { writeFile } from "node:fs/promises";
import { realClock, type GateClock } from "./gate-clock.ts";
import type { GateContext } from "./gate-context.ts";
import { healthPhase } from "./gate-health.ts";
import { personalPhases } from "./gate-personal.ts";
import { productionPhases } from "./gate-production.ts";
import { SEED_EXPECTATIONS, seedPhases } from "./gate-seed.ts";
import { renderGateMarkdown, renderGateTable } from "./gate-report.ts";
import type { GateOptions, GateReport, PhaseReport } from "./gate-types.ts";
import { TargetClient, TargetUnreachableError } from "./target-client.ts";
import { probeTarget } from "./target-probe.ts";

export const EXIT_PASSED = 0;
export const EXIT_FAILED = 1;
export const EXIT_UNREACHABLE = 2;

export interface CommandIo {
  out: (text: string) => void;
  err: (text: string) => void;
  clock: GateClock;
}

export const processIo: CommandIo = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  clock: realClock,
};

export async function runGate(options: GateOptions, io: CommandIo = processIo): Promise<number> {
  const clock = io.clock;
  const client = new TargetClient(
    options.url,
    options.apiKey !== undefined ? { apiKey: options.apiKey } : {},
  );
  const started = clock.now();
  const startedAt = new Date().toISOString();
  try {
    const suite = options.mode === "seed" ? ` suite ${options.suite}` : "";
    io.err(`gate: ${options.mode} mode${suite}${options.quick ? " (quick)" : ""} against ${client.baseUrl}`);
    let target;
    try {
      target = await probeTarget(client, {
        ...(options.model !== undefined ? { model: options.model } : {}),
        waitReadyMs: options.waitReadyMs,
        clock,
        log: io.err,
      });
    } catch (error) {
      if (!(error instanceof TargetUnreachableError)) throw error;
      io.err(`gate: cannot reach ${client.baseUrl}: ${error.message}`);
      return EXIT_UNREACHABLE;
    }
    const ctx: GateContext = { client, target, options, clock, log: io.err };
    const phases: PhaseReport[] = [await healthPhase(ctx, started)];
    io.err(`[health] ${phases[0]?.status.toUpperCase()} (model ${target.model || "none"})`);
    if (phases[0]?.status === "pass") {
      phases.push(
        ...(options.mode === "personal"
          ? await personalPhases(ctx)
          : options.mode === "seed"
            ? await seedPhases(ctx)
            : await productionPhases(ctx)),
      );
    } else {
      phases[0]?.notes.push("the other phases did not run: the server is not ready to be tested");
    }
    const failedPhases = phases.filter((p) => p.status === "fail").map((p) => p.name);
    const report: GateReport = {
      tool: "gpt-oss-server gate",
      mode: options.mode,
      quick: options.quick,
      url: client.baseUrl,
      model: target.model,
      serverExtras: target.extras,
      randomWeights: target.randomWeights,
      startedAt,
      durationS: Math.round((clock.now() - started) / 100) / 10,
      thresholds: options.thresholds,
      settings: settingsOf(options),
      passed: failedPhases.length === 0,
      failedPhases,
      phases,
    };
    io.out(renderGateTable(report));
    if (options.jsonFile !== undefined)
      await writeFile(options.jsonFile, `${JSON.stringify(report, null, 2)}\n`);
    if (options.markdownFile !== undefined) await writeFile(options.markdownFile, renderGateMarkdown(report));
    return report.passed ? EXIT_PASSED : EXIT_FAILED;
  } finally {
    client.close();
  }
}

function settingsOf(o: GateOptions): Record<string, unknown> {
  if (o.mode === "seed") {
    return {
      suite: o.suite,
      expect: { ...SEED_EXPECTATIONS[o.suite], ...o.seedExpect },
      model: o.model ?? "the seed's (gpt-oss-20b, gpt-oss-120b)",
      request_timeout_s: o.requestTimeoutMs / 1000,
    };
  }
  return {
    rate: o.rate,
    spike_rate: o.spikeRate,
    duration_s: o.durationMs / 1000,
    window_s: o.windowMs / 1000,
    max_tokens: o.maxTokens,
    arrival: o.arrival,
    seed: o.seed,
    fixed_output: o.fixedOutput,
    request_timeout_s: o.requestTimeoutMs / 1000,
    samples: o.samples,
    steps: o.steps,
    step_s: o.stepMs / 1000,
  };
}
