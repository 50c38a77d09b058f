/** The gate's options, thresholds and report shapes (the JSON report is GateReport as is). */
import type { ArrivalProcess } from "./arrival-schedule.ts";
import type { LatencyStats, WindowStats } from "./stats-math.ts";

/** personal / production: the release gates; seed: v4.5.1's test procedure, suite 1 or 2 (gate-seed.ts). */
export type GateMode = "personal" | "production" | "seed";

/** The seed procedure's Test Suite 1 (20b) or 2 (120b). */
export type SeedSuite = 1 | 2;

/** What the seed's health check (step 2 of each suite) expects in /health's model_info. */
export interface SeedExpectations {
  currentModel: string;
  gpuMode: string;
  defaultProfile: string;
}

export interface Thresholds {
  /** Sustained successful requests per second in the stability phase (personal) or soak (production). */
  minQps: number;
  /** Personal mode checks TTFT; production only when given. */
  maxP95TtftMs?: number;
  maxP95E2eMs: number;
  maxErrorRate: number;
  /** Production soak: fraction of windows that must be stable. */
  minStableWindows: number;
}

/** Seed v4.5.1's personal gate: QPS >= 0.3, p95 TTFT <= 10 s, p95 E2E <= 30 s, error rate <= 1%. */
export const PERSONAL_THRESHOLDS: Thresholds = {
  minQps: 0.3,
  maxP95TtftMs: 10_000,
  maxP95E2eMs: 30_000,
  maxErrorRate: 0.01,
  minStableWindows: 0.95,
};

export const PRODUCTION_THRESHOLDS: Thresholds = {
  minQps: 1.8,
  maxP95E2eMs: 20_000,
  maxErrorRate: 0.005,
  minStableWindows: 0.95,
};

export interface GateOptions {
  url: string;
  mode: GateMode;
  quick: boolean;
  model?: string;
  apiKey?: string;
  jsonFile?: string;
  markdownFile?: string;
  verbose: boolean;
  thresholds: Thresholds;
  /** Offered requests/s for the stability phase (personal) or soak (production). */
  rate: number;
  /** Production spike rate (requests/s). */
  spikeRate: number;
  /** Stability phase (personal) or soak (production) length. */
  durationMs: number;
  windowMs: number;
  maxTokens: number;
  arrival: ArrivalProcess;
  seed: number;
  fixedOutput: boolean;
  requestTimeoutMs: number;
  /** Production concurrency steps. */
  steps: number[];
  /** Requests per profile (latency) and streams (streaming), personal mode. */
  samples: number;
  /** Closed-loop time per production step, and spike length. */
  stepMs: number;
  /** How long to wait while the server says it is loading its model. */
  waitReadyMs: number;
  /** Seed mode: which suite. */
  suite: SeedSuite;
  /** Seed mode: expectations over the suite's own (a 120b run in pipeline mode, say). */
  seedExpect: Partial<SeedExpectations>;
}

export interface Check {
  name: string;
  passed: boolean;
  /** Formatted measured value ("1.23 s", "0.0%", "yes"). */
  value: string;
  /** Formatted limit ("<= 10 s"), empty for yes/no checks. */
  limit: string;
}

export type PhaseStatus = "pass" | "fail" | "skip";

export interface PhaseReport {
  name: string;
  status: PhaseStatus;
  /** One line: what the phase did. */
  summary: string;
  checks: Check[];
  notes: string[];
  durationS: number;
  stats?: LatencyStats;
  windows?: WindowStats[];
  /** Per-sub-run stats (per profile, per concurrency step). */
  parts?: Record<string, LatencyStats>;
}

export interface GateReport {
  tool: "gpt-oss-server gate";
  mode: GateMode;
  quick: boolean;
  url: string;
  model: string;
  /** Whether the target showed our server's extras (/health with model_info, X-Request-Id, cancel). */
  serverExtras: boolean;
  randomWeights: boolean | null;
  startedAt: string;
  durationS: number;
  thresholds: Thresholds;
  settings: Record<string, unknown>;
  passed: boolean;
  failedPhases: string[];
  phases: PhaseReport[];
}
