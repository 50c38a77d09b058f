/**
 * The one server config: a zod schema, one defaults object, loaded once (config/load.ts), frozen and
 * passed down. Only the loader reads process.env.
 */
import { z } from "zod";
import { DIALECT_NAMES } from "../engines/upstream/dialect.ts";
import { parseUpstreamSpec, upstreamSpecProblem } from "../engines/upstream/upstream-spec.ts";
import { PROFILE_NAMES } from "./profiles.ts";

export const ENGINE_TYPES = ["custom", "vllm", "upstream", "auto", "fake"] as const;
/** Engine types served by upstream servers (--upstream), not by an embedded engine. */
export const UPSTREAM_ENGINE_TYPES: ReadonlySet<string> = new Set(["vllm", "upstream"]);

/** Whether the server starts on upstreams: an upstream engine type, or auto with --upstream given. */
export function startsOnUpstreams(config: { engine: string; upstream: readonly string[] }): boolean {
  return UPSTREAM_ENGINE_TYPES.has(config.engine) || (config.engine === "auto" && config.upstream.length > 0);
}

/**
 * Engine replicas (worker processes) of each embedded model: one a GPU of `--gpus` (times
 * `--replicas-per-gpu`), else `--replicas`. start-engine.ts starts this many, each with `--parallel`
 * sequences of its own.
 */
export function embeddedReplicas(config: {
  gpus?: readonly string[];
  replicas?: number;
  replicasPerGpu?: number;
}): number {
  const gpus = config.gpus ?? [];
  return gpus.length > 0 ? gpus.length * (config.replicasPerGpu ?? 1) : (config.replicas ?? 1);
}

/**
 * Sequences a model can run at once: `--parallel` for each of an embedded engine's replicas
 * (`--gpus 0,1,2,3 --parallel 64` runs 256); on upstreams, what they take together (each one's
 * `parallel`, else `--upstream-parallel`), since `--parallel` sizes an embedded KV cache a gateway
 * does not have. Profiles' batch caps are clamped to this.
 */
export function sequenceCapacity(config: {
  engine: string;
  upstream: readonly string[];
  upstreamParallel: number;
  parallel: number;
  gpus?: readonly string[];
  replicas?: number;
  replicasPerGpu?: number;
}): number {
  if (!startsOnUpstreams(config) || config.upstream.length === 0) {
    return config.parallel * embeddedReplicas(config);
  }
  return config.upstream.reduce(
    (sum, raw) => sum + (parseUpstreamSpec(raw).parallel ?? config.upstreamParallel),
    0,
  );
}
export const LOG_FORMATS = ["auto", "pretty", "json"] as const;
export const GPU_MODES = ["auto", "single", "pipeline", "tensor", "cpu"] as const;
/** What runs the embedded engine's decode loop: the native core, or node-llama-cpp alone. */
export const CORE_TYPES = ["native", "node-llama-cpp"] as const;
/** worker: each engine replica in a supervised child process; inline: in the HTTP process (debugging). */
export const ENGINE_PROCESS_MODES = ["worker", "inline"] as const;

/**
 * The largest KV cache (context per sequence × sequences) we let llama.cpp allocate: its n_ctx is a
 * 32-bit count, and beyond about 2^24 cells no GPU holds gpt-oss's cache anyway. A product that
 * overflowed used to start silently with 256 tokens a sequence.
 */
export const MAX_TOTAL_CONTEXT = 1 << 24;

