/**
 * What the gateway process tests share (test/upstream-*.test.ts): our own server serving the tiny
 * model as an upstream, and a gateway, our server with `--engine upstream` in front of upstreams,
 * with the official openai client on it. Each is started as a child process and waited on until
 * its model is ready (or stopped, when it is not).
 */
import OpenAI from "openai";
import { startServerProcess, waitReady, type ServerProcess } from "./server-process.ts";

/** Our server on the tiny model, in this process (no worker), `parallel` sequences of 2,048 tokens. */
export const tinyUpstreamArgs = (parallel: number): string[] => [
  "--model",
  "tiny",
  "--engine-process",
  "inline",
  "--parallel",
  String(parallel),
  "--context-size",
  "2048",
];

/** Starts one tiny-model upstream per entry of `extraArgs` (its own args beside tinyUpstreamArgs). */
export async function startTinyUpstreams(parallel: number, extraArgs: string[][]): Promise<ServerProcess[]> {
  const upstreams = await Promise.all(
    extraArgs.map((extra) => startServerProcess([...tinyUpstreamArgs(parallel), ...extra])),
  );
  await untilReady(upstreams);
  return upstreams;
}

/** Waits until every process is ready; when one is not, stops them all (no afterAll knows of them yet). */
async function untilReady(processes: ServerProcess[]): Promise<void> {
  try {
    await Promise.all(processes.map((p) => waitReady(p.url)));
  } catch (error) {
    await Promise.all(processes.map((p) => p.stop("SIGKILL")));
    throw error;
  }
}

export interface GatewayProcess extends ServerProcess {
  /** The official client on the gateway's /v1 (no key, no retries). */
  client: OpenAI;
}

/**
 * Starts a gateway in front of `upstreams` (`--upstream`'s value), `parallel` requests at a time
 * to each, with `args` besides (a dialect, say).
 */
export async function startGateway(
  upstreams: string,
  parallel: number,
  args: string[] = [],
): Promise<GatewayProcess> {
  const gateway = await startServerProcess([
    "--engine",
    "upstream",
    "--upstream",
    upstreams,
    "--upstream-parallel",
    String(parallel),
    ...args,
  ]);
  await untilReady([gateway]);
  return {
    ...gateway,
    client: new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "unused", maxRetries: 0 }),
  };
}
