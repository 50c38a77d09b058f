/**
 * The /stats numbers. Counters are cumulative since start; percentiles, rates and per-profile
 * figures come from a bounded StatsWindow (last 1000 requests / 10 minutes by default) so they
 * describe the server now and cost bounded memory.
 *
 * requestFinished() runs on every request (target 5,000 req/s): it only bumps counters and pushes
 * onto a ring buffer. All sorting happens in snapshot(), over at most window.maxSize entries.
 *
 * Which requests feed which figure (and why):
 * - TTFT percentiles: every finished request that produced a first token (a token that arrived is
 *   a real TTFT, even if the client later cancelled).
 * - E2E percentiles: successful requests only; a cancelled request's duration is the client's
 *   choice and a rejected one's is parse time, both would drag p95 down and hide slowness.
 * - Queue-wait percentiles: every request with a queue time (admitted, or failed in the queue).
 * - error_rate / cancel_rate: over success + failed + cancelled in the window; rejected (client
 *   errors) are left out so bad input cannot make the server look unhealthy (see request-record.ts).
 * - qps: every finished request in the window, rejected included (they are load too).
 */
import { percentile, sortedAscending } from "./percentiles.ts";
import { RecentErrors, type RecentError } from "./recent-errors.ts";
import type { RequestRecord, RequestStartInfo } from "./request-record.ts";
import { RequestTallies, type TallySnapshot } from "./request-tallies.ts";
import type { SloFigures } from "./slo-alerts.ts";
import type { ModelInfo, ProfileStats, StatsSnapshot } from "./stats-types.ts";
import { StatsWindow } from "./stats-window.ts";

export interface StatsCollectorOptions {
  /** Most requests in the percentile window (default 1000). */
  windowSize?: number;
  /** Oldest request kept in the window, in seconds (default 600). */
  windowSeconds?: number;
  /** Milliseconds clock; injectable for tests. Default Date.now. */
  now?: () => number;
}

export interface SnapshotInput {
  modelInfo: ModelInfo;
  /** Requests waiting in the scheduler queue (default 0). */
  queueLength?: number;
}

/**
 * Failure codes that say the engine, not the client or capacity, could not serve a request. Not
 * internal_error: a bug of the server's own on one request's input (a grammar llama.cpp could not
 * parse, say) is that request's, and counting it would let a client send a healthy server unready.
 */
const ENGINE_FAILURES: ReadonlySet<string> = new Set(["engine_error"]);

interface Counts {
  success: number;
  failed: number;
  cancelled: number;
  rejected: number;
}

export class StatsCollector {
  readonly #now: () => number;
  readonly #startedAtMs: number;
  readonly #window: StatsWindow<RequestRecord>;
  /** requestId → stream flag, for requests in flight. */
  readonly #active = new Map<string, boolean>();
  #activeStreams = 0;
  readonly #counts: Counts = { success: 0, failed: 0, cancelled: 0, rejected: 0 };
  readonly #engineUsage = new Map<string, number>();
  readonly #modelUsage = new Map<string, number>();
  readonly #profileUsage = new Map<string, number>();
  /** All finished requests per profile (rejected included), for per_profile.requests. */
  readonly #profileRequests = new Map<string, number>();
  readonly #errorsByCode = new Map<string, number>();
  readonly #tokens = { prompt: 0, cached_prompt: 0, completion: 0, reasoning: 0 };
  #consecutiveEngineFailures = 0;
  #lastEngineFailureAtMs: number | undefined;
  /** For the dashboard's history: exact rates per model and profile, and the last errors. */
  readonly #tallies = new RequestTallies();
  readonly #recentErrors = new RecentErrors();

