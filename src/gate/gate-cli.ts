/**
 * The gate's command-line flags (commander) and their translation into GateOptions. Defaults
 * depend on the mode and on --quick; every threshold and load setting can be overridden.
 */
import { Command, Option } from "commander";
import type { ArrivalProcess } from "./arrival-schedule.ts";
import { PERSONAL_THRESHOLDS, PRODUCTION_THRESHOLDS, type GateMode, type GateOptions } from "./gate-types.ts";

/** Raw values as commander hands them over (strings; booleans for switches). */
export type RawFlags = Record<string, unknown>;

export function parseNumber(name: string, value: unknown, { min = 0, integer = false } = {}): number {
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw new Error(
      `--${name} must be ${integer ? "an integer" : "a number"} >= ${min}, got '${String(value)}'`,
    );
  }
  return n;
}

export function parseList(name: string, value: unknown): number[] {
  const list = String(value)
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((s) => parseNumber(name, s, { min: 1, integer: true }));
  if (list.length === 0) throw new Error(`--${name} needs at least one value`);
  return list;
}

/** --url, or its alias --endpoint (the seed's procedure says --endpoint). */
export function targetUrl(flags: RawFlags, command: string): string {
  const url = flags["url"] ?? flags["endpoint"];
  if (typeof url !== "string" || url === "") throw new Error(`${command} needs --url <url> (or --endpoint)`);
  return url;
}

export function addTargetOptions(cmd: Command): Command {
  return cmd
    .option("--url <url>", "server base URL, e.g. http://localhost:8000")
    .option("--endpoint <url>", "alias of --url")
    .option("--model <id>", "model to request (default: the first id of GET /v1/models)")
    .option("--api-key <key>", "sent as 'Authorization: Bearer <key>'")
    .option("--no-fixed-output", "do not send ignore_eos (for servers that reject it, e.g. OpenAI)")
    .option("--timeout <s>", "per-request deadline in seconds")
    .option("--json <file>", "write the JSON report here")
    .option("--markdown <file>", "write the markdown report here")
    .option("--seed <n>", "seed of the arrival schedule and prompts", "1")
    .option("--verbose", "one line per request");
}

export function addGateOptions(cmd: Command): Command {
  return addTargetOptions(cmd)
    .addOption(
      new Option(
        "--mode <mode>",
        "gate mode (seed: v4.5.1's test procedure, --suite 1 for 20b or 2 for 120b, with its own requests)",
      )
        .choices(["personal", "production", "seed"])
        .default("personal"),
    )
    .addOption(
      new Option("--suite <n>", "seed mode: the procedure's test suite").choices(["1", "2"]).default("1"),
    )
    .option(
      "--expect-model <size>",
      "seed mode: /health current_model expected (suite 1: 20b, suite 2: 120b)",
    )
    .option(
      "--expect-gpu-mode <mode>",
      "seed mode: /health gpu_mode expected (suite 1: pipeline, suite 2: tensor)",
    )
    .option(
      "--expect-profile <name>",
      "seed mode: the server's default profile (suite 1: latency_first, suite 2: quality_first)",
    )
    .option("--quick", "short phases (a few seconds each, small outputs): a smoke test, not a release gate")
    .option(
      "--rate <req/s>",
      "offered rate: stability phase (personal, default 0.5) or soak (production, default 2)",
    )
    .option("--spike-rate <req/s>", "production spike rate (default 2x --rate)")
    .option("--duration <s>", "stability phase / soak length (default 60 / 300; quick 6 / 15)")
    .option("--window <s>", "stability window length (default 10 / 30; quick 2 / 3)")
    .option("--max-tokens <n>", "output tokens per request (default 128; quick 16)")
    .option("--samples <n>", "personal: requests per profile (streams: twice as many)")
    .option("--steps <list>", "production concurrency steps (default 1,2,4,8,16; quick 1,2,4)")
    .option("--step-duration <s>", "production: seconds per concurrency step and of the spike")
    .addOption(
      new Option("--arrival <process>", "open-loop arrivals")
        .choices(["poisson", "uniform"])
        .default("poisson"),
    )
    .option("--wait-ready <s>", "wait this long while the server loads its model", "120")
    .option("--min-qps <req/s>", "threshold: sustained QPS (personal 0.3, production 1.8)")
    .option("--max-p95-ttft <s>", "threshold: p95 time to first token (personal 10)")
    .option("--max-p95-e2e <s>", "threshold: p95 end-to-end latency (personal 30, production 20)")
    .option("--max-error-rate <fraction>", "threshold: error rate (personal 0.01, production 0.005)")
    .option("--min-stable-windows <fraction>", "threshold: production stable windows (0.95)");
}

