/**
 * argv → commands. `serve` is the default command, so the seed's command line
 * (`--engine custom --profile latency_first --model 20b --port 8000`) works unchanged.
 */
import { Command, Option } from "commander";
import type { RenderArgs } from "./render-command.ts";
import type { ConfigKey } from "../config/schema.ts";
import { CORE_TYPES, ENGINE_PROCESS_MODES, ENGINE_TYPES, GPU_MODES, LOG_FORMATS } from "../config/schema.ts";
import { PROFILE_NAMES } from "../config/profiles.ts";
import { envName } from "../config/load.ts";
import { addBenchOptions, benchOptionsFrom } from "../gate/bench-cli.ts";
import type { BenchOptions } from "../gate/bench-types.ts";
import { addGateOptions, gateOptionsFrom } from "../gate/gate-cli.ts";
import type { GateOptions } from "../gate/gate-types.ts";

export interface ServeArgs {
  flags: Partial<Record<ConfigKey, unknown>>;
  configFile?: string;
}

export interface CliHandlers {
  serve(args: ServeArgs): Promise<number>;
  makeModel(args: { size: string; out: string; seed: number; denseType: string }): Promise<number>;
  /** Prints the harmony prompt of a chat request: 0 done, 2 bad request. */
  render(args: RenderArgs): number;
  /** Release gate: 0 passed, 1 failed, 2 server unreachable. */
  gate(options: GateOptions): Promise<number>;
  /** Load benchmark: 0 measured, 1 every request failed, 2 server unreachable. */
  bench(options: BenchOptions): Promise<number>;
}

