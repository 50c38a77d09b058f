/**
 * npm run bench:cpu — the server issue's CPU benchmark (a benchmark, not a test):
 *  A. tiny model, 1/16/64 concurrent streams: aggregate tokens/s and TTFT through HTTP (a real server
 *     process, streaming) versus calling the engine directly in-process. Target: HTTP costs <= 3% of
 *     the direct tokens/s at 16 streams. The server runs twice: its engine in a worker process (the
 *     default) and inline (--engine-process inline), which measures the process boundary's cost.
 *  B. fake engine: what the HTTP layer alone sustains: non-stream requests/s (target >= 5,000) and
 *     streamed chunks/s (target >= 100,000) on this machine.
 * Writes a section of docs/benchmarks.md.
 */
import os from "node:os";
import { defaultCacheDir, todayUtc } from "../src/config/defaults.ts";
import { createNativeEngine } from "../src/engines/native/native-engine.ts";
import type { Engine } from "../src/engines/engine.ts";
import { HARMONY_STOP_TOKENS, renderConversation } from "../src/harmony/render.ts";
import { ensureTinyModel } from "../src/models/tiny-model.ts";
import { defaultThreads } from "../src/cli/start-engine.ts";
import { closedLoop, median, postJson, streamChat } from "./load-client.ts";
import { runWrk, wrkAvailable } from "./wrk.ts";
import { startServer, stopServer } from "./server-process.ts";
import { writeDocBlock } from "./doc-block.ts";

const LEVELS = [1, 16, 64];
const MAX_TOKENS = 128;
const ROUNDS = 3;
const PARALLEL = 64;
const CONTEXT = 2048;
const DATE = todayUtc();

function userMessage(i: number): string {
  return `Benchmark stream ${i}: explain how a hash map handles collisions, with an example in TypeScript.`;
}

interface LevelResult {
  tokensPerSecond: number;
  ttftP50Ms: number;
}

async function directLevel(engine: Engine, concurrency: number): Promise<LevelResult> {
  const t0 = performance.now();
  const ttfts: number[] = [];
  let tokens = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, i) => {
      const prompt = renderConversation({
        date: DATE,
        reasoningEffort: "medium",
        messages: [{ role: "user", content: userMessage(i) }],
      });
      const started = performance.now();
      let first = true;
      const events = engine.generate(
        {
          id: `direct-${concurrency}-${i}-${Math.random()}`,
          promptTokens: prompt.tokens,
          sampling: {
            temperature: 1,
            topP: 1,
            presencePenalty: 0,
            frequencyPenalty: 0,
            logitBias: new Map(),
          },
          stopTokens: HARMONY_STOP_TOKENS,
          maxTokens: MAX_TOKENS,
          ignoreStopTokens: true,
        },
        new AbortController().signal,
      );
      for await (const e of events) {
        if (e.type === "tokens" && first) {
          first = false;
          ttfts.push(performance.now() - started);
        }
        if (e.type === "finish") tokens += e.usage.completionTokens;
      }
    }),
  );
  return { tokensPerSecond: tokens / ((performance.now() - t0) / 1000), ttftP50Ms: median(ttfts) };
}

async function httpLevel(url: string, model: string, concurrency: number): Promise<LevelResult> {
  const t0 = performance.now();
  const results = await Promise.all(
    Array.from({ length: concurrency }, (_, i) =>
      streamChat(`${url}/v1/chat/completions`, {
        model,
        messages: [{ role: "user", content: userMessage(i) }],
        max_tokens: MAX_TOKENS,
        temperature: 1,
        top_p: 1,
        ignore_eos: true,
      }),
    ),
  );
  const tokens = results.reduce((sum, r) => sum + r.completionTokens, 0);
  return {
    tokensPerSecond: tokens / ((performance.now() - t0) / 1000),
    ttftP50Ms: median(results.map((r) => r.ttftMs)),
  };
}

