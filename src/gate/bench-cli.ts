/** The bench's command-line flags and their translation into BenchOptions. */
import { Command, Option } from "commander";
import type { ArrivalProcess } from "./arrival-schedule.ts";
import type { BenchLevel, BenchOptions, LengthSpec } from "./bench-types.ts";
import { addTargetOptions, parseList, parseNumber, targetUrl, type RawFlags } from "./gate-cli.ts";

/** "512" → 512..512; "128-1024" → a uniform range. */
export function parseLengthSpec(name: string, value: unknown): LengthSpec {
  const text = String(value).trim();
  const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(text);
  if (m === null) throw new Error(`--${name} must be N or MIN-MAX, got '${text}'`);
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : Number(m[2]);
  if (max < min) throw new Error(`--${name}: ${max} < ${min}`);
  return { min, max };
}

export function addBenchOptions(cmd: Command): Command {
  return addTargetOptions(cmd)
    .addOption(
      new Option("--scenario <name>", "sweep: concurrency/rate levels; agent: the agent replay")
        .choices(["sweep", "agent"])
        .default("sweep"),
    )
    .option("--turns <n>", "agent: turns per session", "15")
    .option("--sessions <n>", "agent: sessions at once", "4")
    .option("--tool-result-tokens <n>", "agent: gpt-oss tokens of each tool result", "300")
    .option("--compare <url>", "a second server: same plan, interleaved, with B/A ratios")
    .option("--compare-model <id>", "model to request from the --compare server")
    .option("--concurrency <list>", "closed-loop levels: concurrent streams", "1,8,32,64")
    .option("--rate <list>", "open-loop levels instead: requests/s, e.g. 0.5,1,2")
    .addOption(
      new Option("--arrival <process>", "open-loop arrivals")
        .choices(["poisson", "uniform"])
        .default("poisson"),
    )
    .option("--requests <n>", "requests per level (default 4x concurrency, at least 8; 10 s worth for rates)")
    .option(
      "--prompt-tokens <n|min-max>",
      "user-message length in gpt-oss tokens (exact), or a uniform range",
      "512",
    )
    .option("--max-tokens <n|min-max>", "output tokens per request, or a uniform range", "128")
    .option("--temperature <t>", "sampling temperature sent with every request (default: the server's)")
    .option("--top-p <p>", "top_p sent with every request (default: the server's)")
    .option("--slo-ttft <ms>", "goodput SLO: time to first token", "2000")
    .option("--slo-tpot <ms>", "goodput SLO: time per output token", "100")
    .option("--warmup <n>", "unmeasured requests per server first", "1");
}

export function benchOptionsFrom(flags: RawFlags): BenchOptions {
  const rates = flags["rate"];
  const levels: BenchLevel[] =
    typeof rates === "string"
      ? rates
          .split(",")
          .map((s) => ({ kind: "rate" as const, value: parseNumber("rate", s.trim(), { min: 0.001 }) }))
      : parseList("concurrency", flags["concurrency"] ?? "1,8,32,64").map((value) => ({
          kind: "concurrency" as const,
          value,
        }));
  const options: BenchOptions = {
    scenario: flags["scenario"] === "agent" ? "agent" : "sweep",
    agent: {
      turns: parseNumber("turns", flags["turns"] ?? 15, { min: 1, integer: true }),
      sessions: parseNumber("sessions", flags["sessions"] ?? 4, { min: 1, integer: true }),
      toolResultTokens: parseNumber("tool-result-tokens", flags["toolResultTokens"] ?? 300, {
        min: 1,
        integer: true,
      }),
    },
    url: targetUrl(flags, "bench"),
    levels,
    promptTokens: parseLengthSpec("prompt-tokens", flags["promptTokens"] ?? "512"),
    maxTokens: parseLengthSpec("max-tokens", flags["maxTokens"] ?? "128"),
    fixedOutput: flags["fixedOutput"] !== false,
    sloTtftMs: parseNumber("slo-ttft", flags["sloTtft"] ?? 2000),
    sloTpotMs: parseNumber("slo-tpot", flags["sloTpot"] ?? 100),
    arrival: (flags["arrival"] ?? "poisson") as ArrivalProcess,
    seed: parseNumber("seed", flags["seed"] ?? 1, { integer: true }),
    warmup: parseNumber("warmup", flags["warmup"] ?? 1, { integer: true }),
    requestTimeoutMs:
      flags["timeout"] === undefined ? 300_000 : parseNumber("timeout", flags["timeout"]) * 1000,
    verbose: flags["verbose"] === true,
  };
  if (options.maxTokens.min < 1) throw new Error("--max-tokens must be >= 1");
  if (flags["temperature"] !== undefined) {
    options.temperature = parseNumber("temperature", flags["temperature"], { min: 0 });
  }
  if (flags["topP"] !== undefined) options.topP = parseNumber("top-p", flags["topP"], { min: 0 });
  if (flags["requests"] !== undefined) {
    options.requests = parseNumber("requests", flags["requests"], { min: 1, integer: true });
  }
  for (const [key, field] of [
    ["compare", "compareUrl"],
    ["compareModel", "compareModel"],
    ["model", "model"],
    ["apiKey", "apiKey"],
    ["json", "jsonFile"],
    ["markdown", "markdownFile"],
  ] as const) {
    const value = flags[key];
    if (typeof value === "string") options[field] = value;
  }
  return options;
}
