/**
 * `gpt-oss-server serve`: the composition root. Listens first (so /health answers 503 "loading"
 * while the models load), loads each model's engine in turn, and shuts down in reverse order on SIGTERM/SIGINT:
 * stop taking work → let in-flight requests finish within the grace period (then cancel them) →
 * close HTTP → close the engine.
 */
import { hostname } from "node:os";
import type { FastifyInstance } from "fastify";
import { loadConfig, ConfigError } from "../config/load.ts";
import { getHarmonyTokenizer } from "../harmony/tokenizer.ts";
import { startsOnUpstreams, type ServerConfig } from "../config/schema.ts";
import { buildApp } from "../http/app.ts";
import { createServerMetrics } from "../metrics/prometheus.ts";
import { StatsCollector } from "../metrics/stats-collector.ts";
import { ModelUnavailableError } from "../models/registry.ts";
import { resolveLogFormat } from "../observability/log-format.ts";
import { createLogger, type ServerLogger } from "../observability/logger.ts";
import { createOtlpTracer } from "../observability/otlp-tracer.ts";
import type { RequestTracer } from "../observability/request-tracer.ts";
import type { SloAlertMonitor } from "../observability/slo-alert-monitor.ts";
import { Scheduler } from "../scheduler/scheduler.ts";
import { ModelPool, type ServedModel } from "../serving/model-pool.ts";
import { loadWarmPrompts } from "../serving/warm-prompts.ts";
import type { ServeArgs } from "./program.ts";
import { modelConfig, startServingEngine } from "./start-engine.ts";
import { bannerText, createSloAlerts } from "./start-observability.ts";

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  pool: ModelPool;
  /** Resolves when the model is loaded (or rejects when loading failed). */
  ready: Promise<void>;
  /** The SLO alerts (evaluated on a timer; tests call evaluate()). */
  alerts: SloAlertMonitor;
  shutdown(reason: string): Promise<void>;
}

export interface StartOptions {
  /** Print the start banner once the models are loaded (a log for people). */
  banner?: { colorize: boolean } | undefined;
}

export async function startServer(
  config: ServerConfig,
  log: ServerLogger,
  options: StartOptions = {},
): Promise<RunningServer> {
  const logger = log.logger;
  // Rendered before listening: a file that cannot be read or rendered stops the start.
  const warmPrompts = loadWarmPrompts(config.warmPrompt, config.date, config.contextSize);
  if (warmPrompts.length > 0) {
    logger.info(
      { warm_prompts: warmPrompts.map((p) => ({ source: p.source, tokens: p.tokens.length })) },
      startsOnUpstreams(config)
        ? "--warm-prompt: upstream engines are not warmed (their prefix caches are their own)"
        : "warm prompts rendered: every engine replica runs them before it serves",
    );
  }
  const warmTokens = warmPrompts.map((p) => p.tokens);
  const pool = new ModelPool({ strictNames: config.strictModelNames });
  const stats = new StatsCollector();
  // Loaded only with --otlp-endpoint: without it no OpenTelemetry module is imported.
  const tracer: RequestTracer | undefined =
    config.otlpEndpoint !== undefined
      ? await createOtlpTracer({
          endpoint: config.otlpEndpoint,
          logger,
          gpuModeOf: (modelId) => pool.find(modelId)?.engine.info.gpuMode,
        })
      : undefined;
  const metrics = createServerMetrics(
    {
      model_size: config.model.map((m) => (m.endsWith(".gguf") ? "file" : m)).join(","),
      gpu_mode: config.gpuMode,
    },
    // Each request's series carries the size of the model that served it.
    { modelSize: (modelId) => pool.find(modelId)?.size },
  );
  let shuttingDown = false;
  const identity = { name: hostname(), url: "" };
  const { alerts, webhook } = createSloAlerts(config, stats, metrics, logger, identity);
  const app = buildApp({
    config,
    pool,
    stats,
    metrics,
    logger,
    tracer,
    alerts,
    isShuttingDown: () => shuttingDown,
  });
  const address = await app.listen({ host: config.host, port: config.port }).catch(async (error: unknown) => {
    await Promise.all([webhook?.close(0), tracer?.shutdown()]);
    throw error;
  });
  identity.url = address;
  identity.name = `${hostname()}:${new URL(address).port}`;
  alerts.start();
  logger.info({ url: address, log_file: log.logFile }, "listening; loading the model");

  const ready = (async () => {
    try {
      // One model after another (loading is disk- and memory-bound), each with its own engine
      // (workers, replicas) and scheduler; ready once all are. A failure closes the ones loaded.
      // Upstreams name their model themselves: one pool entry for all of them.
      const specs = startsOnUpstreams(config) ? [config.model[0] ?? "upstream"] : config.model;
      for (const spec of specs) {
        const served = await startModel(modelConfig(config, spec), logger, warmTokens).catch(
          async (error: unknown) => {
            await Promise.all(pool.models.map((m) => m.engine.close()));
            throw error;
          },
        );
        if (pool.find(served.id) !== undefined) {
          await Promise.all([...pool.models, served].map((m) => m.engine.close()));
          throw new Error(`two of --model ${config.model.join(",")} are the same model (${served.id})`);
        }
        pool.add(served);
      }
      // The tokenizer loads in ~1.5-2 s; loaded lazily, the first request paid it (2.2 s to its first
      // token on the tiny model: docs/benchmarks.md, warm prefixes). Paid here, before ready, instead.
      getHarmonyTokenizer();
      pool.markReady();
      if (options.banner !== undefined)
        log.print(bannerText(config, pool, address, log.logFile, options.banner.colorize));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      pool.markFailed(message);
      logger.error(
        { err: error instanceof ModelUnavailableError ? undefined : error },
        `model failed to load: ${message}`,
      );
      throw error;
    }
  })();
  // The caller observes failures through `ready`; /health reports them meanwhile.
  ready.catch(() => undefined);

  let closing: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    closing ??= (async () => {
      shuttingDown = true;
      alerts.close();
      logger.info(
        { reason, grace_ms: config.shutdownTimeoutMs },
        "shutting down: finishing in-flight requests",
      );
      const deadline = Date.now() + config.shutdownTimeoutMs;
      await Promise.all(pool.models.map((m) => m.scheduler.close(config.shutdownTimeoutMs)));
      // Half a second at least, so that cancelled streams can still write their last event.
      await closeWithin(app, Math.max(500, deadline - Date.now()));
      await Promise.all(pool.models.map((m) => m.engine.close()));
      // Alerts still queued and the last spans get a moment (each bounded), then are let go.
      await Promise.all([webhook?.close(2000), tracer?.shutdown()]);
      logger.info("shutdown complete");
    })();
    return closing;
  };
  return { app, url: address, pool, ready, alerts, shutdown };
}