/** One serve flag: its config key, the text --help shows, and how to parse it. */
const SERVE_FLAGS: Array<{
  key: ConfigKey;
  flag: string;
  help: string;
  choices?: readonly string[];
  number?: boolean;
  /** Repeatable: every occurrence is collected into a list. */
  list?: boolean;
}> = [
  {
    key: "engine",
    flag: "--engine <type>",
    help: "engine: custom (embedded llama.cpp), vllm, auto, fake (tests)",
    choices: ENGINE_TYPES,
  },
  {
    key: "core",
    flag: "--core <core>",
    help: "embedded engine's decode core: native (falls back to node-llama-cpp when not built), node-llama-cpp",
    choices: CORE_TYPES,
  },
  {
    key: "engineProcess",
    flag: "--engine-process <mode>",
    help: "worker: the engine in a supervised child process (a crash costs a restart, not the server); inline: in this process (debugging)",
    choices: ENGINE_PROCESS_MODES,
  },
  { key: "profile", flag: "--profile <name>", help: "default profile", choices: PROFILE_NAMES },
  {
    key: "model",
    flag: "--model <models>",
    help: "tiny | 20b | 120b | path/to/file.gguf; several comma-separated or the flag repeated (20b,120b): each its own engine",
    list: true,
  },
  { key: "gpuMode", flag: "--gpu-mode <mode>", help: "GPU use", choices: GPU_MODES },
  { key: "host", flag: "--host <host>", help: "bind address" },
  { key: "port", flag: "--port <port>", help: "port (0 picks a free one)", number: true },
  {
    key: "apiKey",
    flag: "--api-key <key>",
    help: "require 'Authorization: Bearer <key>' on every route but /health/live and /health/ready (repeat for several keys)",
    list: true,
  },
  {
    key: "apiKeyFile",
    flag: "--api-key-file <file>",
    help: "API keys, one a line (# comments), besides --api-key",
  },
  {
    key: "metricsKey",
    flag: "--metrics-key <key>",
    help: "a Bearer key that opens /metrics only (for a scraper)",
  },
  {
    key: "bodyTimeoutMs",
    flag: "--body-timeout <ms>",
    help: "cut a request body that sends nothing for this long (408)",
    number: true,
  },
  {
    key: "maxConnections",
    flag: "--max-connections <n>",
    help: "refuse connections beyond this many open ones (0 = no cap)",
    number: true,
  },
  { key: "logFile", flag: "--log-file <dir>", help: "also write JSON logs to <dir>/server_<timestamp>.log" },
  { key: "logLevel", flag: "--log-level <level>", help: "fatal, error, warn, info, debug, trace, silent" },
  {
    key: "logFormat",
    flag: "--log-format <format>",
    help: "stdout lines: auto (readable on a terminal, JSON when piped), pretty, json; --log-file is always JSON",
    choices: LOG_FORMATS,
  },
  {
    key: "sloErrorRate",
    flag: "--slo-error-rate <fraction>",
    help: "SLO: most failed requests (0.01 = 1%) before the health score drops and an alert fires",
    number: true,
  },
  {
    key: "sloP95TtftMs",
    flag: "--slo-p95-ttft-ms <ms>",
    help: "SLO: p95 time to first token",
    number: true,
  },
  { key: "sloP95E2eMs", flag: "--slo-p95-e2e-ms <ms>", help: "SLO: p95 end-to-end time", number: true },
  {
    key: "sloP95QueueMs",
    flag: "--slo-p95-queue-ms <ms>",
    help: "SLO: p95 wait in the queue for a slot (alerts only)",
    number: true,
  },
  {
    key: "alertWindowSeconds",
    flag: "--alert-window <seconds>",
    help: "SLO alerts judge the requests of the last this many seconds",
    number: true,
  },
  {
    key: "alertIntervalMs",
    flag: "--alert-interval <ms>",
    help: "how often SLO alerts are evaluated",
    number: true,
  },
  {
    key: "alertMinRequests",
    flag: "--alert-min-requests <n>",
    help: "fewer requests than this in the alert window are too few to judge (no alert)",
    number: true,
  },
  {
    key: "alertWebhook",
    flag: "--alert-webhook <url>",
    help: "POST each SLO alert's start and end here as JSON (retried 3 times, never blocking requests)",
  },
  {
    key: "alertWebhookKeyFile",
    flag: "--alert-webhook-key-file <file>",
    help: "a Bearer key for --alert-webhook, read from this file",
  },
  {
    key: "otlpEndpoint",
    flag: "--otlp-endpoint <url>",
    help: "send OpenTelemetry traces (OTLP/HTTP JSON) to this collector, e.g. http://localhost:4318 (default: no tracing)",
  },
  {
    key: "modelsDir",
    flag: "--models-dir <dir>",
    help: "where 20b/120b GGUFs are looked for and downloaded",
  },
  { key: "cacheDir", flag: "--cache-dir <dir>", help: "cache (the tiny model lives here)" },
  { key: "parallel", flag: "--parallel <n>", help: "sequences generating at once", number: true },
  {
    key: "maxBatchSize",
    flag: "--max-batch-size <n>",
    help: "cap on one profile's requests running at once, for every profile (default: v4.5.1's 32/8/48; never above --parallel times the replicas)",
    number: true,
  },
  {
    key: "stepTokens",
    flag: "--step-tokens <n>",
    help: "most tokens one decode step carries, prompt chunks included (native core; lower = smoother streams while prompts are read)",
    number: true,
  },
  { key: "contextSize", flag: "--context-size <tokens>", help: "context per sequence", number: true },
  { key: "maxQueue", flag: "--max-queue <n>", help: "waiting requests before 429", number: true },
  {
    key: "defaultMaxTokens",
    flag: "--default-max-tokens <n|context|profile>",
    help: "completion budget of a request that sends no max_tokens: the context left (default), the profile's max_new_tokens, or n",
  },
  {
    key: "maxTokensCap",
    flag: "--max-tokens-cap <n>",
    help: "operator cap on every request's completion tokens, asked or not (default: only the context)",
    number: true,
  },
  {
    key: "sseKeepaliveMs",
    flag: "--sse-keepalive <ms>",
    help: "SSE ': keep-alive' comment after this long without an event, while queued or reading the prompt (0 = never)",
    number: true,
  },
  {
    key: "bodyLimitBytes",
    flag: "--body-limit <bytes>",
    help: "request body limit (413 beyond)",
    number: true,
  },
  {
    key: "shutdownTimeoutMs",
    flag: "--shutdown-timeout <ms>",
    help: "grace for in-flight work on SIGTERM",
    number: true,
  },
  { key: "date", flag: "--date <YYYY-MM-DD>", help: "harmony 'Current date' (default: today at start)" },
  { key: "threads", flag: "--threads <n>", help: "CPU threads for the engine (0 = auto)", number: true },
  {
    key: "replicas",
    flag: "--replicas <n>",
    help: "engine replicas (worker processes) on a machine without --gpus; requests are routed among them",
    number: true,
  },
  {
    key: "gpus",
    flag: "--gpus <ids>",
    help: "GPUs for replicas, comma-separated (0,1,2,3): one replica a GPU, each with its own CUDA_VISIBLE_DEVICES",
    list: true,
  },
  {
    key: "replicasPerGpu",
    flag: "--replicas-per-gpu <n>",
    help: "replicas on each of --gpus",
    number: true,
  },
  {
    key: "downloadUrl",
    flag: "--download-url <url>",
    help: "Hugging Face (or mirror) base URL for 20b/120b",
  },
  {
    key: "responsesStoreSize",
    flag: "--responses-store-size <n>",
    help: "stored responses kept (LRU)",
    number: true,
  },
  {
    key: "responsesStoreBytes",
    flag: "--responses-store-bytes <bytes>",
    help: "stored responses' total size (LRU beyond)",
    number: true,
  },
  {
    key: "responsesStoreTtlMs",
    flag: "--responses-store-ttl <ms>",
    help: "stored responses' lifetime",
    number: true,
  },
  {
    key: "responseCache",
    flag: "--response-cache <on|off>",
    help: "answer a greedy (temperature 0) request that renders to an earlier one's prompt with its answer, per API key (default off)",
    choices: ["on", "off"],
  },
  {
    key: "responseCacheBytes",
    flag: "--response-cache-bytes <bytes>",
    help: "the response cache's total size (LRU beyond)",
    number: true,
  },
  {
    key: "responseCacheTtlMs",
    flag: "--response-cache-ttl <ms>",
    help: "how long a cached answer is served",
    number: true,
  },
  {
    key: "warmPrompt",
    flag: "--warm-prompt <file>",
    help: "prompt prefixes (JSON: system prompts, {messages, tools}; or a text file: one system prompt) put in every replica's prefix cache at start and after each worker restart (repeatable)",
    list: true,
  },
  {
    key: "upstream",
    flag: "--upstream <urls>",
    help: "--engine vllm|upstream: the upstream servers' base URLs, comma-separated or the flag repeated; per upstream: URL#weight=2&parallel=32&timeout=60000&dialect=sglang&key-file=PATH",
    list: true,
  },
  { key: "upstreamKey", flag: "--upstream-key <key>", help: "Bearer key sent to the upstreams" },
  {
    key: "upstreamDialect",
    flag: "--upstream-dialect <name>",
    help: "auto (probed), vllm, sglang, llama-server or openai-chat (chat-level pass-through)",
  },
  {
    key: "upstreamTimeoutMs",
    flag: "--upstream-timeout <ms>",
    help: "how long an upstream may take to answer before it counts as down",
    number: true,
  },
  {
    key: "upstreamParallel",
    flag: "--upstream-parallel <n>",
    help: "requests in flight at most per upstream",
    number: true,
  },
  {
    key: "fakeTokenDelayMs",
    flag: "--fake-token-delay <ms>",
    help: "fake engine: delay per token",
    number: true,
  },
];