const seconds = (flags: RawFlags, name: string, key: string, fallback: number): number =>
  flags[key] === undefined ? fallback : parseNumber(name, flags[key]) * 1000;

/** GateOptions from commander's values (camelCased keys), applying the mode's and --quick's defaults. */
export function gateOptionsFrom(flags: RawFlags): GateOptions {
  const mode = (flags["mode"] ?? "personal") as GateMode;
  const quick = flags["quick"] === true;
  const personal = mode !== "production";
  const base = personal ? PERSONAL_THRESHOLDS : PRODUCTION_THRESHOLDS;
  const num = (key: string, name: string): number | undefined =>
    flags[key] === undefined ? undefined : parseNumber(name, flags[key]);
  const ttft = num("maxP95Ttft", "max-p95-ttft");
  const e2e = num("maxP95E2e", "max-p95-e2e");
  const rate = num("rate", "rate") ?? (personal ? (quick ? 1 : 0.5) : 2);
  const maxTtft = ttft !== undefined ? ttft * 1000 : base.maxP95TtftMs;
  const options: GateOptions = {
    url: targetUrl(flags, "gate"),
    mode,
    quick,
    verbose: flags["verbose"] === true,
    thresholds: {
      minQps: num("minQps", "min-qps") ?? base.minQps,
      ...(maxTtft !== undefined ? { maxP95TtftMs: maxTtft } : {}),
      maxP95E2eMs: e2e !== undefined ? e2e * 1000 : base.maxP95E2eMs,
      maxErrorRate: num("maxErrorRate", "max-error-rate") ?? base.maxErrorRate,
      minStableWindows: num("minStableWindows", "min-stable-windows") ?? base.minStableWindows,
    },
    rate,
    spikeRate: num("spikeRate", "spike-rate") ?? rate * 2,
    durationMs: seconds(
      flags,
      "duration",
      "duration",
      personal ? (quick ? 6_000 : 60_000) : quick ? 15_000 : 300_000,
    ),
    windowMs: seconds(
      flags,
      "window",
      "window",
      personal ? (quick ? 2_000 : 10_000) : quick ? 3_000 : 30_000,
    ),
    maxTokens:
      flags["maxTokens"] === undefined
        ? quick
          ? 16
          : 128
        : parseNumber("max-tokens", flags["maxTokens"], { min: 1, integer: true }),
    arrival: (flags["arrival"] ?? "poisson") as ArrivalProcess,
    seed: parseNumber("seed", flags["seed"] ?? 1, { integer: true }),
    fixedOutput: flags["fixedOutput"] !== false,
    requestTimeoutMs: seconds(flags, "timeout", "timeout", quick ? 60_000 : 120_000),
    steps:
      flags["steps"] === undefined
        ? quick
          ? [1, 2, 4]
          : [1, 2, 4, 8, 16]
        : parseList("steps", flags["steps"]),
    samples:
      flags["samples"] === undefined
        ? quick
          ? 2
          : 5
        : parseNumber("samples", flags["samples"], { min: 1, integer: true }),
    stepMs: seconds(flags, "step-duration", "stepDuration", quick ? 3_000 : 20_000),
    waitReadyMs: seconds(flags, "wait-ready", "waitReady", 120_000),
    suite: flags["suite"] === "2" || flags["suite"] === 2 ? 2 : 1,
    seedExpect: {
      ...(typeof flags["expectModel"] === "string" ? { currentModel: flags["expectModel"] } : {}),
      ...(typeof flags["expectGpuMode"] === "string" ? { gpuMode: flags["expectGpuMode"] } : {}),
      ...(typeof flags["expectProfile"] === "string" ? { defaultProfile: flags["expectProfile"] } : {}),
    },
  };
  if (!(options.rate > 0)) throw new Error("--rate must be > 0");
  if (typeof flags["apiKey"] === "string") options.apiKey = flags["apiKey"];
  if (typeof flags["model"] === "string") options.model = flags["model"];
  if (typeof flags["json"] === "string") options.jsonFile = flags["json"];
  if (typeof flags["markdown"] === "string") options.markdownFile = flags["markdown"];
  return options;
}
