/**
 * The dashboard's wire shapes (snake_case, like /stats): `GET /dashboard/data`'s body, and the
 * history's samples in it (one a second, each with the totals and the same figures per model and
 * per profile, and what each replica or upstream is running). Types only: the page's scripts
 * (src/dashboard/) are type-checked against this file too, so it imports nothing with a runtime.
 */
import type { RecentError } from "./recent-errors.ts";

/** Rates over the sample's interval; latency percentiles over the last few seconds (null: none). */
export interface SeriesFigures {
  requests_per_s: number;
  failed_per_s: number;
  rejected_per_s: number;
  /** Completion tokens. */
  tokens_per_s: number;
  ttft_p50_ms: number | null;
  ttft_p95_ms: number | null;
  e2e_p50_ms: number | null;
  e2e_p95_ms: number | null;
}

export interface ModelFigures extends SeriesFigures {
  /** Waiting in the model's scheduler queue. */
  queued: number;
  /** Running in its engine. */
  active: number;
}

export interface ReplicaFigures {
  model_id: string;
  /** ready, loading, failed; "open" for an upstream whose circuit is open. */
  status: string;
  /** Requests it is running now. */
  running: number;
}

export interface HistorySample extends SeriesFigures {
  /** Epoch milliseconds. */
  t: number;
  queue_length: number;
  /** Running in the engines (the scheduler's active, summed over models). */
  active_requests: number;
  /** SSE responses open now. */
  active_streams: number;
  models: Record<string, ModelFigures>;
  profiles: Record<string, SeriesFigures>;
  /** Keyed by the upstream's URL, or `<model>#<index>` for a local replica. */
  replicas: Record<string, ReplicaFigures>;
}

/** What the scheduler and engines hold now: read by serving/ from the model pool every sample. */
export interface LoadGauges {
  models: Record<string, { queued: number; active: number }>;
  replicas: Record<string, ReplicaFigures>;
}

export interface CacheFigures {
  enabled: boolean;
  hits: number;
  misses: number;
  entries: number | null;
  bytes: number | null;
  /** hits / (hits + misses); null before the first lookup. */
  hit_rate: number | null;
}

/** `GET /dashboard/data?since=`. */
export interface DashboardData {
  /** The server's clock, epoch ms. The page asks `since` its last sample's `t`, never its own clock. */
  now: number;
  interval_ms: number;
  /** Samples taken after `since`, oldest first. */
  samples: HistorySample[];
  /** From /health: its status and score, SLO breaches, and `alerts` when /health has them. */
  health: { status: string; score: number; breaches: string[]; alerts?: unknown };
  /** The SLO thresholds in force. */
  slo: { error_rate: number; p95_ttft_ms: number; p95_e2e_ms: number };
  /** Since start. */
  totals: {
    requests: number;
    success: number;
    failed: number;
    rejected: number;
    cancelled: number;
    completion_tokens: number;
    uptime_seconds: number;
  };
  /** The last failed or rejected requests, newest first. */
  errors: RecentError[];
  /** null: no prompt cache figures on this server (shown as "off"). */
  cache: CacheFigures | null;
  /** Models served. */
  models: string[];
}
