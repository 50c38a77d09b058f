/**
 * The HTTP app in-process over the scripted FakeEngine (a test double for the model): fast tests of
 * routing, validation, profiles, SSE framing and the error envelope without a model.
 */
import type { FastifyInstance } from "fastify";
import { pino, type Logger } from "pino";
import { defaultConfig } from "../../src/config/defaults.ts";
import type { ServerConfig } from "../../src/config/schema.ts";
import type { Engine, GenerationRequest } from "../../src/engines/engine.ts";
import { FakeEngine } from "../../src/engines/fake/fake-engine.ts";
import { demoHarmonyScript } from "../../src/engines/fake/demo-script.ts";
import { buildApp } from "../../src/http/app.ts";
import { createServerMetrics } from "../../src/metrics/prometheus.ts";
import { StatsCollector } from "../../src/metrics/stats-collector.ts";
import { Scheduler } from "../../src/scheduler/scheduler.ts";
import { ModelPool } from "../../src/serving/model-pool.ts";

export interface FakeApp {
  app: FastifyInstance;
  pool: ModelPool;
  engine: FakeEngine;
  stats: StatsCollector;
  shutdown: { value: boolean };
}

export interface FakeAppOptions {
  config?: Partial<ServerConfig>;
  script?: (req: GenerationRequest) => readonly number[];
  tokenDelayMs?: number;
  maxSequences?: number;
  contextSize?: number;
  /** Leave the pool "loading" (no model yet). */
  loading?: boolean;
  /** The engine's grammar capability (default true). */
  grammar?: boolean;
  /** The engine's logprobs capability (default true). */
  logprobs?: boolean;
  /** Defaults to a silent logger. */
  logger?: Logger;
  /** Serve this engine (a test double of another kind) instead of the FakeEngine. */
  serve?: Engine;
  /** The stats collector's clock (readiness's failure cool-down reads it); default Date.now. */
  statsNow?: () => number;
}

export function buildFakeApp(options: FakeAppOptions = {}): FakeApp {
  const config: ServerConfig = Object.freeze({
    ...defaultConfig(),
    engine: "fake",
    model: ["tiny"],
    ...options.config,
  });
  const engine = new FakeEngine({
    modelId: "gpt-oss-fake",
    modelSize: "fake",
    script: options.script ?? demoHarmonyScript(),
    tokenDelayMs: options.tokenDelayMs ?? 0,
    maxSequences: options.maxSequences ?? 4,
    contextSize: options.contextSize ?? 4096,
    ...(options.grammar !== undefined ? { grammar: options.grammar } : {}),
    ...(options.logprobs !== undefined ? { logprobs: options.logprobs } : {}),
  });
  const pool = new ModelPool({ strictNames: config.strictModelNames });
  if (options.loading !== true) {
    const served = options.serve ?? engine;
    const scheduler = new Scheduler(served, {
      maxConcurrent: served.info.maxSequences,
      maxQueue: config.maxQueue,
    });
    pool.add({ id: served.info.modelId, size: "fake", engineType: "fake", engine: served, scheduler });
    pool.markReady();
  }
  const stats = new StatsCollector(options.statsNow !== undefined ? { now: options.statsNow } : {});
  const shutdown = { value: false };
  const app = buildApp({
    config,
    pool,
    stats,
    metrics: createServerMetrics({ model_size: "fake", gpu_mode: "cpu" }),
    logger: options.logger ?? pino({ level: "silent" }),
    isShuttingDown: () => shutdown.value,
  });
  return { app, pool, engine, stats, shutdown };
}

/** Parses an SSE body into its data payloads ("[DONE]" kept as the string). */
export function sseData(body: string): unknown[] {
  return body
    .split("\n\n")
    .filter((e) => e.startsWith("data: "))
    .map((e) => {
      const data = e.slice(6);
      return data === "[DONE]" ? data : (JSON.parse(data) as unknown);
    });
}

/** Our ids of the requests queued or running in the pool (ids are random: tests read them here). */
export function runningIds(pool: ModelPool): string[] {
  return pool.models.flatMap((m) => m.scheduler.requestIds());
}
