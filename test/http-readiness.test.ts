/**
 * Readiness end to end over the fake engine (issue 9 item 8): a streak of engine failures, an
 * engine whose health is failed (NaN weights) and a worker being restarted all make
 * /health/ready and /health 503 with a reason; a success, or the cool-down, makes them ready again.
 */
import { describe, expect, it, vi } from "vitest";
import { ServerError } from "../src/errors/server-error.ts";
import { ENGINE_FAILURE_COOLDOWN_MS, UNREADY_AFTER_ENGINE_FAILURES } from "../src/serving/status.ts";
import { demoHarmonyScript } from "../src/engines/fake/demo-script.ts";
import { buildFakeApp, type FakeApp } from "./helpers/fake-app.ts";

const messages = [{ role: "user", content: "Hello" }];

/** A fake whose engine fails every request while `failing.value` is set, on a clock the test moves. */
function failingApp(): FakeApp & { failing: { value: boolean }; clock: { ms: number } } {
  const failing = { value: true };
  const clock = { ms: 1_000_000 };
  const demo = demoHarmonyScript();
  const fake = buildFakeApp({
    statsNow: () => clock.ms,
    script: (req) => {
      if (failing.value) throw new ServerError("engine_error", "the engine failed (test)");
      return demo(req);
    },
  });
  return { ...fake, failing, clock };
}

function chat(fake: FakeApp) {
  return fake.app.inject({
    method: "POST",
    url: "/v1/chat/completions",
    headers: { "content-type": "application/json" },
    payload: JSON.stringify({ model: "gpt-oss-fake", messages, max_tokens: 3 }),
  });
}

async function failTimes(fake: FakeApp, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await chat(fake);
    expect(res.statusCode).toBe(500);
    expect(res.json().error.code).toBe("engine_error");
  }
}

async function ready(fake: FakeApp): Promise<{ status: number; body: { status: string; reason?: string } }> {
  const res = await fake.app.inject("/health/ready");
  return { status: res.statusCode, body: res.json() };
}

describe("readiness after engine failures", () => {
  it(`${UNREADY_AFTER_ENGINE_FAILURES} engine_error failures in a row make /health/ready and /health 503; a success clears it`, async () => {
    const fake = failingApp();
    await failTimes(fake, UNREADY_AFTER_ENGINE_FAILURES - 1);
    expect((await ready(fake)).status).toBe(200);
    await failTimes(fake, 1);
    const unready = await ready(fake);
    expect(unready.status).toBe(503);
    expect(unready.body.status).toBe("unhealthy");
    expect(unready.body.reason).toMatch(/last 5 requests failed in the engine/);
    const health = await fake.app.inject("/health");
    expect(health.statusCode).toBe(503);
    expect(health.json()).toMatchObject({ status: "unhealthy", reason: unready.body.reason });
    // Liveness is not readiness: the process still answers.
    expect((await fake.app.inject("/health/live")).statusCode).toBe(200);

    fake.failing.value = false;
    expect((await chat(fake)).statusCode).toBe(200);
    expect(await ready(fake)).toEqual({ status: 200, body: { status: "ready" } });
    expect((await fake.app.inject("/health")).statusCode).toBe(200);
  });

  it("the streak expires after the cool-down with no new failure; one more failure makes it unready again", async () => {
    const fake = failingApp();
    await failTimes(fake, UNREADY_AFTER_ENGINE_FAILURES);
    fake.clock.ms += ENGINE_FAILURE_COOLDOWN_MS - 1;
    expect((await ready(fake)).status).toBe(503);
    fake.clock.ms += 1;
    // No traffic came (a load balancer sends none to an unready server): ready again anyway.
    expect(await ready(fake)).toEqual({ status: 200, body: { status: "ready" } });
    expect((await fake.app.inject("/health")).statusCode).toBe(200);
    // The engine still fails: the first request back ends readiness at once.
    await failTimes(fake, 1);
    const again = await ready(fake);
    expect(again.status).toBe(503);
    expect(again.body.reason).toMatch(/last 6 requests failed/);
  });

  it("client mistakes never count toward the streak", async () => {
    const fake = failingApp();
    for (let i = 0; i < UNREADY_AFTER_ENGINE_FAILURES + 2; i++) {
      const res = await fake.app.inject({ method: "POST", url: "/v1/chat/completions", payload: "{" });
      expect(res.statusCode).toBe(400);
    }
    expect((await ready(fake)).status).toBe(200);
  });

  it("a request's own internal_error (a grammar llama.cpp refused) never counts toward the streak", async () => {
    const fake = buildFakeApp({
      script: () => {
        throw new ServerError("internal_error", "llama.cpp could not parse the grammar (test)");
      },
    });
    for (let i = 0; i < UNREADY_AFTER_ENGINE_FAILURES + 2; i++) {
      expect((await chat(fake)).statusCode).toBe(500);
    }
    expect((await ready(fake)).status).toBe(200);
  });
});

describe("readiness from the engine's health", () => {
  it("an engine whose health is failed (non-finite logits) makes /health/ready 503 with the detail", async () => {
    const fake = buildFakeApp();
    vi.spyOn(fake.engine, "health").mockReturnValue({
      status: "failed",
      activeSequences: 0,
      detail: "non-finite logits",
    });
    const res = await ready(fake);
    expect(res.status).toBe(503);
    expect(res.body.status).toBe("unhealthy");
    expect(res.body.reason).toBe("engine gpt-oss-fake is failed: non-finite logits");
    const health = await fake.app.inject("/health");
    expect(health.statusCode).toBe(503);
    expect(health.json().status).toBe("unhealthy");
  });

  it("a worker being restarted reports restarting (503) with the reason, not unhealthy", async () => {
    const fake = buildFakeApp();
    vi.spyOn(fake.engine, "health").mockReturnValue({
      status: "loading",
      activeSequences: 0,
      detail: "restarting after signal SIGKILL",
    });
    const res = await ready(fake);
    expect(res.status).toBe(503);
    expect(res.body).toEqual({
      status: "restarting",
      reason: "engine gpt-oss-fake is restarting after signal SIGKILL",
    });
    const health = await fake.app.inject("/health");
    expect(health.statusCode).toBe(503);
    expect(health.json()).toMatchObject({ status: "restarting", reason: res.body.reason });
  });
});
