/**
 * Starts the real server as a child process (the same entry a user runs), waits until it listens
 * and its model is loaded, and stops it with SIGTERM. Integration tests drive it over HTTP.
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
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "serve", "--port", "0", ...args], {
    cwd: ROOT,
    env: { ...process.env, GPTOSS_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", (d: string) => (out += d));
  child.stderr.on("data", (d: string) => (out += d));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in time:\n${out}`)), 90_000);
    const onData = (): void => {
      // The "listening" line: JSON, or a readable line (--log-format pretty) with url=...
      const m = /"url":"(http:\/\/[^"]+)"|\burl=(http:\/\/\S+)/.exec(out);
      const url = m?.[1] ?? m?.[2];
      if (url !== undefined) {
        clearTimeout(timer);
        child.stdout.off("data", onData);
        resolve(url);
      }
    };
    child.stdout.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });

  const stop = async (signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> => {
    // Already gone (exited, or killed by a signal: then exitCode stays null).
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const exited = once(child, "exit");
    child.kill(signal);
    const [code] = (await exited) as [number | null];
    return code;
  };
  return { url, child, output: () => out, stop };
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
