/**
 * The dashboard's history: one sample a second of throughput, latency and load, kept for 15
 * minutes in a ring buffer (StatsWindow), read by `GET /dashboard/data?since=`.
 *
 * Cheap by construction: nothing runs per request beyond what the collector already does (its
 * O(1) tallies); each tick diffs the cumulative tallies against the previous tick's (exact rates at
 * any request rate), sorts the latencies of the requests finished in the last few seconds (at most
 * the collector's window), and reads the queue gauges. The timer is unref'd: a forgotten history
 * never holds the process open.
 */
import type { HistorySample, LoadGauges, ModelFigures, SeriesFigures } from "./dashboard-types.ts";
import { percentile, sortedAscending } from "./percentiles.ts";
import type { RequestRecord } from "./request-record.ts";
import type { Tally, TallySnapshot } from "./request-tallies.ts";
import type { StatsCollector } from "./stats-collector.ts";
import { StatsWindow } from "./stats-window.ts";

export interface StatsHistoryOptions {
  stats: StatsCollector;
  /** Queue, running requests and replicas now. */
  gauges: () => LoadGauges;
  /** Between samples (default 1000 ms). */
  intervalMs?: number;
  /** How long samples are kept (default 900 s). */
  keepSeconds?: number;
  /**
   * Latency percentiles cover the requests finished this long before each sample (default 10 s):
   * one second holds too few requests on a personal server for a p95 that means anything.
   */
  latencyWindowMs?: number;
  /** Milliseconds clock, the same as the collector's; injectable for tests. Default Date.now. */
  now?: () => number;
  /** A sample that threw (an engine's health, say): reported here, never thrown from the timer. */
  onError?: (error: unknown) => void;
}

export const DEFAULT_HISTORY_INTERVAL_MS = 1000;
export const DEFAULT_HISTORY_KEEP_SECONDS = 900;
export const DEFAULT_LATENCY_WINDOW_MS = 10_000;

export class StatsHistory {
  readonly intervalMs: number;
  readonly #stats: StatsCollector;
  readonly #gauges: () => LoadGauges;
  readonly #latencyWindowMs: number;
  readonly #now: () => number;
  readonly #onError: (error: unknown) => void;
  readonly #samples: StatsWindow<HistorySample>;
  #last: { atMs: number; tallies: TallySnapshot };
  #timer: NodeJS.Timeout | undefined;

  constructor(options: StatsHistoryOptions) {
    this.intervalMs = options.intervalMs ?? DEFAULT_HISTORY_INTERVAL_MS;
    const keepSeconds = options.keepSeconds ?? DEFAULT_HISTORY_KEEP_SECONDS;
    this.#stats = options.stats;
    this.#gauges = options.gauges;
    this.#latencyWindowMs = options.latencyWindowMs ?? DEFAULT_LATENCY_WINDOW_MS;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => undefined);
    this.#samples = new StatsWindow<HistorySample>({
      // One slot to spare: a tick that comes a little early must not push out the oldest sample.
      maxSize: Math.ceil((keepSeconds * 1000) / this.intervalMs) + 1,
      maxSeconds: keepSeconds,
      now: this.#now,
    });
    this.#last = { atMs: this.#now(), tallies: this.#stats.tallies() };
  }

  /** Samples every intervalMs until stop(). Calling it twice changes nothing. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      try {
        this.sample();
      } catch (error) {
        this.#onError(error);
      }
    }, this.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Takes one sample now and keeps it; undefined when no time passed since the last one. */
  sample(): HistorySample | undefined {
    const atMs = this.#now();
    const seconds = (atMs - this.#last.atMs) / 1000;
    if (!(seconds > 0)) return undefined;
    const tallies = this.#stats.tallies();
    const previous = this.#last.tallies;
    const gauges = this.#gauges();
    const recent = groupRecent(this.#stats.recentRecords(this.#latencyWindowMs));

    const figures = (
      now: Tally | undefined,
      before: Tally | undefined,
      records: readonly RequestRecord[],
    ): SeriesFigures => ({
      ...rates(now, before, seconds),
      ...latencies(records),
    });
    const models: Record<string, ModelFigures> = {};
    for (const id of new Set([...tallies.byModel.keys(), ...Object.keys(gauges.models)])) {
      const load = gauges.models[id] ?? { queued: 0, active: 0 };
      models[id] = {
        ...figures(tallies.byModel.get(id), previous.byModel.get(id), recent.byModel.get(id) ?? []),
        queued: load.queued,
        active: load.active,
      };
    }
    const profiles: Record<string, SeriesFigures> = {};
    for (const [name, now] of tallies.byProfile) {
      profiles[name] = figures(now, previous.byProfile.get(name), recent.byProfile.get(name) ?? []);
    }
    let queued = 0;
    let active = 0;
    for (const load of Object.values(gauges.models)) {
      queued += load.queued;
      active += load.active;
    }
    const sample: HistorySample = {
      t: atMs,
      ...figures(tallies.total, previous.total, recent.all),
      queue_length: queued,
      active_requests: active,
      active_streams: this.#stats.activeStreams,
      models,
      profiles,
      replicas: gauges.replicas,
    };
    this.#samples.push(sample);
    this.#last = { atMs, tallies };
    return sample;
  }

  /** Samples taken after `sinceMs` (epoch ms), oldest first; 0 gives all that are kept. */
  since(sinceMs: number): HistorySample[] {
    // The window stamps a sample when it is pushed, a little after its `t`: filter on `t` itself.
    return this.#samples.itemsSince(sinceMs).filter((s) => s.t > sinceMs);
  }
}

type Rates = Pick<SeriesFigures, "requests_per_s" | "failed_per_s" | "rejected_per_s" | "tokens_per_s">;
type Latencies = Omit<SeriesFigures, keyof Rates>;

function rates(now: Tally | undefined, before: Tally | undefined, seconds: number): Rates {
  const delta = (key: keyof Tally): number => round3(((now?.[key] ?? 0) - (before?.[key] ?? 0)) / seconds);
  return {
    requests_per_s: delta("requests"),
    failed_per_s: delta("failed"),
    rejected_per_s: delta("rejected"),
    tokens_per_s: delta("completionTokens"),
  };
}

/** TTFT of every request that produced a token; end-to-end of successes only (stats-collector.ts says why). */
function latencies(records: readonly RequestRecord[]): Latencies {
  const ttft = sortedAscending(records.flatMap((r) => (r.ttftMs !== undefined ? [r.ttftMs] : [])));
  const e2e = sortedAscending(records.flatMap((r) => (r.outcome === "success" ? [r.e2eMs] : [])));
  return {
    ttft_p50_ms: round3OrNull(percentile(ttft, 50)),
    ttft_p95_ms: round3OrNull(percentile(ttft, 95)),
    e2e_p50_ms: round3OrNull(percentile(e2e, 50)),
    e2e_p95_ms: round3OrNull(percentile(e2e, 95)),
  };
}

function groupRecent(records: RequestRecord[]): {
  all: RequestRecord[];
  byModel: Map<string, RequestRecord[]>;
  byProfile: Map<string, RequestRecord[]>;
} {
  const byModel = new Map<string, RequestRecord[]>();
  const byProfile = new Map<string, RequestRecord[]>();
  for (const r of records) {
    push(byModel, r.model, r);
    push(byProfile, r.profile, r);
  }
  return { all: records, byModel, byProfile };
}

function push<T>(map: Map<string, T[]>, key: string, item: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [item]);
  else list.push(item);
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function round3OrNull(value: number | null): number | null {
  return value === null ? null : round3(value);
}
