/**
 * API keys, tried as a hostile client would: every registered route refused without a key (the
 * route table is walked, so a route added later cannot be forgotten), the bypasses that used to
 * work (percent-encoded paths, absolute-form targets), case-insensitive schemes, several keys,
 * the metrics key, and cancel held to the key that made the request.
 */
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PUBLIC_ROUTES } from "../src/http/auth.ts";
import { buildFakeApp, runningIds, type FakeApp } from "./helpers/fake-app.ts";
import { rawRequest } from "./helpers/raw-http.ts";

const KEYS = ["key-one", "key-two"];
const chatBody = JSON.stringify({
  model: "gpt-oss-fake",
  messages: [{ role: "user", content: "Hi" }],
  max_tokens: 2,
});

let fake: FakeApp;
let port: number;

beforeAll(async () => {
  fake = buildFakeApp({ config: { apiKey: KEYS, metricsKey: "scrape-me" }, tokenDelayMs: 5 });
  await fake.app.listen({ port: 0, host: "127.0.0.1" });
  port = (fake.app.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await fake.app.close();
});

function post(target: string, headers = ""): string {
  return (
    `POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${headers}` +
    `Content-Length: ${Buffer.byteLength(chatBody)}\r\nConnection: close\r\n\r\n${chatBody}`
  );
}

/**
 * Every route open without a key, listed here by hand: opening one more must change this test. The
 * dashboard's page, scripts and styles hold no data (src/http/dashboard-assets.ts); its data does
 * need the key.
 */
const OPEN_ROUTES = [
  "/health/live",
  "/health/ready",
  "/dashboard",
  "/dashboard/app.js",
  "/dashboard/charts.js",
  "/dashboard/format.js",
  "/dashboard/app.css",
  "/dashboard/favicon.svg",
  "/dashboard/uplot.js",
  "/dashboard/uplot.css",
];

describe("API keys", () => {
  it("opens exactly the listed routes without a key", () => {
    expect([...PUBLIC_ROUTES].sort()).toEqual([...OPEN_ROUTES].sort());
  });

  it("refuses every registered route without a key, but the open ones", async () => {
    const table = fake.app.routeTable.filter(([method]) => method !== "HEAD");
    expect(table.length).toBeGreaterThan(10);
    expect(table.map(([, url]) => url)).toContain("/dashboard/data");
    for (const [method, url] of table) {
      const res = await fake.app.inject({ method: method as "GET", url: url.replace(/:(\w+)/g, "x-$1") });
      if (OPEN_ROUTES.includes(url)) expect(res.statusCode, `${method} ${url}`).toBeLessThan(400);
      else {
        expect(res.statusCode, `${method} ${url}`).toBe(401);
        expect(res.json().error.code).toBe("invalid_api_key");
      }
    }
  });

  it("cannot be bypassed with encoded paths, absolute-form targets or odd slashes", async () => {
    const targets = [
      "/v%31/chat/completions",
      "/%761/chat/completions",
      "http://x/v1/chat/completions",
      "//v1/chat/completions",
      "/v1/chat/completions/",
      "/v1//chat/completions",
      "/./v1/chat/completions",
    ];
    for (const target of targets) {
      const res = await rawRequest(port, post(target));
      expect(res.status, target).toBe(401);
      expect(JSON.parse(res.body).error.code).toBe("invalid_api_key");
    }
    const models = await rawRequest(
      port,
      "GET /%761/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    expect(models.status).toBe(401);
  });

  it("accepts any configured key, with the scheme in any case", async () => {
    for (const header of ["Bearer key-one", "bearer key-two", "BEARER   key-one  "]) {
      const res = await fake.app.inject({ url: "/v1/models", headers: { authorization: header } });
      expect(res.statusCode, header).toBe(200);
    }
    for (const header of ["Bearer key-three", "Basic key-one", "key-one", "Bearer", "Bearer key-one extra"]) {
      const res = await fake.app.inject({ url: "/v1/models", headers: { authorization: header } });
      expect(res.statusCode, header).toBe(401);
    }
  });

  it("the metrics key opens /metrics and nothing else", async () => {
    const auth = { authorization: "Bearer scrape-me" };
    expect((await fake.app.inject({ url: "/metrics", headers: auth })).statusCode).toBe(200);
    expect((await fake.app.inject({ url: "/stats", headers: auth })).statusCode).toBe(401);
    expect((await fake.app.inject({ url: "/v1/models", headers: auth })).statusCode).toBe(401);
  });

  it("--public-metrics opens /metrics alone without a key", async () => {
    const open = buildFakeApp({ config: { apiKey: KEYS, publicMetrics: true } });
    expect((await open.app.inject("/metrics")).statusCode).toBe(200);
    expect((await open.app.inject("/stats")).statusCode).toBe(401);
  });

  it("a cancel must carry the key that made the request", async () => {
    const own = { authorization: "Bearer key-one" };
    const running = fake.app.inject({
      method: "POST",
      url: "/v1/chat/completions",
      headers: { ...own, "content-type": "application/json", "x-request-id": "mine" },
      payload: JSON.stringify({
        model: "gpt-oss-fake",
        messages: [{ role: "user", content: "Hi" }],
        max_tokens: 200,
      }),
    });
    while (runningIds(fake.pool).length === 0) await new Promise((r) => setTimeout(r, 5));
    const id = runningIds(fake.pool)[0]!;
    const other = { authorization: "Bearer key-two" };
    for (const target of [id, "mine"]) {
      const denied = await fake.app.inject({ method: "POST", url: `/v1/cancel/${target}`, headers: other });
      expect(denied.statusCode).toBe(404); // as if unknown: another key's request is not disclosed
    }
    const ok = await fake.app.inject({ method: "POST", url: `/v1/cancel/${id}`, headers: own });
    expect(ok.json()).toEqual({ status: "cancelled", request_id: id });
    expect((await running).statusCode).toBe(499);
  });
});