export const configSchema = z
  .object({
    engine: z.enum(ENGINE_TYPES),
    /** The embedded engine's decode core (engine custom/auto); "native" falls back when not built. */
    core: z.enum(CORE_TYPES),
    engineProcess: z.enum(ENGINE_PROCESS_MODES),
    profile: z.enum(PROFILE_NAMES),
    /**
     * The models served, each with its own engine (workers, replicas) and scheduler: tiny | 20b |
     * 120b | path/to/file.gguf. Flag repeated or comma-separated, GPTOSS_MODEL comma-separated, or a
     * JSON array. Requests pick one by name; `auto` takes the profile's preferred size.
     */
    model: z
      .array(z.string().min(1))
      .min(1, "name at least one model")
      .max(8)
      .refine((models) => new Set(models).size === models.length, "a model is listed twice"),
    modelsDir: z.string().min(1),
    cacheDir: z.string().min(1),
    gpuMode: z.enum(GPU_MODES),
    host: z.string().min(1),
    port: z.number().int().min(0).max(65535),
    /**
     * Bearer keys, any of which is accepted (several, so a key can be rotated without downtime).
     * Empty: no authentication. Flag repeated, GPTOSS_API_KEY comma-separated, or a JSON array.
     */
    apiKey: z.array(z.string().min(1, "an API key cannot be empty")).max(1000),
    /** A file of keys, one a line (# comments); merged with apiKey at load. */
    apiKeyFile: z.string().min(1).optional(),
    /** A key that opens /metrics only (a Prometheus scraper need not hold an API key). */
    metricsKey: z.string().min(1).optional(),
    /** Serve /metrics without any key even when API keys are set (a scraper on a private network). */
    publicMetrics: z.boolean(),
    /** A request body that sends nothing for this long is cut with 408 (slow or stalled uploads). */
    bodyTimeoutMs: z.number().int().min(100),
    /** Open connections beyond this are refused at accept (0 = no cap). */
    maxConnections: z.number().int().min(0),
    logFile: z.string().min(1).optional(),
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
    /** stdout lines: readable (pretty) or JSON; auto: pretty on a terminal, JSON when piped. The file is JSON. */
    logFormat: z.enum(LOG_FORMATS),
    /** Sequences the engine runs at once (the KV cache is sized for this many). */
    parallel: z.number().int().min(1).max(256),
    /**
     * When set, replaces every profile's maxBatchSize (its cap on requests running at once); unset,
     * the v4.5.1 caps hold. Either way no cap exceeds the sequences of all replicas
     * (`parallel` each: config/effective-profiles.ts).
     */
    maxBatchSize: z.number().int().min(1).optional(),
    /**
     * Most tokens one decode step carries, prompt chunks included (native core; llama.cpp's n_batch).
     * Lower keeps running streams smooth while new prompts are read; higher reads prompts faster.
     */
    stepTokens: z.number().int().min(16).max(65_536),
    /** Context per sequence, in tokens. */
    contextSize: z.number().int().min(256),
    /** Requests waiting beyond this get 429. */
    maxQueue: z.number().int().min(0),
    /**
     * A request's completion budget when it sends no max_tokens / max_output_tokens: "context" (all
     * the context the prompt leaves, as OpenAI and vLLM do), "profile" (the profile's max_new_tokens)
     * or a number of tokens. See serving/completion-budget.ts.
     */
    defaultMaxTokens: z.union([z.enum(["context", "profile"]), z.number().int().min(1)]),
    /** Operator cap on any request's completion tokens, asked or defaulted (unset: none but the context). */
    maxTokensCap: z.number().int().min(1).optional(),
    /** A gpt-oss size this server does not serve (gpt-oss-120b on a 20b server) is a 404, not a fallback. */
    strictModelNames: z.boolean(),
    /** SSE comment (`: keep-alive`) after this long without an event, while queued or prefilling (0 = never). */
    sseKeepaliveMs: z.number().int().min(0),
    bodyLimitBytes: z.number().int().min(1024),
    shutdownTimeoutMs: z.number().int().min(0),
    /** Date written into the harmony system message: fixed per start so prefix caching works. */
    date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
    threads: z.number().int().min(0),
    /** Engine replicas on a machine without GPUs listed (each a worker process). */
    replicas: z.number().int().min(1).max(64),
    /** GPUs to use, one replica (or replicasPerGpu) each, each with its own CUDA_VISIBLE_DEVICES. */
    gpus: z.array(z.string().regex(/^[0-9A-Za-z-]+$/, "a GPU index or UUID")).max(64),
    replicasPerGpu: z.number().int().min(1).max(16),
    /** Health-score SLOs (v4.5.1 values). */
    sloErrorRate: z.number().min(0).max(1),
    sloP95E2eMs: z.number().positive(),
    sloP95TtftMs: z.number().positive(),
    /** p95 wait in the scheduler's queue for a slot (an SLO of ours: alerts only, not the score). */
    sloP95QueueMs: z.number().positive(),
    /** SLO alerts judge the requests finished in the last this many seconds. */
    alertWindowSeconds: z.number().positive(),
    /** How often SLO alerts are evaluated. */
    alertIntervalMs: z.number().int().min(100),
    /** Fewer requests than this in the alert window (for a figure) are too few to judge: no alert. */
    alertMinRequests: z.number().int().min(1),
    /** POST each alert's start and end as JSON here (retried, bounded, never blocking requests). */
    alertWebhook: z.string().url().optional(),
    /** Bearer key sent to the alert webhook (read from alertWebhookKeyFile at load, or set directly). */
    alertWebhookKey: z.string().min(1).optional(),
    alertWebhookKeyFile: z.string().min(1).optional(),
    /** OTLP/HTTP collector (base URL; `/v1/traces` is added unless given): a span a request. Unset: no tracing. */
    otlpEndpoint: z.string().url().optional(),
    /** Base URL the official 20b/120b GGUFs are downloaded from (a Hugging Face mirror). */
    downloadUrl: z.string().url(),
    /** Download 20b/120b when missing locally. */
    allowDownload: z.boolean(),
    /**
     * For --engine vllm|upstream: the upstream servers' base URLs (vLLM, SGLang, our own server: a
     * /v1/completions that takes token-id prompts and returns token ids, vLLM's `return_token_ids`).
     */
    upstream: z.array(
      z.string().superRefine((raw, ctx) => {
        const problem = upstreamSpecProblem(raw);
        if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
      }),
    ),
    /**
     * How the upstreams are spoken to: auto (probed per upstream), vllm, sglang, llama-server, or
     * openai-chat (any OpenAI-compatible server, chat level). An upstream URL's `#dialect=` wins.
     */
    upstreamDialect: z.enum(["auto", ...DIALECT_NAMES]),
    /** The Bearer key sent to every upstream (none: no Authorization header). */
    upstreamKey: z.string().optional(),
    /** How long an upstream may take to answer a request's headers (then it counts as down). */
    upstreamTimeoutMs: z.number().int().positive(),
    /** Requests in flight at most per upstream (its scheduler's concurrency). */
    upstreamParallel: z.number().int().positive(),
    /** Responses API: stored responses kept for GET and previous_response_id (LRU; 0 = none). */
    responsesStoreSize: z.number().int().min(0),
    /** Responses API: the stored responses' total size (approximate bytes of their JSON); LRU beyond. */
    responsesStoreBytes: z.number().int().min(0),
    /** Responses API: how long a stored response lives, in milliseconds. */
    responsesStoreTtlMs: z.number().int().min(1),
    /**
     * The response cache (serving/response-cache.ts): a greedy request that renders to what an
     * earlier one did gets that one's answer. Off by default (docs/operations.md says why).
     */
    responseCache: z.boolean(),
    /** The response cache's total size (approximate bytes of its answers' events); LRU beyond. */
    responseCacheBytes: z.number().int().min(0),
    /** How long a cached answer is served, in milliseconds. */
    responseCacheTtlMs: z.number().int().min(1),
    /**
     * Files of prompt prefixes (system prompts, tool sets) to put in every engine replica's prefix
     * cache at start and after each worker restart (serving/warm-prompts.ts).
     */
    warmPrompt: z.array(z.string().min(1)).max(64),
    /** Responses API: hosted tools (web_search, mcp, ...) are a 400 instead of left out with a warning. */
    strictTools: z.boolean(),
    /** Fake engine only: delay between generated tokens. */
    fakeTokenDelayMs: z.number().min(0),
  })
  .strict()
  .refine((c) => c.contextSize * c.parallel <= MAX_TOTAL_CONTEXT, {
    message:
      `contextSize × parallel must be at most ${MAX_TOTAL_CONTEXT} tokens (the whole KV cache); ` +
      "lower --context-size or --parallel",
    path: ["contextSize"],
  });

export type ServerConfig = Readonly<z.infer<typeof configSchema>>;

export type ConfigKey = keyof z.infer<typeof configSchema>;