async function bestOf(run: () => Promise<LevelResult>): Promise<LevelResult> {
  await run(); // warm-up: caches, JIT, prefix cache
  const rounds: LevelResult[] = [];
  for (let i = 0; i < ROUNDS; i++) rounds.push(await run());
  return {
    tokensPerSecond: median(rounds.map((r) => r.tokensPerSecond)),
    ttftP50Ms: median(rounds.map((r) => r.ttftP50Ms)),
  };
}

/** `--part engine` or `--part http-layer` runs one half; the default runs both. */
function part(): "all" | "engine" | "http-layer" {
  const at = process.argv.indexOf("--part");
  const value = at === -1 ? "all" : process.argv[at + 1];
  if (value === "all" || value === "engine" || value === "http-layer") return value;
  throw new Error("--part takes engine or http-layer");
}

async function main(): Promise<void> {
  const which = part();
  // Each part rewrites only its own block of docs/benchmarks.md: running one never erases the other.
  if (which !== "http-layer") writePart("engine", await collect(engineVersusHttp));
  if (which !== "engine") writePart("http-layer", await collect(httpLayerAlone));
}

async function collect(run: (log: (s: string) => void) => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  await run((s: string): void => {
    console.log(s);
    lines.push(s);
  });
  return lines;
}

async function engineVersusHttp(log: (s: string) => void): Promise<void> {
  const modelPath = await ensureTinyModel(process.env.GPTOSS_CACHE_DIR ?? defaultCacheDir());
  // A. the engine alone, then the same engine behind HTTP.
  const direct = new Map<number, LevelResult>();
  const engine = await createNativeEngine({
    modelPath,
    modelId: "gpt-oss-tiny",
    modelSize: "tiny",
    randomWeights: true,
    maxSequences: PARALLEL,
    contextSizePerSequence: CONTEXT,
    gpuMode: "auto",
    // The same engine and thread default the server uses (the native core), so both paths match.
    threads: defaultThreads(),
  });
  for (const c of LEVELS) {
    direct.set(c, await bestOf(() => directLevel(engine, c)));
    console.error(`direct, ${c} streams: ${direct.get(c)!.tokensPerSecond.toFixed(1)} tok/s`);
  }
  await engine.close();

  const viaHttp = new Map<number, LevelResult>();
  const viaInline = new Map<number, LevelResult>();
  for (const [mode, results] of [
    ["worker", viaHttp],
    ["inline", viaInline],
  ] as const) {
    const server = await startServer([
      "--model",
      "tiny",
      "--parallel",
      String(PARALLEL),
      "--context-size",
      String(CONTEXT),
      "--date",
      DATE,
      "--engine-process",
      mode,
    ]);
    for (const c of LEVELS) {
      results.set(c, await bestOf(() => httpLevel(server.url, "gpt-oss-tiny", c)));
      console.error(`HTTP (${mode}), ${c} streams: ${results.get(c)!.tokensPerSecond.toFixed(1)} tok/s`);
    }
    await stopServer(server.child);
  }

  log(`### A. Tiny model: HTTP (streaming) versus the engine called directly`);
  log("");
  log(
    `${MAX_TOKENS}-token outputs forced (ignore_eos), temperature 1, top_p 1, full-vocabulary sampling; median of ${ROUNDS} rounds after a warm-up.`,
  );
  log("");
  log(
    "HTTP = the server as users run it, its engine in a worker process; inline = `--engine-process inline`. " +
      "Process boundary = worker versus inline.",
  );
  log("");
  log(
    "| streams | direct tok/s | HTTP tok/s | HTTP cost | inline tok/s | process boundary | direct TTFT p50 | HTTP TTFT p50 | inline TTFT p50 |",
  );
  log("|---|---|---|---|---|---|---|---|---|");
  for (const c of LEVELS) {
    const d = direct.get(c)!;
    const h = viaHttp.get(c)!;
    const i = viaInline.get(c)!;
    const cost = (1 - h.tokensPerSecond / d.tokensPerSecond) * 100;
    const boundary = (1 - h.tokensPerSecond / i.tokensPerSecond) * 100;
    log(
      `| ${c} | ${d.tokensPerSecond.toFixed(1)} | ${h.tokensPerSecond.toFixed(1)} | ${cost.toFixed(1)}% | ${i.tokensPerSecond.toFixed(1)} | ${boundary.toFixed(1)}% | ${d.ttftP50Ms.toFixed(1)} ms | ${h.ttftP50Ms.toFixed(1)} ms | ${i.ttftP50Ms.toFixed(1)} ms |`,
    );
  }
  log("");
}

