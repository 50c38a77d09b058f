/**
 * The whole gate against a stand-in OpenAI-compatible server that has none of gpt-oss-server's
 * extras: it must still run, skip what needs the extras with a note, and exit 0 or 1 by its checks.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  chunk,
  startFakeOpenAiServerForTest,
  type FakeOpenAiServerForTest,
} from "./fake-openai-server-for-test.ts";
import { realClock } from "./gate-clock.ts";
import { gateOptionsFrom } from "./gate-cli.ts";
import { EXIT_FAILED, EXIT_PASSED, runGate, type CommandIo } from "./gate-command.ts";

let server: FakeOpenAiServerForTest | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function capturingIoForTest(): CommandIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t), clock: realClock };
}

async function answeringServer(bodies: Array<Record<string, unknown>>): Promise<FakeOpenAiServerForTest> {
  return startFakeOpenAiServerForTest((body, res) => {
    bodies.push(body);
    if (body["stream"] !== true) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          choices: [{ index: 0, message: { content: "ok" }, finish_reason: "stop" }],
          usage: { completion_tokens: 1 },
        }),
      );
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write(chunk({ content: "o" }));
    res.write(chunk({ content: "k" }));
    res.end("data: [DONE]\n\n");
  });
}

const quick = { quick: true, samples: "1", duration: "1", rate: "4" };

describe("runGate against a plain OpenAI-compatible server", () => {
  it("passes, skipping the cancel phase and the profiles with notes", async () => {
    const bodies: Array<Record<string, unknown>> = [];
    server = await answeringServer(bodies);
    const io = capturingIoForTest();
    const code = await runGate(gateOptionsFrom({ url: server.url, ...quick }), io);
    const table = io.stdout.join("\n");
    expect(code).toBe(EXIT_PASSED);
    expect(table).toMatch(/cancel\s+skipped\s+SKIP/);
    expect(table).toContain("needs gpt-oss-server's X-Request-Id");
    expect(table).toMatch(/latency\s+p95 E2E default/);
    expect(bodies.every((b) => b["model"] === "fake-model" && b["profile"] === undefined)).toBe(true);
    expect(bodies.every((b) => b["ignore_eos"] === true)).toBe(true);
    expect(
      bodies
        .filter((b) => b["stream"] === true)
        .every((b) => (b["stream_options"] as { include_usage: boolean }).include_usage),
    ).toBe(true);
  });

  it("sends no ignore_eos with --no-fixed-output", async () => {
    const bodies: Array<Record<string, unknown>> = [];
    server = await answeringServer(bodies);
    await runGate(gateOptionsFrom({ url: server.url, ...quick, fixedOutput: false }), capturingIoForTest());
    expect(bodies.length).toBeGreaterThan(3);
    expect(bodies.some((b) => "ignore_eos" in b)).toBe(false);
  });

  it("fails with exit 1 and names the phase when the server errors", async () => {
    server = await startFakeOpenAiServerForTest((body, res) => {
      if (body["max_tokens"] === 4) {
        // The warm-up request succeeds, so the gate goes on to the measured phases.
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.end(`${chunk({ content: "ok" })}data: [DONE]\n\n`);
        return;
      }
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "broken", type: "server_error", code: "internal_error" } }));
    });
    const io = capturingIoForTest();
    const code = await runGate(gateOptionsFrom({ url: server.url, ...quick }), io);
    expect(code).toBe(EXIT_FAILED);
    const verdict = io.stdout.join("\n").trimEnd().split("\n").pop() ?? "";
    expect(verdict).toMatch(/^GATE FAILED: latency \(.*error rate 100.0%, needs <= 1.0%/);
    expect(verdict).toContain("streaming (");
    expect(verdict).toContain("stability (");
  });
});

describe("runGate --mode seed (v4.5.1's test suites) against a plain OpenAI-compatible server", () => {
  it("sends the seed's requests without `profile`, skips /health's fields and /stats, and passes", async () => {
    const bodies: Array<Record<string, unknown>> = [];
    server = await answeringServer(bodies);
    for (const suite of ["1", "2"]) {
      bodies.length = 0;
      const io = capturingIoForTest();
      const code = await runGate(gateOptionsFrom({ url: server.url, mode: "seed", suite }), io);
      const table = io.stdout.join("\n");
      expect(code, table).toBe(EXIT_PASSED);
      expect(table).toMatch(/step 2: health\s+.*SKIP/);
      expect(table).toContain(`GATE PASSED (seed suite ${suite}`);
      const seeded = bodies.filter((b) => b["max_tokens"] !== 4); // not the warm-up
      expect(seeded.every((b) => b["profile"] === undefined && b["ignore_eos"] === undefined)).toBe(true);
      expect(seeded.map((b) => b["model"])).toEqual(
        suite === "1"
          ? ["gpt-oss-20b", "gpt-oss-20b", "gpt-oss-20b", ...Array<string>(5).fill("gpt-oss-20b")]
          : ["gpt-oss-120b", "gpt-oss-120b"],
      );
      if (suite === "1") expect(table).toMatch(/step 6: stats\s+.*SKIP/);
    }
  });

  it("--model replaces the seed's model names", async () => {
    const bodies: Array<Record<string, unknown>> = [];
    server = await answeringServer(bodies);
    await runGate(
      gateOptionsFrom({ url: server.url, mode: "seed", suite: "2", model: "x" }),
      capturingIoForTest(),
    );
    expect(bodies.every((b) => b["model"] === "x")).toBe(true);
  });
});
