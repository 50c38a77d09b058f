/** The bench's options and report shapes (the JSON report is BenchReport as is). */
import type { ArrivalProcess } from "./arrival-schedule.ts";
import type { LatencyStats } from "./stats-math.ts";

/** A fixed length (min === max) or a uniform range of lengths. */
export interface LengthSpec {
  min: number;
  max: number;
}

export type BenchLevel = { kind: "concurrency"; value: number } | { kind: "rate"; value: number };

/** `--scenario agent`: concurrent agent sessions whose transcripts grow turn by turn. */
export interface AgentScenarioOptions {
  turns: number;
  sessions: number;
  /** Exact gpt-oss tokens of each tool result appended to the transcript. */
  toolResultTokens: number;
}

export interface BenchOptions {
  /** "sweep": the concurrency/rate levels; "agent": the agent replay (agent-scenario.ts). */
  scenario: "sweep" | "agent";
  agent: AgentScenarioOptions;
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

/** One turn of one agent session on one target. */
export interface AgentTurnRecord {
  session: number;
  turn: number;
  ok: boolean;
  error?: string;
  ttftMs: number | null;
  e2eMs: number;
  promptTokens: number | null;
  /** usage.prompt_tokens_details.cached_tokens; null when the server reported none. */
  cachedTokens: number | null;
  completionTokens: number;
  /** Whether the transcript kept the model's own tool call (else a synthetic one was appended). */
  toolCallFromModel: boolean;
}

/** One turn over all sessions: medians (p50) of the successful ones. */
export interface AgentTurnSummary {
  turn: number;
  ok: number;
  failed: number;
  ttftMsP50: number | null;
  e2eMsP50: number | null;
  promptTokensP50: number | null;
  /** null: no session's answer reported cached_tokens ("n/a"). */
  cachedTokensP50: number | null;
  completionTokensP50: number | null;
  modelToolCalls: number;
}

export interface AgentTargetReport {
  target: string;
  model: string;
  durationS: number;
  turns: AgentTurnSummary[];
  records: AgentTurnRecord[];
  errors: string[];
}

export interface AgentReport {
  tool: "gpt-oss-server bench";
  scenario: "agent";
  startedAt: string;
  targets: Array<{ url: string; model: string }>;
  settings: Record<string, unknown>;
  results: AgentTargetReport[];
}
