/**
 * npm run bench:gateway — what the gateway itself costs (issue 12): a server with the scripted fake
 * engine as the upstream, measured directly and through a gateway (`--engine upstream`) in front of
 * it, with the same requests. Added latency (p50/p99 of one request at a time) and the non-stream
 * requests/s each sustains at 64 connections, on this machine: client, gateway and upstream share
 * its cores, so the figures are an upper bound on the gateway's cost. Writes docs/benchmarks.md's
 * gateway block.
 */
import os from "node:os";
import { closedLoop, postJson } from "./load-client.ts";
import { startServer, stopServer } from "./server-process.ts";
import { writeDocBlock } from "./doc-block.ts";

const SECONDS = 5;
const body = { model: "gpt-oss-fake", messages: [{ role: "user", content: "Hello" }], max_tokens: 16 };

/** Latencies of one request at a time for `ms`, in ms, sorted. */
async function latencies(url: string, ms: number): Promise<number[]> {
  const out: number[] = [];
  await closedLoop(1, ms, async () => {
    const t0 = performance.now();
    const res = await postJson(url, body);
    if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
    out.push(performance.now() - t0);
    return 1;
  });
  return out.sort((a, b) => a - b);
}

const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

async function throughput(url: string): Promise<number> {
  await closedLoop(64, 1000, async () => ((await postJson(url, body)).status === 200 ? 1 : 0));
  const r = await closedLoop(64, SECONDS * 1000, async () =>
    (await postJson(url, body)).status === 200 ? 1 : 0,
  );
  return r.units / r.seconds;
}

async function main(): Promise<void> {
  const upstream = await startServer(["--engine", "fake", "--parallel", "256", "--max-queue", "4096"]);
  const gateway = await startServer([
    "--engine",
    "upstream",
    "--upstream",
    upstream.url,
    "--upstream-parallel",
    "256",
    "--max-batch-size",
    "256",
    "--max-queue",
    "4096",
  ]);
  const direct = `${upstream.url}/v1/chat/completions`;
  const via = `${gateway.url}/v1/chat/completions`;
  await latencies(direct, 1000); // warm-up
  await latencies(via, 1000);
  const d = await latencies(direct, SECONDS * 1000);
  const g = await latencies(via, SECONDS * 1000);
  const dRps = await throughput(direct);
  const gRps = await throughput(via);
  await stopServer(gateway.child);
  await stopServer(upstream.child);

  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const lines = [
    "### C. The gateway's own cost (fake engine as the upstream)",
    "",
    `Measured by \`npm run bench:gateway\` on ${os.cpus().length} cores (${cpu}), Node ${process.version}; ${new Date().toISOString()}.`,
    "",
    "Upstream: `--engine fake --parallel 256`. Gateway: `--engine upstream --upstream <it> --upstream-parallel 256`.",
    `Client: Node (bench/load-client.ts); a chat request of 16 tokens, non-streaming; ${SECONDS} s per measure.`,
    "",
    "| measure | direct | through the gateway | gateway's cost |",
    "|---|---|---|---|",
    `| latency p50, one at a time | ${pct(d, 0.5).toFixed(2)} ms | ${pct(g, 0.5).toFixed(2)} ms | +${(pct(g, 0.5) - pct(d, 0.5)).toFixed(2)} ms |`,
    `| latency p99, one at a time | ${pct(d, 0.99).toFixed(2)} ms | ${pct(g, 0.99).toFixed(2)} ms | +${(pct(g, 0.99) - pct(d, 0.99)).toFixed(2)} ms |`,
    `| requests/s at 64 connections | ${dRps.toFixed(0)} | ${gRps.toFixed(0)} | ${((1 - gRps / dRps) * 100).toFixed(1)}% fewer |`,
    "",
  ];
  for (const l of lines) console.log(l);
  writeDocBlock("gateway", lines.join("\n"));
}

await main();
process.exit(0);