/** One model's engine (worker processes, replicas) and scheduler, loaded. */
async function startModel(
  config: ServerConfig,
  logger: ServerLogger["logger"],
  warmPrompts: readonly (readonly number[])[],
): Promise<ServedModel> {
  const engine = await startServingEngine(config, logger, warmPrompts);
  // llama.cpp may give less than asked (a cap of its own): serving a context the user did
  // not ask for silently (it once gave 256 tokens a sequence) is worse than not starting.
  // One cell of slack: the node-llama-cpp engine keeps one spare.
  if (
    config.engine !== "fake" &&
    engine.info.name !== "upstream" &&
    engine.info.contextSize < config.contextSize - 1
  ) {
    await engine.close();
    throw new Error(
      `the engine gave ${engine.info.contextSize} tokens a sequence, not the ${config.contextSize} asked ` +
        `(--context-size ${config.contextSize} × --parallel ${config.parallel}); lower one of them`,
    );
  }
  const scheduler = new Scheduler(engine, {
    maxConcurrent: engine.info.maxSequences,
    maxQueue: config.maxQueue,
  });
  const info = engine.info;
  logger.info(
    {
      model: info.modelId,
      engine: info.name,
      gpu_mode: info.gpuMode,
      sequences: info.maxSequences,
      context_per_sequence: info.contextSize,
      random_weights: info.randomWeights,
    },
    info.randomWeights
      ? `ready: ${info.modelId} has RANDOM WEIGHTS (real architecture and tokenizer; its output is noise)`
      : `ready: ${info.modelId}`,
  );
  return {
    id: info.modelId,
    size: info.modelSize,
    // What serves it: auto names the engine it chose (upstream, or custom: the embedded one).
    engineType:
      engine.info.name === "upstream" ? "upstream" : config.engine === "auto" ? "custom" : config.engine,
    engine,
    scheduler,
  };
}

/**
 * Closes the HTTP server, waiting for requests in flight at most `ms`; then every connection left
 * is destroyed. A client stalled mid-upload (or never reading its stream) would otherwise hold
 * `close()` open forever: shutdown ends within the grace period whatever clients do.
 */
async function closeWithin(app: FastifyInstance, ms: number): Promise<void> {
  const closing = app.close();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), ms);
  });
  const outcome = await Promise.race([closing.then(() => "closed" as const), late]);
  clearTimeout(timer);
  if (outcome === "late") app.server.closeAllConnections();
  await closing;
}

/** The serve command: returns the process exit code. */
export async function serveCommand(args: ServeArgs): Promise<number> {
  let config: ServerConfig;
  try {
    config = loadConfig({ flags: args.flags, configFile: args.configFile });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`gpt-oss-server: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const output = resolveLogFormat(config.logFormat, process.stdout.isTTY === true);
  const log = createLogger({
    level: config.logLevel,
    logDir: config.logFile,
    format: output.format,
    colorize: output.colorize,
  });
  let server: RunningServer;
  try {
    server = await startServer(
      config,
      log,
      output.format === "pretty" ? { banner: { colorize: output.colorize } } : {},
    );
  } catch (error) {
    process.stderr.write(`gpt-oss-server: cannot start: ${(error as Error).message}\n`);
    await log.close();
    return 1;
  }
  const exitCode = await new Promise<number>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      void server.shutdown(signal).then(
        () => resolve(0),
        (error: unknown) => {
          log.logger.error({ err: error }, "shutdown failed");
          resolve(1);
        },
      );
    };
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
    server.ready.catch((error: unknown) => {
      // Without a model the server cannot serve: say why (no stack trace for a missing file) and exit.
      process.stderr.write(`gpt-oss-server: ${(error as Error).message}\n`);
      void server.shutdown("model failed to load").then(() => resolve(1));
    });
  });
  await log.close();
  return exitCode;
}
