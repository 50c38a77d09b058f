/** The bench's options and report shapes (the JSON report is BenchReport as is). */
import type { ArrivalProcess } from "./arrival-schedule.ts";
import type { LatencyStats } from "./stats-math.ts";

/** A fixed length (min === max) or a uniform range of lengths. */
export interface LengthSpec {
  min: number;
  max: number;
}

export type BenchLevel = { kind: "concurrency"; value: number } | { kind: "rate"; value: number };

export interface BenchOptions {
  url: string;
  compareUrl?: string;
  model?: string;
  compareModel?: string;
  apiKey?: string;
  levels: BenchLevel[];
  /** Requests per level (default: 4x concurrency, at least 8; for rates, 10 s worth at least 8). */
  requests?: number;
  promptTokens: LengthSpec;
  maxTokens: LengthSpec;
  fixedOutput: boolean;
  /** Sampling fields sent with every request when given (otherwise each server's defaults). */
  temperature?: number;
  topP?: number;
  sloTtftMs: number;
  sloTpotMs: number;
  arrival: ArrivalProcess;
  seed: number;
  warmup: number;
  requestTimeoutMs: number;
  jsonFile?: string;
  markdownFile?: string;
  verbose: boolean;
}

export interface LevelReport {
  level: BenchLevel;
  target: string;
  stats: LatencyStats;
  goodputQps: number | null;
  /** Fraction of successful requests that met the SLO. */
  sloAttainment: number | null;
  durationS: number;
  errors: string[];
}

export interface BenchReport {
  tool: "gpt-oss-server bench";
  startedAt: string;
  targets: Array<{ url: string; model: string }>;
  settings: Record<string, unknown>;
  levels: LevelReport[];
}
