/**
 * SLO alerts end to end, through the composition root (startServer, fake engine, one slot): a burst
 * of requests makes them wait in the queue past `--slo-p95-queue-ms`; the alert fires, shows in
 * /health and /metrics, is logged once at WARN and posted to a real HTTP receiver; once the burst
 * has aged out of the alert window and requests are served at once again, it resolves, and the
 * receiver gets that too.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config/load.ts";
import { startServer, type RunningServer } from "../src/cli/serve.ts";
import type { AlertPayload } from "../src/observability/alert-webhook.ts";
import { CapturingStreamForTest } from "../src/observability/capturing-stream-for-test.ts";
import { createLogger } from "../src/observability/logger.ts";

let receiver: Server;
const received: { body: AlertPayload; authorization: string | undefined }[] = [];
let server: RunningServer;
const logs = new CapturingStreamForTest();

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => (text += d));
    req.on("end", () => {
      received.push({ body: JSON.parse(text) as AlertPayload, authorization: req.headers.authorization });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts`;
  const config = loadConfig({
    flags: {
      engine: "fake",
      engineProcess: "inline",
      port: 0,
      parallel: 1,
      fakeTokenDelayMs: 15,
      sloP95QueueMs: 60,
      alertWindowSeconds: 1.5,
      alertIntervalMs: 100,
      alertMinRequests: 4,
      alertWebhook: hook,
    },
    env: { GPTOSS_ALERT_WEBHOOK_KEY: "hook-key" },
  });
  server = await startServer(config, createLogger({ level: "info", stdout: logs }));
  await server.ready;
});

afterAll(async () => {
  await server.shutdown("test");
  receiver.closeAllConnections();
  await new Promise((resolve) => receiver.close(resolve));
});

function chat(): Promise<Response> {
  return fetch(`${server.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: "gpt-oss-fake",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 4,
    }),
  });
}

async function until(what: string, condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const statuses = (): string[] => received.map((r) => `${r.body.slo} ${r.body.status}`);

describe("SLO alerts", () => {
  it("fire on a queue-wait breach and resolve after it, posted, shown and logged once each", async () => {
    // Eight at once on one slot: each waits for the ones before it (about 60 ms each).
    const burst = await Promise.all(Array.from({ length: 8 }, () => chat()));
    expect(burst.map((r) => r.status)).toEqual(Array(8).fill(200));
    await until("the firing alert", () => statuses().includes("p95_queue firing"));

    const firing = received.find((r) => r.body.status === "firing")!;
    expect(firing.authorization).toBe("Bearer hook-key");
    expect(firing.body).toMatchObject({ slo: "p95_queue", threshold: 60, url: server.url });
    expect(firing.body.value).toBeGreaterThan(60);
    expect(firing.body.server).toMatch(/:\d+$/);
    const health = (await (await fetch(`${server.url}/health`)).json()) as {
      alerts: { active: { name: string; since: string; value: number; threshold: number }[] };
    };
    expect(health.alerts.active).toEqual([
      { name: "p95_queue", since: firing.body.since, value: expect.any(Number) as number, threshold: 60 },
    ]);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/gptoss_slo_alert_firing\{slo="p95_queue"\} 1/);
    expect(metrics).toMatch(/gptoss_slo_alert_firing\{slo="error_rate"\} 0/);
    expect(metrics).toMatch(/gptoss_queue_wait_seconds_count\{[^}]*\} 8/);

    // Requests one at a time wait for no one; the burst ages out of the 1.5 s window.
    const deadline = Date.now() + 10_000;
    while (!statuses().includes("p95_queue resolved") && Date.now() < deadline) {
      expect((await chat()).status).toBe(200);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(statuses()).toEqual(["p95_queue firing", "p95_queue resolved"]);
    const resolved = received[1]!.body;
    expect(resolved.since).toBe(firing.body.since);
    expect(resolved.peak).toBeGreaterThanOrEqual(firing.body.value!);
    expect(typeof resolved.ended_at).toBe("string");

    const after = (await (await fetch(`${server.url}/health`)).json()) as {
      alerts: {
        active: unknown[];
        recent: { name: string; started_at: string; ended_at: string; peak: number }[];
      };
    };
    expect(after.alerts.active).toEqual([]);
    expect(after.alerts.recent).toEqual([
      { name: "p95_queue", started_at: firing.body.since, ended_at: resolved.ended_at, peak: resolved.peak },
    ]);
    expect(await (await fetch(`${server.url}/metrics`)).text()).toMatch(
      /gptoss_slo_alert_firing\{slo="p95_queue"\} 0/,
    );
    const warnings = logs.lines.filter(
      (l) => l.level_name === "WARN" && String(l.msg).startsWith("SLO breach"),
    );
    expect(warnings.map((l) => `${String(l.slo)} ${String(l.alert)}`)).toEqual([
      "p95_queue firing",
      "p95_queue resolved",
    ]);
  });
});
