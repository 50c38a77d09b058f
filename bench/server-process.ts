/**
 * A server process for the benchmarks: started as users start it (the same entry, default log
 * level), ready once /health answers 200; stopped with SIGTERM.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** `onOutput`: everything the server prints on stdout (its JSON log lines), for a bench that reads them. */
export async function startServer(
  args: string[],
  onOutput?: (text: string) => void,
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "serve", "--port", "0", ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, GPTOSS_LOG_LEVEL: "info" },
  });
  let out: string | undefined = "";
  child.stdout.setEncoding("utf8");
  const url = await new Promise<string>((resolve, reject) => {
    // The server logs at its default level (info: a line per request), as users run it; the pipe
    // is drained so it never blocks, and only read until the listening line.
    child.stdout.on("data", (d: string) => {
      onOutput?.(d);
      if (out === undefined) return;
      out += d;
      const m = /"url":"(http:\/\/[^"]+)"/.exec(out);
      if (m?.[1] !== undefined) {
        out = undefined;
        resolve(m[1]);
      }
    });
    child.once("exit", (code) => reject(new Error(`server exited ${code}`)));
  });
  for (;;) {
    const res = await fetch(`${url}/health`).catch(() => undefined);
    if (res?.status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, child };
}

export async function stopServer(child: ChildProcess): Promise<void> {
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  await exited;
}