function addServeOptions(cmd: Command): Command {
  for (const f of SERVE_FLAGS) {
    const option = new Option(f.flag, f.help).env(envName(f.key));
    if (f.choices !== undefined) option.choices(f.choices);
    if (f.list === true)
      option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
    cmd.addOption(option);
  }
  cmd.addOption(
    // No .env(): commander would read GPTOSS_PUBLIC_METRICS=0 as true; the config loader parses it.
    new Option(
      "--public-metrics",
      `serve /metrics without a key even when API keys are set (env: ${envName("publicMetrics")})`,
    ),
  );
  cmd.addOption(
    new Option(
      "--strict-tools",
      `Responses API: refuse hosted tools (web_search, mcp, ...) with a 400 instead of leaving them out (env: ${envName("strictTools")})`,
    ),
  );
  cmd.addOption(
    new Option(
      "--strict-model-names",
      `an unserved gpt-oss size (gpt-oss-120b on a 20b server) is a 404 instead of a fallback (env: ${envName("strictModelNames")})`,
    ),
  );
  cmd.option("--no-download", "never download 20b/120b: fail when the file is not in the models folder");
  return cmd.option("--config <file>", "JSON config file (flags > env > file > defaults)");
}

function serveArgs(opts: Record<string, unknown>): ServeArgs {
  const flags: Partial<Record<ConfigKey, unknown>> = {};
  for (const f of SERVE_FLAGS) {
    const camel = f.flag
      .slice(2)
      .split(" ")[0]!
      .replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
    const value = opts[camel];
    if (value !== undefined) flags[f.key] = value;
  }
  if (opts.download === false) flags.allowDownload = false;
  if (opts.publicMetrics !== undefined) flags.publicMetrics = opts.publicMetrics;
  if (opts.strictModelNames !== undefined) flags.strictModelNames = opts.strictModelNames;
  if (opts.strictTools !== undefined) flags.strictTools = opts.strictTools;
  const configFile = opts.config;
  return { flags, ...(typeof configFile === "string" ? { configFile } : {}) };
}

