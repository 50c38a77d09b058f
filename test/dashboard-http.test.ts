/**
 * The dashboard's routes in-process over the fake engine: the page and its assets (types, the
 * Content-Security-Policy, nothing inline, nothing from a CDN), open without a key while
 * /dashboard/data needs one, and the data after some traffic: samples with rates, totals, the
 * last errors, `since`.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildFakeApp, type FakeApp } from "./helpers/fake-app.ts";

const KEY = "dash-key";
const auth = { authorization: `Bearer ${KEY}` };
let fake: FakeApp;

beforeAll(async () => {
  fake = buildFakeApp({ config: { apiKey: [KEY] } });
  await fake.app.ready(); // starts the history's timer
});
afterAll(async () => {
  await fake.app.close();
});

async function chat(model = "gpt-oss-fake", stream = false) {
  return fake.app.inject({
    method: "POST",
    url: "/v1/chat/completions",
    headers: { "content-type": "application/json", ...auth },
    payload: JSON.stringify({ model, stream, messages: [{ role: "user", content: "Hi" }], max_tokens: 8 }),
  });
}

async function data(since = 0) {
  const res = await fake.app.inject({ url: `/dashboard/data?since=${since}`, headers: auth });
  expect(res.statusCode).toBe(200);
  return res.json();
}

describe("GET /dashboard and its assets", () => {
  it("serves the page without a key, with a strict CSP and no inline script or style", async () => {
    const res = await fake.app.inject("/dashboard");
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    const csp = String(res.headers["content-security-policy"]);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    const html = res.body;
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThanOrEqual(2);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/src="\/dashboard\//);
      expect(body!.trim()).toBe("");
    }
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//); // no CDN, nothing off this server
  });

  it("serves the scripts, styles and uPlot from node_modules, all without a key", async () => {
    const types: Record<string, RegExp> = {
      "/dashboard/app.js": /^text\/javascript/,
      "/dashboard/charts.js": /^text\/javascript/,
      "/dashboard/format.js": /^text\/javascript/,
      "/dashboard/app.css": /^text\/css/,
      "/dashboard/favicon.svg": /^image\/svg\+xml/,
      "/dashboard/uplot.js": /^text\/javascript/,
      "/dashboard/uplot.css": /^text\/css/,
    };
    for (const [url, type] of Object.entries(types)) {
      const res = await fake.app.inject(url);
      expect(res.statusCode, url).toBe(200);
      expect(res.headers["content-type"], url).toMatch(type);
      expect(res.body.length, url).toBeGreaterThan(100);
    }
    const uplot = readFileSync(
      createRequire(import.meta.url).resolve("uplot/dist/uPlot.iife.min.js"),
      "utf8",
    );
    expect((await fake.app.inject("/dashboard/uplot.js")).body).toBe(uplot);
    // Nothing else under /dashboard is served, and unknown paths still need the key.
    expect((await fake.app.inject("/dashboard/../package.json")).statusCode).toBe(401);
    expect((await fake.app.inject("/dashboard/app.ts")).statusCode).toBe(401);
  });
});

describe("GET /dashboard/data", () => {
  it("needs the key", async () => {
    const none = await fake.app.inject("/dashboard/data");
    expect(none.statusCode).toBe(401);
    expect(none.json().error.code).toBe("invalid_api_key");
    const wrong = await fake.app.inject({
      url: "/dashboard/data",
      headers: { authorization: "Bearer nope" },
    });
    expect(wrong.statusCode).toBe(401);
    expect((await fake.app.inject({ url: "/dashboard/data", headers: auth })).statusCode).toBe(200);
  });

  it("has samples with rates, totals, recent errors and health after traffic", async () => {
    const started = Date.now();
    for (const stream of [false, true, false])
      expect((await chat("gpt-oss-fake", stream)).statusCode).toBe(200);
    expect((await chat("llama-3-8b")).statusCode).toBe(404);
    // The history samples once a second: wait for one taken after the traffic.
    let body = await data(started);
    const deadline = Date.now() + 5_000;
    while (!body.samples.some((s: any) => s.requests_per_s > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      body = await data(started);
    }
    const busy = body.samples.find((s: any) => s.requests_per_s > 0);
    expect(busy, JSON.stringify(body.samples)).toBeDefined();
    expect(busy.tokens_per_s).toBeGreaterThan(0);
    expect(busy.ttft_p50_ms).not.toBeNull();
    expect(busy.models["gpt-oss-fake"]).toMatchObject({ queued: 0 });
    expect(busy.profiles["latency_first"].requests_per_s).toBeGreaterThan(0);
    expect(body.totals.requests).toBeGreaterThanOrEqual(4);
    expect(body.totals.completion_tokens).toBeGreaterThan(0);
    expect(body.errors[0]).toMatchObject({ code: "model_not_found", status: 404, outcome: "rejected" });
    expect(body.health).toMatchObject({ status: "healthy", score: 1, breaches: [] });
    expect(body.health.alerts).toEqual({ active: [], recent: [] }); // the SLO alerts: none fired
    // The response cache is off by default: its figures say so (the page shows "off").
    expect(body.cache).toMatchObject({ enabled: false, hits: 0, misses: 0, hit_rate: null });
    expect(body.slo).toEqual({ error_rate: 0.01, p95_ttft_ms: 10_000, p95_e2e_ms: 30_000 });
    expect(body.models).toEqual(["gpt-oss-fake"]);
    expect(body.interval_ms).toBe(1000);

    // Only samples after `since` (the timer may add one between two calls).
    const last = body.samples.at(-1).t;
    for (const s of (await data(last)).samples) expect(s.t).toBeGreaterThan(last);
    expect((await data(last - 1)).samples[0].t).toBe(last);
  });

  it("refuses a `since` that is not a time", async () => {
    for (const since of ["abc", "-5", "", "1&since=2"]) {
      const res = await fake.app.inject({ url: `/dashboard/data?since=${since}`, headers: auth });
      expect(res.statusCode, since).toBe(400);
      expect(res.json().error).toMatchObject({ code: "invalid_value", param: "since" });
    }
  });
});
