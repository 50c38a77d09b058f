/**
 * Logs for people and for machines, from the server process (fake engine): with --log-format
 * pretty, a start banner once the model is ready and one readable line a request, no JSON; piped
 * with the default (auto), JSON lines only and no banner. (Whether stdout is a terminal is decided
 * by a pure function, unit-tested in src/observability/log-format.test.ts.)
 */
import { afterEach, describe, expect, it } from "vitest";
import { startServerProcess, waitReady, type ServerProcess } from "./helpers/server-process.ts";

let server: ServerProcess | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function chat(url: string): Promise<void> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: "gpt-oss-fake",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 3,
    }),
  });
  expect(res.status).toBe(200);
  await res.text();
}

async function until(what: string, condition: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("log format", () => {
  it("--log-format pretty: a banner when ready, readable lines, no JSON", async () => {
    server = await startServerProcess([
      "--engine",
      "fake",
      "--engine-process",
      "inline",
      "--log-format",
      "pretty",
    ]);
    const s = server;
    await waitReady(s.url);
    await until("the banner", () => s.output().includes("gpt-oss-server is ready at"));
    await chat(s.url);
    await until("the request line", () => s.output().includes("request finished"));
    const out = s.output();
    expect(out).toContain(`gpt-oss-server is ready at ${s.url}`);
    expect(out).toMatch(/model +gpt-oss-fake · engine fake · CPU · context \d+ × \d+ sequences/);
    expect(out).toContain(`${s.url}/dashboard`);
    expect(out).toMatch(/docs +\S+docs\/operations\.md/);
    expect(out.match(/gpt-oss-server is ready at/g)).toHaveLength(1);
    expect(out).toMatch(
      /^\[[\d:.]+\] INFO: request finished request_id=req_\S+ route="POST \/v1\/chat\/completions" .*outcome=success/m,
    );
    expect(out.includes("\u001b[")).toBe(false); // piped: no colours
    const lines = out.split("\n").filter((l) => l.trim() !== "");
    expect(lines.filter((l) => l.trimStart().startsWith("{"))).toEqual([]);
  });

  it("piped with the default: JSON lines only, no banner", async () => {
    server = await startServerProcess(["--engine", "fake", "--engine-process", "inline"]);
    const s = server;
    await waitReady(s.url);
    await chat(s.url);
    await until("the request line", () => s.output().includes("request finished"));
    const lines = s
      .output()
      .split("\n")
      .filter((l) => l.trim() !== "");
    for (const line of lines) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
    expect(s.output()).not.toContain("gpt-oss-server is ready");
  });
});
