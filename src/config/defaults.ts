import { homedir } from "node:os";
import { join } from "node:path";
import type { ServerConfig } from "./schema.ts";

export function defaultCacheDir(): string {
  return join(homedir(), ".cache", "gpt-oss-server");
}

/** Today's date in UTC as YYYY-MM-DD: the harmony "Current date", fixed for this start. */
export function todayUtc(now: Date = new Date()): string {
  return now.toISOString().slice(0, 10);
}

export function defaultConfig(): ServerConfig {
  const cacheDir = defaultCacheDir();
  return {
    engine: "custom",
    core: "native",
    engineProcess: "worker",
    profile: "latency_first",
    model: ["20b"],
    modelsDir: join(cacheDir, "models"),
    cacheDir,
    gpuMode: "auto",
    host: "127.0.0.1",
    port: 8000,
    logLevel: "info",
    logFormat: "auto",
    parallel: 16,
    stepTokens: 2048,
    contextSize: 8192,
    maxQueue: 256,
    defaultMaxTokens: "context",
    strictModelNames: false,
    sseKeepaliveMs: 5000,
    bodyLimitBytes: 4 * 1024 * 1024,
    apiKey: [],
    upstream: [],
    upstreamTimeoutMs: 30_000,
    upstreamParallel: 64,
    upstreamDialect: "auto",
    publicMetrics: false,
    bodyTimeoutMs: 30_000,
    maxConnections: 4096,
    shutdownTimeoutMs: 10_000,
    date: todayUtc(),
    threads: 0,
    replicas: 1,
    gpus: [],
    replicasPerGpu: 1,
    sloErrorRate: 0.01,
    sloP95E2eMs: 30_000,
    sloP95TtftMs: 10_000,
    sloP95QueueMs: 5000,
    alertWindowSeconds: 300,
    alertIntervalMs: 5000,
    alertMinRequests: 20,
    fakeTokenDelayMs: 0,
    responsesStoreSize: 1000,
    responsesStoreTtlMs: 60 * 60 * 1000,
    responsesStoreBytes: 256 * 1024 * 1024,
    strictTools: false,
    responseCache: false,
    responseCacheBytes: 64 * 1024 * 1024,
    responseCacheTtlMs: 10 * 60 * 1000,
    warmPrompt: [],
    downloadUrl: "https://huggingface.co",
    allowDownload: true,
  };
}
