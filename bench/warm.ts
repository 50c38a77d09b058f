/**
 * npm run bench:warm — what `--warm-prompt` saves (a benchmark, not a test): the time to first
 * token of a request carrying a long system prompt on a freshly started server, cold (no
 * --warm-prompt) and warm (that system prompt given with --warm-prompt), on the tiny model.
 *
 * Each round starts one server of each kind. The cold one answers: its first request ever (its
 * HTTP process also loads the tokenizer then; a warm server did so at start, to render the file),
 * then a request with another system prompt of the same size (a cold prefill alone, the fair
 * comparison), then that one again with another question (cached by use: what warming should give
 * from the start). The warm one answers: its first request, then a short unrelated request, then
 * the warmed prompt again (its cache survived the unrelated request).
 *
 * Requests are non-streaming with max_tokens 1, so their latency is the time to their first token
 * (prefill plus one decode step) as the client sees it; the server's own TTFT (arrival to the first
 * generated token, from /stats) is beside it. Writes docs/benchmarks.md's bench:warm block.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { startServer, stopServer } from "./server-process.ts";
import { writeDocBlock } from "./doc-block.ts";

const ROUNDS = 3;
const SERVER_FLAGS = ["--model", "tiny", "--parallel", "4", "--context-size", "4096", "--threads", "1"];

/** About 2,000 tokens of a support policy: a system prompt a client sends with every request. */
function systemPrompt(variant: string): string {
  return Array.from(
    { length: 100 },
    (_, i) =>
      `${i + 1}. ${variant} policy ${1000 + i}: answer orders placed in region ${i % 7} within ${i % 5} days.`,
  ).join("\n");
}
const FIRST = systemPrompt("Retail");
const WARMED = systemPrompt("Wholesale");

interface Measure {
  ms: number;
  serverTtftMs: number | undefined;
  promptTokens: number;
  cachedTokens: number;
}

interface Server {
  url: string;
  /** The server's log so far: its request lines carry ttft_ms by request_id. */
  log: () => string;
}

/** One request; `system` undefined: a short one without a system prompt. */
async function ask(server: Server, system: string | undefined, question: string): Promise<Measure> {
  const messages = [
    ...(system !== undefined ? [{ role: "system", content: system }] : []),
    { role: "user", content: question },
  ];
  const t0 = performance.now();
  const res = await fetch(`${server.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-oss-tiny", messages, max_tokens: 1, temperature: 0 }),
  });
  const body = (await res.json()) as {
    usage: { prompt_tokens: number; prompt_tokens_details: { cached_tokens: number } };
  };
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${JSON.stringify(body)}`);
  return {
    ms,
    serverTtftMs: await serverTtft(server, res.headers.get("x-request-id") ?? ""),
    promptTokens: body.usage.prompt_tokens,
    cachedTokens: body.usage.prompt_tokens_details.cached_tokens,
  };
}

/** The request's TTFT as the server logged it (its line may come a moment after the response). */
async function serverTtft(server: Server, requestId: string): Promise<number | undefined> {
  for (let i = 0; i < 50; i++) {
    for (const line of server.log().split("\n")) {
      if (!line.includes(requestId) || !line.includes('"ttft_ms"')) continue;
      return (JSON.parse(line) as { ttft_ms: number }).ttft_ms;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return undefined;
}

interface Round {
  startMs: number;
  measures: Record<string, Measure>;
}

async function withServer(
  warmFile: string | undefined,
  run: (server: Server) => Promise<Record<string, Measure>>,
): Promise<Round> {
  let log = "";
  const t0 = performance.now();
  const { url, child } = await startServer(
    [...SERVER_FLAGS, ...(warmFile !== undefined ? ["--warm-prompt", warmFile] : [])],
    (text) => (log += text),
  );
  const startMs = performance.now() - t0;
  try {
    return { startMs, measures: await run({ url, log: () => log }) };
  } finally {
    await stopServer(child);
  }
}

const coldRound = (): Promise<Round> =>
  withServer(undefined, async (server) => ({
    coldFirst: await ask(server, FIRST, "Where is order 12?"),
    coldNew: await ask(server, WARMED, "Where is order 12?"),
    coldAgain: await ask(server, WARMED, "Can I return a gift?"),
  }));

const warmRound = (warmFile: string): Promise<Round> =>
  withServer(warmFile, async (server) => {
    const warmFirst = await ask(server, WARMED, "Where is order 12?");
    await ask(server, undefined, "Hello!");
    const warmAfterOther = await ask(server, WARMED, "Can I return a gift?");
    return { warmFirst, warmAfterOther };
  });

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

const ms = (v: number): string => (Number.isNaN(v) ? "n/a" : `${v.toFixed(0)} ms`);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(os.tmpdir(), "gptoss-bench-warm-"));
  const warmFile = join(dir, "system.txt");
  writeFileSync(warmFile, WARMED);
  const rounds: Round[] = [];
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const cold = await coldRound();
      const warm = await warmRound(warmFile);
      rounds.push(cold, warm);
      console.log(
        `round ${i + 1}: cold (new system prompt) ${cold.measures["coldNew"]!.ms.toFixed(0)} ms, ` +
          `warm first ${warm.measures["warmFirst"]!.ms.toFixed(0)} ms`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const of = (key: string): Measure[] =>
    rounds.flatMap((r) => (r.measures[key] !== undefined ? [r.measures[key]] : []));
  const startOf = (warm: boolean): number =>
    median(rounds.filter((r) => (r.measures["warmFirst"] !== undefined) === warm).map((r) => r.startMs));
  const row = (label: string, key: string, start = ""): string => {
    const measures = of(key);
    const server = measures.flatMap((m) => (m.serverTtftMs !== undefined ? [m.serverTtftMs] : []));
    return (
      `| ${label} | ${ms(median(measures.map((m) => m.ms)))} | ${ms(median(server))} | ` +
      `${median(measures.map((m) => m.promptTokens))} | ${median(measures.map((m) => m.cachedTokens))} | ${start} |`
    );
  };
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const lines = [
    "## Warm prefixes (`npm run bench:warm`)",
    "",
    `Measured by \`npm run bench:warm\` on ${os.cpus().length} cores (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
      `Node ${process.version}; ${new Date().toISOString()}.`,
    "",
    `Server: \`${SERVER_FLAGS.join(" ")}\` (one engine worker); each round starts one with and one without ` +
      "`--warm-prompt` (a ~2,000-token system prompt). Requests: that system prompt and a short " +
      "question, non-streaming, `max_tokens: 1`, temperature 0, so the latency is the time to the first token. " +
      `Medians of ${ROUNDS} rounds; the server's TTFT is arrival to the first generated token, from its log.`,
    "",
    "| request | time to first token (client) | server TTFT | prompt tokens | cached tokens | server start to ready |",
    "|---|---|---|---|---|---|",
    row(
      "cold server, its first request (its HTTP process loads the tokenizer too)",
      "coldFirst",
      ms(startOf(false)),
    ),
    row("**cold server, a new system prompt** (tokenizer loaded: the prefill alone)", "coldNew"),
    row("**warm server, its first request** (the warmed system prompt)", "warmFirst", ms(startOf(true))),
    row("warm server, the warmed prompt after an unrelated request", "warmAfterOther"),
    row("cold server, the same system prompt again (cached by the request before)", "coldAgain"),
    "",
  ];
  for (const l of lines) console.log(l);
  writeDocBlock("warm", lines.join("\n"));
  console.log("\nwritten to docs/benchmarks.md (bench:warm)");
}

await main();
process.exit(0);
