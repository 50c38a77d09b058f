import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildProgram, type CliHandlers, type ServeArgs } from "./program.ts";
import { loadConfig } from "../config/load.ts";

/** Parses a serve command line in-process and returns the flags it hands to serve(). */
async function serveFlags(argv: string[]): Promise<ServeArgs> {
  let got: ServeArgs | undefined;
  const handlers = {
    serve: (args: ServeArgs) => {
      got = args;
      return Promise.resolve(0);
    },
  } as unknown as CliHandlers;
  await buildProgram(handlers, () => undefined).parseAsync(["node", "gpt-oss-server", ...argv]);
  if (got === undefined) throw new Error("serve was not called");
  return got;
}

describe("serve flags of issue 10 (token budget, model names, keep-alive)", () => {
  it("reach the config under their keys", async () => {
    const args = await serveFlags([
      "--default-max-tokens",
      "profile",
      "--max-tokens-cap",
      "2048",
      "--strict-model-names",
      "--sse-keepalive",
      "15000",
    ]);
    const config = loadConfig({ flags: args.flags, env: {} });
    expect(config).toMatchObject({
      defaultMaxTokens: "profile",
      maxTokensCap: 2048,
      strictModelNames: true,
      sseKeepaliveMs: 15000,
    });
    const plain = loadConfig({ flags: (await serveFlags([])).flags, env: {} });
    expect(plain).toMatchObject({
      defaultMaxTokens: "context",
      strictModelNames: false,
      sseKeepaliveMs: 5000,
    });
  });
});

describe("serve flags of issue 11 (several models, replicas, GPUs)", () => {
  it("--model repeated or comma-separated, --gpus and --replicas-per-gpu reach the config", async () => {
    const config = async (argv: string[]) => loadConfig({ flags: (await serveFlags(argv)).flags, env: {} });
    expect((await config(["--model", "20b", "--model", "120b"])).model).toEqual(["20b", "120b"]);
    expect((await config(["--model", "20b,120b"])).model).toEqual(["20b", "120b"]);
    expect(await config(["--gpus", "0,1", "--replicas-per-gpu", "2", "--replicas", "3"])).toMatchObject({
      gpus: ["0", "1"],
      replicasPerGpu: 2,
      replicas: 3,
    });
  });
});

describe("serve flags of issue 13 (SLO alerts, traces, log format)", () => {
  it("reach the config under their keys; the defaults are the personal gate's", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gptoss-hook-"));
    const keyFile = join(dir, "hook-key");
    writeFileSync(keyFile, "# the receiver's token\nhook-token\n");
    const args = await serveFlags([
      "--log-format",
      "pretty",
      "--slo-error-rate",
      "0.05",
      "--slo-p95-ttft-ms",
      "2000",
      "--slo-p95-e2e-ms",
      "20000",
      "--slo-p95-queue-ms",
      "1000",
      "--alert-window",
      "60",
      "--alert-interval",
      "1000",
      "--alert-min-requests",
      "5",
      "--alert-webhook",
      "https://hooks.example/alerts",
      "--alert-webhook-key-file",
      keyFile,
      "--otlp-endpoint",
      "http://collector:4318",
    ]);
    expect(loadConfig({ flags: args.flags, env: {} })).toMatchObject({
      logFormat: "pretty",
      sloErrorRate: 0.05,
      sloP95TtftMs: 2000,
      sloP95E2eMs: 20_000,
      sloP95QueueMs: 1000,
      alertWindowSeconds: 60,
      alertIntervalMs: 1000,
      alertMinRequests: 5,
      alertWebhook: "https://hooks.example/alerts",
      alertWebhookKey: "hook-token",
      otlpEndpoint: "http://collector:4318",
    });
    const plain = loadConfig({ flags: (await serveFlags([])).flags, env: {} });
    expect(plain).toMatchObject({
      logFormat: "auto",
      sloErrorRate: 0.01,
      sloP95TtftMs: 10_000,
      sloP95E2eMs: 30_000,
      sloP95QueueMs: 5000,
    });
    expect(plain.alertWebhook).toBeUndefined();
    expect(plain.otlpEndpoint).toBeUndefined();
  });

  it("refuses a log format it does not know, and a webhook that is not a URL", () => {
    expect(() => loadConfig({ flags: { alertWebhook: "not a url" }, env: {} })).toThrow(/alertWebhook/);
    expect(() => loadConfig({ flags: {}, env: { GPTOSS_LOG_FORMAT: "xml" } })).toThrow(/logFormat/);
  });
});
