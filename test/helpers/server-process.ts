/**
 * Starts the real server as a child process (the same entry a user runs), waits until it listens
 * and its model is loaded, and stops it with SIGTERM. Integration tests drive it over HTTP.
 * `spawnListening` does the same for any server that prints where it listens (llama-server).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { once } from "node:events";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** Everything the process printed, for assertions and failure messages. */
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startServerProcess(
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<ServerProcess> {
  return spawnListening(
    process.execPath,
    ["--import", "tsx", "src/main.ts", "serve", "--port", "0", ...args],
    {
      name: "server",
      cwd: ROOT,
      env: { ...process.env, GPTOSS_LOG_LEVEL: "info", ...env },
      // The "listening" line: JSON, or a readable line (--log-format pretty) with url=...
      listening: /"url":"(http:\/\/[^"]+)"|\burl=(http:\/\/\S+)/,
      timeoutMs: 90_000,
    },
  );
}

export interface SpawnOptions {
  /** Names the process in errors. */
  name: string;
  /** Its output once it listens; the first group that matched is its URL. */
  listening: RegExp;
  timeoutMs: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Spawns a server (ours, or another such as llama-server) and waits until its output (stdout and
 * stderr) says where it listens. One that exits first, or is not listening after `timeoutMs`,
 * fails the start with what it printed (and is killed).
 */
export async function spawnListening(
  command: string,
  args: string[],
  options: SpawnOptions,
): Promise<ServerProcess> {
  const child = spawn(command, args, {
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    ...(options.env !== undefined ? { env: options.env } : {}),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding("utf8");
    stream.on("data", (d: string) => (out += d));
  }

  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${options.name} did not listen in time:\n${out}`)),
        options.timeoutMs,
      );
      const onData = (): void => {
        const url = options.listening
          .exec(out)
          ?.slice(1)
          .find((group) => group !== undefined);
        if (url === undefined) return;
        clearTimeout(timer);
        child.stdout.off("data", onData);
        child.stderr.off("data", onData);
        resolve(url);
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`${options.name} exited with ${code}:\n${out}`));
      });
    });
    return { url, child, output: () => out, stop: (signal) => stopProcess(child, signal) };
  } catch (error) {
    child.kill("SIGKILL"); // an afterAll knows nothing of a server that never came up
    throw error;
  }
}

/** Sends `signal` (SIGTERM by default) and resolves with the exit code (null when a signal ended it). */
async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
  // Already gone (exited, or killed by a signal: then exitCode stays null).
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = once(child, "exit");
  child.kill(signal);
  const [code] = (await exited) as [number | null];
  return code;
}

/** Polls /health/ready (open without a key) until the model is loaded (200) or the deadline passes. */
export async function waitReady(url: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${url}/health/ready`).catch(() => undefined);
    if (res?.status === 200) return;
    if (Date.now() > deadline) throw new Error(`server at ${url} not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