export function buildProgram(handlers: CliHandlers, setExitCode: (code: number) => void): Command {
  const program = new Command("gpt-oss-server")
    .description("OpenAI-compatible server for gpt-oss models, on an embedded llama.cpp engine")
    .showHelpAfterError();

  addServeOptions(
    program.command("serve", { isDefault: true }).description("start the HTTP server (default)"),
  ).action(async (opts: Record<string, unknown>) => setExitCode(await handlers.serve(serveArgs(opts))));

  program
    .command("make-model")
    .description("write a random-weight GGUF with gpt-oss's real architecture and tokenizer")
    .addOption(
      new Option("--size <size>", "model shape").choices(["tiny", "20b", "120b"]).makeOptionMandatory(),
    )
    .requiredOption("--out <file>", "output GGUF path")
    .option("--seed <n>", "random seed", "0")
    .addOption(
      new Option(
        "--dense-type <type>",
        "how the attention projections and the output matrix are stored (q8_0: half the bytes a decode step reads)",
      )
        .choices(["f16", "q8_0"])
        .default("f16"),
    )
    .action(async (opts: { size: string; out: string; seed: string; denseType: string }) =>
      setExitCode(
        await handlers.makeModel({
          size: opts.size,
          out: opts.out,
          seed: Number(opts.seed),
          denseType: opts.denseType,
        }),
      ),
    );

  program
    .command("render")
    .description("print the harmony prompt (text, or --json with token ids) of a Chat Completions request")
    .option("--file <request.json>", "the request (default: standard input)")
    .option("--json", "print {prompt, token_ids, num_tokens}", false)
    .option("--date <YYYY-MM-DD>", "harmony 'Current date' (default: today)")
    .action((opts: { file?: string; json: boolean; date?: string }) =>
      setExitCode(
        handlers.render({
          json: opts.json,
          ...(opts.file !== undefined ? { file: opts.file } : {}),
          ...(opts.date !== undefined ? { date: opts.date } : {}),
        }),
      ),
    );

  addGateOptions(
    program
      .command("gate")
      .description(
        "release gate: latency, streaming, cancel and load checks against a server (--mode seed: v4.5.1's test suites)",
      ),
  ).action(async (opts: Record<string, unknown>) => setExitCode(await handlers.gate(gateOptionsFrom(opts))));

  addBenchOptions(
    program.command("bench").description("load benchmark: concurrency/rate sweep with exact-length prompts"),
  ).action(async (opts: Record<string, unknown>) =>
    setExitCode(await handlers.bench(benchOptionsFrom(opts))),
  );

  return program;
}
