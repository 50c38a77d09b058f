/**
 * The numbers the gate and the bench report, computed from per-request results on the client side.
 *
 * Percentiles interpolate linearly between closest ranks (Hyndman & Fan type 7, numpy's default),
 * the same definition the server's /stats uses, so a gate's p95 and the server's p95 over the same
 * requests agree. The gate is a black-box client and may not import the server's metrics/, hence
 * its own copy (a dozen lines).
 */
import type { RequestResult } from "./request-result.ts";

export interface Summary {
  count: number;
  mean: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

/** Percentile `p` (0..100) of an ascending-sorted sample; null when the sample is empty. */
export function percentile(sorted: readonly number[], p: number): number | null {
  const n = sorted.length;
  if (n === 0) return null;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within [0, 100], got ${p}`);
  const h = ((n - 1) * p) / 100;
  const lo = Math.floor(h);
  const lower = sorted[lo] as number;
  const upper = sorted[Math.min(lo + 1, n - 1)] as number;
  return lower + (h - lo) * (upper - lower);
}

export function summarize(values: readonly number[]): Summary {
  const sorted = Array.from(Float64Array.from(values).sort());
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    mean: sorted.length === 0 ? null : sum / sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length === 0 ? null : (sorted[sorted.length - 1] as number),
  };
}

/** Time to first token: request sent → first streamed content/reasoning/tool-call delta. */
export function ttftMs(r: RequestResult): number | undefined {
  return r.firstTokenAt === undefined ? undefined : r.firstTokenAt - r.sentAt;
}

/**
 * Time per output token: (E2E − TTFT) / (output tokens − 1), the decode speed one user sees once
 * the answer has started. Undefined with fewer than two tokens.
 */
export function tpotMs(r: RequestResult): number | undefined {
  if (r.firstTokenAt === undefined || r.outputTokens < 2) return undefined;
  return (r.endAt - r.firstTokenAt) / (r.outputTokens - 1);
}

/** Inter-token latencies: gaps between consecutive token-bearing chunks of one stream. */
export function interTokenGapsMs(r: RequestResult): number[] {
  const gaps: number[] = [];
  for (let i = 1; i < r.tokenTimes.length; i++) {
    gaps.push((r.tokenTimes[i] as number) - (r.tokenTimes[i - 1] as number));
  }
  return gaps;
}

function defined(values: Array<number | undefined>): number[] {
  return values.filter((v): v is number => v !== undefined);
}

/** Failed ÷ all; 0 for an empty set (nothing failed), so callers check counts separately. */
export function errorRate(results: readonly RequestResult[]): number {
  if (results.length === 0) return 0;
  return results.filter((r) => !r.ok).length / results.length;
}

/**
 * The span throughput is measured over: first request sent → last response end, widened to the
 * schedule's own window when one is given (an open-loop phase lasts at least its duration, even if
 * its first arrival came late or its last response early).
 */
export interface Span {
  start: number;
  end: number;
}

function spanOf(results: readonly RequestResult[], schedule?: Span): Span | null {
  if (results.length === 0) return null;
  const start = Math.min(...results.map((r) => r.sentAt), schedule?.start ?? Infinity);
  const end = Math.max(...results.map((r) => r.endAt), schedule?.end ?? -Infinity);
  return end > start ? { start, end } : null;
}

/**
 * Successful requests ÷ the span: vLLM's "request throughput". Conservative on purpose: the drain
 * after the last arrival counts, so a short run reads a little low rather than high. Null when
 * nothing succeeded.
 */
export function throughputQps(results: readonly RequestResult[], schedule?: Span): number | null {
  const ok = results.filter((r) => r.ok).length;
  const span = spanOf(results, schedule);
  return ok === 0 || span === null ? null : ok / ((span.end - span.start) / 1000);
}

/** Output tokens of successful requests ÷ the same span as throughputQps. */
export function outputTokensPerSecond(results: readonly RequestResult[], schedule?: Span): number | null {
  const ok = results.filter((r) => r.ok);
  const span = spanOf(results, schedule);
  if (ok.length === 0 || span === null) return null;
  return ok.reduce((a, r) => a + r.outputTokens, 0) / ((span.end - span.start) / 1000);
}

/**
 * Aggregate decode tokens/s, as perf/anchors.md measures it for llama-server: the tokens that
 * arrive between the moment every stream has started (the last first token) and the last token,
 * over that window. Prefill and queueing are outside it, so it is the rate at which the server
 * decodes once all streams run. A request's tokens in the window are its output tokens times the
 * share of its token-bearing chunks that arrived there (a chunk may carry several tokens). Null
 * with no window (nothing succeeded, or everything ended at its first token).
 */
export function decodeTokensPerSecond(results: readonly RequestResult[]): number | null {
  const w = decodeWindow(results);
  if (w === null) return null;
  let tokens = 0;
  for (const r of w.streams) {
    const inWindow = r.tokenTimes.filter((t) => t > w.start && t <= w.end).length;
    tokens += (r.outputTokens * inWindow) / r.tokenTimes.length;
  }
  return tokens / ((w.end - w.start) / 1000);
}

/**
 * How many streams decodeTokensPerSecond's window holds on average: each stream counts from its first
 * token to its last, over the window's length. In a closed-loop level every stream starts together but
 * gets its first token after a different share of the prompts, so the early ones finish inside the window
 * and the batch shrinks towards its end; a decode-only limit (llama-batched-bench) keeps all its
 * sequences to the last step. Dividing the rate by this number gives the rate a stream, comparable
 * with the limit's at that many sequences.
 */
export function decodeWindowStreams(results: readonly RequestResult[]): number | null {
  const w = decodeWindow(results);
  if (w === null) return null;
  let active = 0;
  for (const r of w.streams) {
    const from = Math.max(w.start, r.firstTokenAt ?? w.start);
    const to = Math.min(w.end, r.tokenTimes[r.tokenTimes.length - 1] ?? w.start);
    if (to > from) active += to - from;
  }
  return active / (w.end - w.start);
}

/** The decode window: from the last first token to the last token, over the streams that had tokens. */
function decodeWindow(
  results: readonly RequestResult[],
): { start: number; end: number; streams: RequestResult[] } | null {
  const streams = results.filter((r) => r.ok && r.firstTokenAt !== undefined && r.tokenTimes.length > 0);
  if (streams.length === 0) return null;
  const start = Math.max(...streams.map((r) => r.firstTokenAt ?? 0));
  const end = Math.max(...streams.map((r) => r.tokenTimes[r.tokenTimes.length - 1] ?? 0));
  return end > start ? { start, end, streams } : null;
}

export interface LatencyStats {
  requests: number;
  failed: number;
  errorRate: number;
  qps: number | null;
  outputTokensPerS: number | null;
  /** decodeTokensPerSecond: the decode rate once every stream runs. */
  decodeTokensPerS: number | null;
  /** decodeWindowStreams: the streams that rate comes from, on average. */
  decodeStreams: number | null;
  ttftMs: Summary;
  e2eMs: Summary;
  itlMs: Summary;
  tpotMs: Summary;
  meanOutputTokens: number | null;
  meanPromptTokens: number | null;
}

/**
 * Everything a phase or a bench level reports. E2E, TPOT and ITL come from successful requests.
 * `schedule`: an open-loop phase's window, so that QPS is never read over less than it.
 */
export function latencyStats(results: readonly RequestResult[], schedule?: Span): LatencyStats {
  const ok = results.filter((r) => r.ok);
  const prompts = defined(ok.map((r) => r.promptTokens));
  return {
    requests: results.length,
    failed: results.length - ok.length,
    errorRate: errorRate(results),
    qps: throughputQps(results, schedule),
    outputTokensPerS: outputTokensPerSecond(results, schedule),
    decodeTokensPerS: decodeTokensPerSecond(results),
    decodeStreams: decodeWindowStreams(results),
    ttftMs: summarize(defined(ok.map(ttftMs))),
    e2eMs: summarize(ok.map((r) => r.endAt - r.sentAt)),
    itlMs: summarize(ok.flatMap(interTokenGapsMs)),
    tpotMs: summarize(defined(ok.map(tpotMs))),
    meanOutputTokens: ok.length === 0 ? null : ok.reduce((a, r) => a + r.outputTokens, 0) / ok.length,
    meanPromptTokens: prompts.length === 0 ? null : prompts.reduce((a, b) => a + b, 0) / prompts.length,
  };
}

export interface Slo {
  ttftMs?: number;
  tpotMs?: number;
  e2eMs?: number;
}

/** Whether one request met every SLO given (a failed request never does). */
export function meetsSlo(r: RequestResult, slo: Slo): boolean {
  if (!r.ok) return false;
  const ttft = ttftMs(r);
  const tpot = tpotMs(r);
  if (slo.ttftMs !== undefined && (ttft === undefined || ttft > slo.ttftMs)) return false;
  if (slo.tpotMs !== undefined && tpot !== undefined && tpot > slo.tpotMs) return false;
  if (slo.e2eMs !== undefined && r.endAt - r.sentAt > slo.e2eMs) return false;
  return true;
}

/** Goodput: requests per second that met the SLO, over the same span as throughputQps. */
export function goodputQps(results: readonly RequestResult[], slo: Slo): number | null {
  const qps = throughputQps(results);
  const ok = results.filter((r) => r.ok).length;
  if (qps === null || ok === 0) return null;
  return (qps * results.filter((r) => meetsSlo(r, slo)).length) / ok;
}

export interface WindowStats {
  /** Window start, ms after the phase started. */
  startMs: number;
  requests: number;
  errorRate: number;
  p95E2eMs: number | null;
  /** null for a window in which nothing was sent: it counts neither for nor against stability. */
  stable: boolean | null;
}

export interface WindowLimits {
  windowMs: number;
  maxErrorRate: number;
  maxP95E2eMs: number;
}

/**
 * Splits a phase into fixed windows by the time each request was SENT, and calls a window stable
 * when the requests sent in it met the error-rate and p95 E2E limits. Grouping by send time makes
 * a server that falls behind visible: its queue grows, so the E2E of later windows grows with it.
 */
export function stabilityWindows(
  results: readonly RequestResult[],
  phaseStart: number,
  phaseDurationMs: number,
  limits: WindowLimits,
): WindowStats[] {
  const count = Math.max(1, Math.ceil(phaseDurationMs / limits.windowMs));
  const buckets: RequestResult[][] = Array.from({ length: count }, () => []);
  for (const r of results) {
    const index = Math.floor((r.sentAt - phaseStart) / limits.windowMs);
    buckets[Math.min(Math.max(index, 0), count - 1)]?.push(r);
  }
  return buckets.map((bucket, i) => {
    const rate = errorRate(bucket);
    const p95 = summarize(bucket.filter((r) => r.ok).map((r) => r.endAt - r.sentAt)).p95;
    const stable =
      bucket.length === 0
        ? null
        : rate <= limits.maxErrorRate && (p95 === null ? rate === 0 : p95 <= limits.maxP95E2eMs);
    return { startMs: i * limits.windowMs, requests: bucket.length, errorRate: rate, p95E2eMs: p95, stable };
  });
}

/** Stable windows ÷ windows in which something was sent; null when none was. */
export function stableFraction(windows: readonly WindowStats[]): number | null {
  const judged = windows.filter((w) => w.stable !== null);
  if (judged.length === 0) return null;
  return judged.filter((w) => w.stable === true).length / judged.length;
}