  constructor(options: StatsCollectorOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#startedAtMs = this.#now();
    this.#window = new StatsWindow<RequestRecord>({
      maxSize: options.windowSize,
      maxSeconds: options.windowSeconds,
      now: this.#now,
    });
  }

  requestStarted(info: RequestStartInfo): void {
    if (this.#active.has(info.requestId)) return;
    this.#active.set(info.requestId, info.stream);
    if (info.stream) this.#activeStreams += 1;
  }

  /**
   * Call exactly once per request. A request rejected before requestStarted (bad input) may be
   * reported here directly.
   */
  requestFinished(record: RequestRecord): void {
    const stream = this.#active.get(record.requestId);
    if (stream !== undefined) {
      this.#active.delete(record.requestId);
      if (stream) this.#activeStreams -= 1;
    }
    this.#counts[record.outcome] += 1;
    if (record.outcome === "success") this.#consecutiveEngineFailures = 0;
    else if (record.outcome === "failed" && ENGINE_FAILURES.has(record.errorCode ?? "")) {
      this.#consecutiveEngineFailures += 1;
      this.#lastEngineFailureAtMs = this.#now();
    }
    bump(this.#profileRequests, record.profile);
    if (record.outcome !== "rejected") {
      bump(this.#engineUsage, record.engine);
      bump(this.#modelUsage, record.model);
      bump(this.#profileUsage, record.profile);
    }
    if (record.outcome === "failed" || record.outcome === "rejected") {
      const code = record.errorCode ?? (record.status !== undefined ? `http_${record.status}` : "unknown");
      bump(this.#errorsByCode, code);
      this.#recentErrors.add(record, this.#now());
    }
    this.#tallies.add(record);
    // A cached answer's tokens were processed once, when it was generated: not again.
    if (record.responseCache !== "hit") {
      this.#tokens.prompt += record.promptTokens;
      this.#tokens.cached_prompt += record.cachedTokens;
      this.#tokens.completion += record.completionTokens;
      this.#tokens.reasoning += record.reasoningTokens;
    }
    this.#window.push(record);
  }

  /**
   * Requests the engine failed (engine_error, internal_error) since the last success: readiness
   * turns 503 past a threshold (serving/status.ts), so a model that fails everything is taken out
   * of a load balancer even though the process is alive.
   */
  get consecutiveEngineFailures(): number {
    return this.#consecutiveEngineFailures;
  }

  /** Milliseconds since the engine last failed a request (this collector's clock); undefined if never. */
  get msSinceLastEngineFailure(): number | undefined {
    return this.#lastEngineFailureAtMs === undefined ? undefined : this.#now() - this.#lastEngineFailureAtMs;
  }

  /** Cumulative requests, failures and completion tokens, in total and per model and profile. */
  tallies(): TallySnapshot {
    return this.#tallies.snapshot();
  }

  /** The last requests that failed or were rejected, newest first. */
  recentErrors(): RecentError[] {
    return this.#recentErrors.list();
  }

  /**
   * Requests finished in the last `ms` milliseconds, oldest first: at most the window's size (the
   * most recent ones when more finished), which is plenty for percentiles.
   */
  recentRecords(ms: number): RequestRecord[] {
    return this.#window.itemsSince(this.#now() - ms);
  }

  get activeRequests(): number {
    return this.#active.size;
  }

  get activeStreams(): number {
    return this.#activeStreams;
  }

  /** The /stats wire object. */
  snapshot(input: SnapshotInput): StatsSnapshot {
    const nowMs = this.#now();
    const recent = this.#window.items();
    const span = this.#window.spanSeconds(this.#startedAtMs);
    const c = this.#counts;

    const ttft = sortedAscending(ttftValues(recent));
    const e2e = sortedAscending(e2eValues(recent));
    const queue = sortedAscending(queueValues(recent));
    const rates = outcomeRates(recent);
    let windowCompletionTokens = 0;
    for (const r of recent) if (r.responseCache !== "hit") windowCompletionTokens += r.completionTokens;

    return {
      requests_total: c.success + c.failed + c.cancelled + c.rejected,
      requests_success: c.success,
      requests_failed: c.failed,
      requests_cancelled: c.cancelled,
      requests_rejected: c.rejected,
      active_requests: this.#active.size,
      active_streams: this.#activeStreams,
      queue_length: input.queueLength ?? 0,
      qps: round3(recent.length / span),
      error_rate: rates.errorRate,
      cancel_rate: rates.cancelRate,
      p50_ttft_ms: round3OrNull(percentile(ttft, 50)),
      p95_ttft_ms: round3OrNull(percentile(ttft, 95)),
      p99_ttft_ms: round3OrNull(percentile(ttft, 99)),
      p50_e2e_ms: round3OrNull(percentile(e2e, 50)),
      p95_e2e_ms: round3OrNull(percentile(e2e, 95)),
      p99_e2e_ms: round3OrNull(percentile(e2e, 99)),
      p50_queue_ms: round3OrNull(percentile(queue, 50)),
      p95_queue_ms: round3OrNull(percentile(queue, 95)),
      p99_queue_ms: round3OrNull(percentile(queue, 99)),
      engine_usage: Object.fromEntries(this.#engineUsage),
      model_usage: Object.fromEntries(this.#modelUsage),
      profile_usage: Object.fromEntries(this.#profileUsage),
      uptime_seconds: round3((nowMs - this.#startedAtMs) / 1000),
      per_profile: this.#perProfile(recent),
      tokens: { ...this.#tokens },
      tokens_per_second: round3(windowCompletionTokens / span),
      errors_by_code: Object.fromEntries(this.#errorsByCode),
      window: {
        size: recent.length,
        seconds: round3(span),
        max_size: this.#window.maxSize,
        max_seconds: this.#window.maxSeconds,
      },
      model_info: input.modelInfo,
    };
  }

  /**
   * The SLO alerts' figures over the requests finished in the last `seconds` (within the window's
   * own limits: at most windowSize requests), each with how many requests it stands on.
   */
  sloFigures(seconds: number): SloFigures {
    const recent = this.#window.itemsSince(this.#now() - seconds * 1000);
    let handled = 0;
    for (const r of recent) if (r.outcome !== "rejected") handled += 1;
    const p95Of = (values: Iterable<number>): { count: number; p95: number | null } => {
      const sorted = sortedAscending(values);
      return { count: sorted.length, p95: round3OrNull(percentile(sorted, 95)) };
    };
    return {
      handled,
      errorRate: outcomeRates(recent).errorRate,
      ttft: p95Of(ttftValues(recent)),
      e2e: p95Of(e2eValues(recent)),
      queue: p95Of(queueValues(recent)),
    };
  }

  #perProfile(recent: readonly RequestRecord[]): Record<string, ProfileStats> {
    const byProfile = new Map<string, RequestRecord[]>();
    for (const r of recent) {
      const list = byProfile.get(r.profile);
      if (list === undefined) byProfile.set(r.profile, [r]);
      else list.push(r);
    }
    const out: Record<string, ProfileStats> = {};
    for (const [name, requests] of this.#profileRequests) {
      const records = byProfile.get(name) ?? [];
      out[name] = {
        requests,
        error_rate: outcomeRates(records).errorRate,
        p95_ttft_ms: round3OrNull(percentile(sortedAscending(ttftValues(records)), 95)),
        p95_e2e_ms: round3OrNull(percentile(sortedAscending(e2eValues(records)), 95)),
      };
    }
    return out;
  }
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function* ttftValues(records: readonly RequestRecord[]): Generator<number> {
  for (const r of records) if (r.ttftMs !== undefined) yield r.ttftMs;
}

function* queueValues(records: readonly RequestRecord[]): Generator<number> {
  for (const r of records) if (r.queueMs !== undefined) yield r.queueMs;
}

function* e2eValues(records: readonly RequestRecord[]): Generator<number> {
  for (const r of records) if (r.outcome === "success") yield r.e2eMs;
}

/** Shares of failed and cancelled among server-handled (non-rejected) requests; 0 when there are none. */
function outcomeRates(records: readonly RequestRecord[]): { errorRate: number; cancelRate: number } {
  let handled = 0;
  let failed = 0;
  let cancelled = 0;
  for (const r of records) {
    if (r.outcome === "rejected") continue;
    handled += 1;
    if (r.outcome === "failed") failed += 1;
    else if (r.outcome === "cancelled") cancelled += 1;
  }
  if (handled === 0) return { errorRate: 0, cancelRate: 0 };
  return { errorRate: failed / handled, cancelRate: cancelled / handled };
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function round3OrNull(value: number | null): number | null {
  return value === null ? null : round3(value);
}
