import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, envName, loadConfig } from "./load.ts";
import { pickAutoProfile } from "./profiles.ts";

function configFile(content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "gptoss-config-"));
  const path = join(dir, "config.json");
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

describe("loadConfig", () => {
  it("uses the defaults: localhost, port 8000, latency_first", () => {
    const c = loadConfig({ flags: {}, env: {} });
    expect([c.host, c.port, c.profile, c.engine]).toEqual(["127.0.0.1", 8000, "latency_first", "custom"]);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it("applies flag > env > file > default", () => {
    const file = configFile({ port: 7000, profile: "balanced", maxQueue: 3 });
    const env = { GPTOSS_PORT: "7100", GPTOSS_PROFILE: "quality_first" };
    const c = loadConfig({ flags: { port: "7200" }, configFile: file, env });
    expect(c.port).toBe(7200);
    expect(c.profile).toBe("quality_first");
    expect(c.maxQueue).toBe(3);
  });

  it("reads the response cache as on/off (off by default) and the warm prompts as a list", () => {
    const d = loadConfig({ flags: {}, env: {} });
    expect([d.responseCache, d.responseCacheBytes, d.responseCacheTtlMs, d.warmPrompt]).toEqual([
      false,
      64 * 1024 * 1024,
      600_000,
      [],
    ]);
    const c = loadConfig({
      flags: { responseCache: "on", responseCacheTtlMs: "5000", warmPrompt: ["a.json", "b.txt"] },
      env: { GPTOSS_RESPONSE_CACHE_BYTES: "1000" },
    });
    expect([c.responseCache, c.responseCacheBytes, c.responseCacheTtlMs]).toEqual([true, 1000, 5000]);
    expect(c.warmPrompt).toEqual(["a.json", "b.txt"]);
    expect(loadConfig({ flags: {}, env: { GPTOSS_RESPONSE_CACHE: "off" } }).responseCache).toBe(false);
    expect(() => loadConfig({ flags: { responseCache: "maybe" }, env: {} })).toThrow(ConfigError);
  });

  it("reads upstreams as a list and their numbers as numbers, from flags and env", () => {
    const c = loadConfig({
      flags: { engine: "upstream", upstream: ["http://a:1,http://b:2"], upstreamParallel: "8" },
      env: { GPTOSS_UPSTREAM_TIMEOUT_MS: "1500" },
    });
    expect(c.upstream).toEqual(["http://a:1", "http://b:2"]);
    expect([c.upstreamParallel, c.upstreamTimeoutMs]).toEqual([8, 1500]);
    expect(() => loadConfig({ flags: { upstream: ["not a url"] }, env: {} })).toThrow(ConfigError);
  });

  it("names environment variables GPTOSS_SNAKE_CASE", () => {
    expect(envName("shutdownTimeoutMs")).toBe("GPTOSS_SHUTDOWN_TIMEOUT_MS");
    expect(envName("port")).toBe("GPTOSS_PORT");
  });

  it("keeps a zero (falsy values keep their meaning)", () => {
    expect(loadConfig({ flags: { port: 0, maxQueue: 0 }, env: {} })).toMatchObject({ port: 0, maxQueue: 0 });
  });

  it("refuses a context size × parallel that llama.cpp's cache count cannot hold", () => {
    expect(() => loadConfig({ flags: { contextSize: 1 << 20, parallel: 32 }, env: {} })).toThrow(
      /contextSize × parallel must be at most/,
    );
    expect(loadConfig({ flags: { contextSize: 1 << 16, parallel: 64 }, env: {} }).parallel).toBe(64);
  });

  it("collects API keys from repeated flags, a comma list in the environment and a key file", () => {
    const dir = mkdtempSync(join(tmpdir(), "gptoss-keys-"));
    const file = join(dir, "keys");
    writeFileSync(file, "# rotated 2026-12\nfile-key\n\n");
    expect(loadConfig({ flags: { apiKey: ["a", "b"] }, env: {} }).apiKey).toEqual(["a", "b"]);
    expect(loadConfig({ flags: {}, env: { GPTOSS_API_KEY: "x, y" } }).apiKey).toEqual(["x", "y"]);
    expect(loadConfig({ flags: { apiKey: ["a"], apiKeyFile: file }, env: {} }).apiKey).toEqual([
      "a",
      "file-key",
    ]);
    expect(loadConfig({ flags: {}, env: {} }).apiKey).toEqual([]);
    writeFileSync(file, "# nothing\n");
    expect(() => loadConfig({ flags: { apiKeyFile: file }, env: {} })).toThrow(/holds no key/);
  });

  it("rejects invalid values with a message naming the key", () => {
    expect(() => loadConfig({ flags: { port: "eighty" }, env: {} })).toThrow(ConfigError);
    expect(() => loadConfig({ flags: { profile: "fastest" }, env: {} })).toThrow(/profile/);
    expect(() => loadConfig({ flags: {}, configFile: configFile("{nope"), env: {} })).toThrow(
      /not valid JSON/,
    );
  });

  it("takes stepTokens from flag > env > default and refuses values llama.cpp cannot take", () => {
    expect(loadConfig({ flags: {}, env: {} }).stepTokens).toBe(2048);
    expect(loadConfig({ flags: {}, env: { GPTOSS_STEP_TOKENS: "512" } }).stepTokens).toBe(512);
    expect(loadConfig({ flags: { stepTokens: 256 }, env: { GPTOSS_STEP_TOKENS: "512" } }).stepTokens).toBe(
      256,
    );
    expect(() => loadConfig({ flags: { stepTokens: 8 }, env: {} })).toThrow(/stepTokens/);
  });

  it("takes maxBatchSize from flag > env > file, and leaves it unset by default", () => {
    const file = configFile({ maxBatchSize: 40 });
    const env = { GPTOSS_MAX_BATCH_SIZE: "50" };
    expect(loadConfig({ flags: {}, env: {} }).maxBatchSize).toBeUndefined();
    expect(loadConfig({ flags: {}, configFile: file, env: {} }).maxBatchSize).toBe(40);
    expect(loadConfig({ flags: {}, configFile: file, env }).maxBatchSize).toBe(50);
    expect(loadConfig({ flags: { maxBatchSize: "64" }, configFile: file, env }).maxBatchSize).toBe(64);
  });

  it("rejects a maxBatchSize that is not a positive integer, naming the key", () => {
    for (const bad of ["0", "-4", "2.5", "many", 0, -1, 1.5]) {
      expect(() => loadConfig({ flags: { maxBatchSize: bad }, env: {} })).toThrow(ConfigError);
      expect(() => loadConfig({ flags: { maxBatchSize: bad }, env: {} })).toThrow(/maxBatchSize/);
    }
    expect(() => loadConfig({ flags: {}, env: { GPTOSS_MAX_BATCH_SIZE: "0" } })).toThrow(/maxBatchSize/);
    const file = configFile({ maxBatchSize: "lots" });
    expect(() => loadConfig({ flags: {}, configFile: file, env: {} })).toThrow(/maxBatchSize/);
  });

  it("reads the token budget, model-name and keep-alive options from flags and the environment", () => {
    const defaults = loadConfig({ flags: {}, env: {} });
    expect(defaults).toMatchObject({
      defaultMaxTokens: "context",
      strictModelNames: false,
      sseKeepaliveMs: 5000,
    });
    expect(defaults.maxTokensCap).toBeUndefined();
    const env = {
      GPTOSS_DEFAULT_MAX_TOKENS: "profile",
      GPTOSS_MAX_TOKENS_CAP: "4096",
      GPTOSS_STRICT_MODEL_NAMES: "1",
      GPTOSS_SSE_KEEPALIVE_MS: "0",
    };
    expect(loadConfig({ flags: {}, env })).toMatchObject({
      defaultMaxTokens: "profile",
      maxTokensCap: 4096,
      strictModelNames: true,
      sseKeepaliveMs: 0,
    });
    expect(loadConfig({ flags: { defaultMaxTokens: "1500" }, env }).defaultMaxTokens).toBe(1500);
    expect(() => loadConfig({ flags: { defaultMaxTokens: "lots" }, env: {} })).toThrow(/defaultMaxTokens/);
    expect(() => loadConfig({ flags: { maxTokensCap: "0" }, env: {} })).toThrow(/maxTokensCap/);
  });

  it("takes several models from a comma list, the flag repeated, GPTOSS_MODEL or a config-file array", () => {
    expect(loadConfig({ flags: {}, env: {} }).model).toEqual(["20b"]);
    expect(loadConfig({ flags: { model: ["20b,120b"] }, env: {} }).model).toEqual(["20b", "120b"]);
    expect(loadConfig({ flags: { model: ["20b", "120b"] }, env: {} }).model).toEqual(["20b", "120b"]);
    expect(loadConfig({ flags: { model: "tiny" }, env: {} }).model).toEqual(["tiny"]);
    expect(loadConfig({ flags: {}, env: { GPTOSS_MODEL: "tiny, /m/x.gguf" } }).model).toEqual([
      "tiny",
      "/m/x.gguf",
    ]);
    const file = configFile({ model: ["120b", "20b"] });
    expect(loadConfig({ flags: {}, configFile: file, env: {} }).model).toEqual(["120b", "20b"]);
    expect(loadConfig({ flags: {}, configFile: configFile({ model: "tiny" }), env: {} }).model).toEqual([
      "tiny",
    ]);
    expect(() => loadConfig({ flags: { model: ["20b,20b"] }, env: {} })).toThrow(
      /model: a model is listed twice/,
    );
    expect(() => loadConfig({ flags: { model: [","] }, env: {} })).toThrow(/model/);
  });

  it("takes GPUs for replicas from --gpus (repeated or a comma list), GPTOSS_GPUS or a file", () => {
    expect(loadConfig({ flags: {}, env: {} })).toMatchObject({ gpus: [], replicas: 1, replicasPerGpu: 1 });
    expect(loadConfig({ flags: { gpus: ["0,1"], replicasPerGpu: "2" }, env: {} })).toMatchObject({
      gpus: ["0", "1"],
      replicasPerGpu: 2,
    });
    expect(loadConfig({ flags: { gpus: ["2", "3"] }, env: {} }).gpus).toEqual(["2", "3"]);
    expect(
      loadConfig({ flags: {}, env: { GPTOSS_GPUS: "0, GPU-5d3c", GPTOSS_REPLICAS_PER_GPU: "3" } }),
    ).toMatchObject({ gpus: ["0", "GPU-5d3c"], replicasPerGpu: 3 });
    expect(loadConfig({ flags: {}, configFile: configFile({ gpus: [0, 1] }), env: {} }).gpus).toEqual([
      "0",
      "1",
    ]);
    expect(() => loadConfig({ flags: { gpus: ["0;rm"] }, env: {} })).toThrow(/gpus/);
    expect(() => loadConfig({ flags: { replicas: "0" }, env: {} })).toThrow(/replicas/);
  });

  it("puts the models folder under a chosen cache folder", () => {
    expect(loadConfig({ flags: { cacheDir: "/tmp/c" }, env: {} }).modelsDir).toBe("/tmp/c/models");
    expect(loadConfig({ flags: { cacheDir: "/tmp/c", modelsDir: "/m" }, env: {} }).modelsDir).toBe("/m");
  });
});

describe("pickAutoProfile", () => {
  it("maps request size to a profile", () => {
    expect(pickAutoProfile(100, 100)).toBe("latency_first");
    expect(pickAutoProfile(100, 4000)).toBe("quality_first");
    expect(pickAutoProfile(5000, 100)).toBe("balanced");
    expect(pickAutoProfile(100, undefined)).toBe("latency_first");
  });
});