async function httpLayerAlone(log: (s: string) => void): Promise<void> {
  // B. the HTTP layer alone, over the scripted fake engine.
  const fake = await startServer(["--engine", "fake", "--parallel", "256", "--max-queue", "4096"]);
  const chatUrl = `${fake.url}/v1/chat/completions`;
  const small = { model: "gpt-oss-fake", messages: [{ role: "user", content: "Hello" }], max_tokens: 16 };
  const streamBody = {
    model: "gpt-oss-fake",
    messages: [{ role: "user", content: "Hello" }],
    max_tokens: 2000,
    ignore_eos: true,
    stream: true,
    // quality_first: its 2,048-token cap allows the long streams this measures.
    profile: "quality_first",
  };
  let client: string;
  let requestsPerSecond: number;
  let chunksPerSecond: number;
  if (wrkAvailable()) {
    client = "wrk (1 thread)";
    runWrk(chatUrl, small, 64, 1);
    requestsPerSecond = runWrk(chatUrl, small, 64, 5).requestsPerSecond;
    runWrk(chatUrl, streamBody, 32, 1);
    const streamed = runWrk(chatUrl, streamBody, 32, 5);
    chunksPerSecond = streamed.chunks / streamed.seconds;
  } else {
    client = "Node (bench/load-client.ts; install wrk for a lighter client)";
    await closedLoop(64, 1000, async () => ((await postJson(chatUrl, small)).status === 200 ? 1 : 0));
    const nonStream = await closedLoop(64, 5000, async () =>
      (await postJson(chatUrl, small)).status === 200 ? 1 : 0,
    );
    requestsPerSecond = nonStream.units / nonStream.seconds;
    await closedLoop(32, 1000, async () => (await streamChat(chatUrl, streamBody)).chunks);
    const streamed = await closedLoop(32, 5000, async () => (await streamChat(chatUrl, streamBody)).chunks);
    chunksPerSecond = streamed.units / streamed.seconds;
  }
  await stopServer(fake.child);

  log(`### B. HTTP layer alone (fake engine, client and server on the same machine)`);
  log("");
  log(
    `Load client: ${client}. Server: \`--engine fake --parallel 256\`, default log level (a line per request).`,
  );
  log("");
  log("| measure | result | target |");
  log("|---|---|---|");
  log(
    `| non-stream requests/s (64 connections, 16-token answers) | ${requestsPerSecond.toFixed(0)} | >= 5,000 |`,
  );
  log(`| streamed chunks/s (32 streams of 2,000 tokens) | ${chunksPerSecond.toFixed(0)} | >= 100,000 |`);
  log("");
}

function writePart(name: "engine" | "http-layer", lines: string[]): void {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const measured =
    `Measured by \`npm run bench:cpu -- --part ${name}\` on ${os.cpus().length} cores (${cpu}), ` +
    `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ${new Date().toISOString()}.`;
  // The part's heading first, then where and when it was measured.
  const section = [lines[0] ?? "", "", measured, ...lines.slice(1)].join("\n");
  writeDocBlock(`cpu:${name}`, section);
  console.log(`\nwritten to docs/benchmarks.md (${name})`);
}

await main();
process.exit(0);
