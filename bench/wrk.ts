/**
 * wrk (a C load generator) for the HTTP-layer benchmark: on a 2-core machine a Node client costs
 * as much CPU as the server it measures, so when wrk is installed (`apt-get install wrk`) it drives
 * the load instead. Streamed chunks are counted in wrk's Lua `response` hook.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function wrkAvailable(): boolean {
  return spawnSync("wrk", ["--version"], { encoding: "utf8" }).error === undefined;
}

export interface WrkResult {
  requestsPerSecond: number;
  requests: number;
  /** SSE `data:` events received, when the body was a stream. */
  chunks: number;
  seconds: number;
}

export function runWrk(url: string, body: unknown, connections: number, seconds: number): WrkResult {
  const script = `
wrk.method = "POST"
wrk.body = [==[${JSON.stringify(body)}]==]
wrk.headers["Content-Type"] = "application/json"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) chunks = 0 end
function response(status, headers, body)
  local _, n = string.gsub(body, "data: ", "")
  chunks = chunks + n
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("chunks") end
  io.write(string.format("RESULT requests=%d seconds=%f chunks=%d\\n", summary.requests, summary.duration / 1e6, total))
end`;
  const file = join(mkdtempSync(join(tmpdir(), "gptoss-wrk-")), "post.lua");
  writeFileSync(file, script);
  const run = spawnSync("wrk", ["-t1", `-c${connections}`, `-d${seconds}s`, "-s", file, url], {
    encoding: "utf8",
  });
  const m = /RESULT requests=(\d+) seconds=([\d.]+) chunks=(\d+)/.exec(run.stdout);
  if (m === null) throw new Error(`wrk failed: ${run.stdout}${run.stderr}`);
  const requests = Number(m[1]);
  const elapsed = Number(m[2]);
  return { requests, seconds: elapsed, chunks: Number(m[3]), requestsPerSecond: requests / elapsed };
}
