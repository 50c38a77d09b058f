import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { AlertWebhook, webhookOrigin, type AlertPayload } from "./alert-webhook.ts";
import { CapturingStreamForTest } from "./capturing-stream-for-test.ts";

interface Received {
  body: AlertPayload;
  authorization: string | undefined;
}

/** A webhook receiver on a free port; `answer` decides each response (default 204). */
async function receiver(
  answer: (n: number, req: IncomingMessage, res: ServerResponse) => void = (_n, _req, res) => {
    res.writeHead(204).end();
  },
): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  let n = 0;
  const server = createServer((req, res) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => (text += d));
    req.on("end", () => {
      received.push({ body: JSON.parse(text) as AlertPayload, authorization: req.headers.authorization });
      n += 1;
      answer(n, req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received, server };
}

const servers: Server[] = [];
const webhooks: AlertWebhook[] = [];
afterEach(async () => {
  await Promise.all(webhooks.splice(0).map((w) => w.close(0)));
  for (const s of servers.splice(0)) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

function payload(slo: string, status: "firing" | "resolved" = "firing"): AlertPayload {
  return {
    status,
    slo,
    value: 0.2,
    threshold: 0.01,
    since: "2026-12-01T12:00:00.000Z",
    peak: 0.2,
    server: "box:8000",
    url: "http://127.0.0.1:8000",
  };
}

function webhook(url: string, extra: Partial<ConstructorParameters<typeof AlertWebhook>[0]> = {}) {
  const logs = new CapturingStreamForTest();
  const w = new AlertWebhook({ url, logger: pino({}, logs), backoffMs: 10, timeoutMs: 300, ...extra });
  webhooks.push(w);
  return { w, logs };
}

async function until(condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("AlertWebhook", () => {
  it("posts each alert as JSON, in order, with the Bearer key", async () => {
    const r = await receiver();
    const { w } = webhook(r.url, { key: "s3cret" });
    w.notify(payload("error_rate"));
    w.notify(payload("error_rate", "resolved"));
    await until(() => w.counts.delivered === 2);
    expect(r.received.map((x) => `${x.body.slo} ${x.body.status}`)).toEqual([
      "error_rate firing",
      "error_rate resolved",
    ]);
    expect(r.received[0]!.authorization).toBe("Bearer s3cret");
    expect(r.received[0]!.body).toEqual(payload("error_rate"));
  });

  it("retries a 503 with a pause, and a receiver that hangs past the timeout", async () => {
    const r = await receiver((n, _req, res) => {
      if (n === 1) res.writeHead(503).end();
      else if (n === 2)
        return; // never answers: the per-try timeout ends it
      else res.writeHead(200).end("ok");
    });
    const { w } = webhook(r.url);
    w.notify(payload("p95_ttft"));
    await until(() => w.counts.delivered === 1);
    expect(r.received).toHaveLength(3);
    expect(w.counts).toEqual({ delivered: 1, failed: 0, dropped: 0 });
  });

  it("gives up after 3 tries and says so at WARN, without the URL's secret path", async () => {
    const r = await receiver((_n, _req, res) => res.writeHead(500).end());
    const outcomes: string[] = [];
    const { w, logs } = webhook(r.url, { onOutcome: (o) => outcomes.push(o) });
    w.notify(payload("p95_e2e"));
    await until(() => w.counts.failed === 1);
    expect(r.received).toHaveLength(3);
    expect(outcomes).toEqual(["failed"]);
    const warning = logs.lines.find((l) => l.level === 40);
    expect(warning).toMatchObject({ slo: "p95_e2e", error: "HTTP 500" });
    expect(JSON.stringify(warning)).not.toContain("/hook");
  });

  it("does not retry a 4xx other than 408 and 429", async () => {
    const r = await receiver((_n, _req, res) => res.writeHead(404).end());
    const { w } = webhook(r.url);
    w.notify(payload("p95_e2e"));
    await until(() => w.counts.failed === 1);
    expect(r.received).toHaveLength(1);
  });

  it("keeps at most maxQueue alerts waiting, dropping the oldest (counted)", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const r = await receiver((_n, _req, res) => void gate.then(() => res.writeHead(204).end()));
    const { w } = webhook(r.url, { maxQueue: 2, timeoutMs: 5000 });
    w.notify(payload("a")); // being delivered, held by the receiver
    await until(() => r.received.length === 1);
    for (const slo of ["b", "c", "d", "e"]) w.notify(payload(slo));
    expect(w.counts.dropped).toBe(2); // b and c
    release();
    await until(() => w.counts.delivered === 3);
    expect(r.received.map((x) => x.body.slo)).toEqual(["a", "d", "e"]);
  });

  it("notify() returns at once even when the receiver is unreachable; close() is bounded", async () => {
    const { w } = webhook("http://127.0.0.1:9/hook", { backoffMs: 10_000 });
    const started = performance.now();
    w.notify(payload("error_rate"));
    expect(performance.now() - started).toBeLessThan(20);
    const closing = performance.now();
    await w.close(100);
    expect(performance.now() - closing).toBeLessThan(1000);
  });
});

describe("webhookOrigin", () => {
  it("shows the origin only, since a path may hold the hook's secret", () => {
    expect(webhookOrigin("https://hooks.slack.com/services/T0/B0/secret")).toBe("https://hooks.slack.com/…");
    expect(webhookOrigin("http://alerts.internal:9000/")).toBe("http://alerts.internal:9000");
  });
});
