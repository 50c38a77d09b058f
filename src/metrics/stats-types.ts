/**
 * The /stats wire object (snake_case; also embedded in /health as `stats`). The field list follows
 * shared/design/api-contract.md: the v4.5.1 fields plus per-profile figures, tokens and the window.
 */

/** /health's and /stats's `model_info`: supplied by the caller, passed through unchanged. */
export interface ModelInfo {
  current_model: string;
  gpu_mode: string;
  default_profile: string;
  models: string[];
  random_weights: boolean;
}

export interface ProfileStats {
  /** Finished requests of this profile since start (rejected ones included). */
  requests: number;
  /** Over the window, like the top-level error_rate. */
  error_rate: number;
  p95_ttft_ms: number | null;
  p95_e2e_ms: number | null;
}

export interface StatsSnapshot {
  /** Cumulative since start: success + failed + cancelled + rejected. */
  requests_total: number;
  requests_success: number;
  requests_failed: number;
  requests_cancelled: number;
  requests_rejected: number;
  /** Started and not yet finished (queued or generating). */
  active_requests: number;
  /** Streaming requests in flight. */
  active_streams: number;
  /** Requests waiting in the scheduler's queue (from the caller). */
  queue_length: number;
  /** Finished requests per second over the window. */
  qps: number;
  /** failed / (success + failed + cancelled) over the window; rejected requests are excluded. */
  error_rate: number;
  /** cancelled / (success + failed + cancelled) over the window. */
  cancel_rate: number;
  p50_ttft_ms: number | null;
  p95_ttft_ms: number | null;
  p99_ttft_ms: number | null;
  p50_e2e_ms: number | null;
  p95_e2e_ms: number | null;
  p99_e2e_ms: number | null;
  /** Wait in the scheduler's queue for a slot (admitted requests, and those that timed out there). */
  p50_queue_ms: number | null;
  p95_queue_ms: number | null;
  p99_queue_ms: number | null;
  /** Cumulative counts of accepted (non-rejected) requests by engine, model, profile. */
  engine_usage: Record<string, number>;
  model_usage: Record<string, number>;
  profile_usage: Record<string, number>;
  uptime_seconds: number;
  per_profile: Record<string, ProfileStats>;
  /** Cumulative token totals. */
  tokens: { prompt: number; cached_prompt: number; completion: number; reasoning: number };
  /** Completion tokens per second over the window. */
  tokens_per_second: number;
  /** Cumulative failed + rejected requests by error code. */
  errors_by_code: Record<string, number>;
  /** size: entries now in the window; seconds: the span rates are computed over; max_*: the limits. */
  window: { size: number; seconds: number; max_size: number; max_seconds: number };
  model_info: ModelInfo;
}

/** /stats's `replicas` entry: one replica of a model served by several (--replicas, --gpus). */
export interface ReplicaStats {
  model_id: string;
  index: number;
  status: string;
  running_requests: number;
  /** Since start: requests sent here (each replica a failed-over request ran on counts it). */
  requests: number;
  completion_tokens: number;
  /** Requests sent here because it had served a prefix of their prompt. */
  affinity_hits: number;
  /** Requests sent here because the replica holding their prefix was full. */
  spill_overs: number;
  /** Requests taken over from a replica that died before their first token. */
  failovers: number;
  /** Restarts of this replica's worker process. */
  restarts: number;
  /** A gateway's replica is an upstream server: which, and how it has fared. */
  upstream?: UpstreamStats;
}

/** An upstream server of a gateway (--engine upstream), as /health and /stats show it. */
export interface UpstreamStats {
  url: string;
  dialect: string;
  weight: number;
  circuit: "closed" | "open";
  requests: number;
  /** Requests and probes it failed. */
  failures: number;
  /** Requests it answered 429 (sent elsewhere). */
  rate_limited: number;
  last_error: string | null;
}

/** /stats's `cache`: the response cache (serving/response-cache.ts), counts since start. */
export interface ResponseCacheStats {
  enabled: boolean;
  /** Requests answered from the cache. */
  hits: number;
  /** Lookups that found nothing (the answer was then generated). */
  misses: number;
  entries: number;
  /** The counted size of the entries (JSON length of their events, plus a fixed overhead each). */
  bytes: number;
  /** The budget (--response-cache-bytes); 0 when disabled. */
  max_bytes: number;
}
