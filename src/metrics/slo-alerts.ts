/**
 * SLO alerts: each SLO (the personal gate's p95 TTFT ≤ 10 s, p95 end-to-end ≤ 30 s, error rate ≤ 1%,
 * plus our p95 queue wait) is judged on every evaluation over a recent window, and moves
 * ok → pending → firing → ok (resolved). The caller (observability/slo-alert-monitor.ts) logs,
 * counts and posts the transitions; this file only decides them, on a clock it is handed, so tests
 * drive it with fake time.
 *
 * Hysteresis, so that a value wobbling around its threshold does not spam:
 * - an alert fires only after `fireAfter` evaluations in a row over the threshold (one over, one
 *   under, one over... never fires);
 * - a firing alert resolves only after `resolveAfter` evaluations in a row at or below
 *   `clearRatio` × threshold (between that and the threshold it keeps firing);
 * - a figure standing on fewer than `minRequests` requests is not judged: it cannot start a breach,
 *   and it counts as clear for one in progress (an idle server breaches nothing; the slow requests
 *   have aged out of the window).
 * Thresholds are strict ("exceeds"), as the health score's are (health-score.ts).
 */

export type SloName = "error_rate" | "p95_ttft" | "p95_e2e" | "p95_queue";

/** In evaluation and display order. */
export const SLO_NAMES: readonly SloName[] = ["error_rate", "p95_ttft", "p95_e2e", "p95_queue"];

/** What the stats collector measures over the alert window (StatsCollector.sloFigures). */
export interface SloFigures {
  /** Requests the server handled (rejected ones left out): the error rate's base. */
  handled: number;
  /** failed / handled; 0 when none. */
  errorRate: number;
  /** Each percentile with the number of requests it stands on; p95 null when none. */
  ttft: { count: number; p95: number | null };
  e2e: { count: number; p95: number | null };
  queue: { count: number; p95: number | null };
}

export interface SloThresholds {
  /** Fraction, e.g. 0.01. */
  errorRate: number;
  p95TtftMs: number;
  p95E2eMs: number;
  p95QueueMs: number;
}

export interface SloAlertOptions {
  thresholds: SloThresholds;
  /** Fewer requests than this behind a figure: not judged. */
  minRequests: number;
  /** Evaluations in a row over the threshold before an alert fires (default 2). */
  fireAfter?: number;
  /** Evaluations in a row clear before a firing alert resolves (default 2). */
  resolveAfter?: number;
  /** A firing alert counts as clear at or below this share of its threshold (default 0.9). */
  clearRatio?: number;
  /** Resolved alerts kept for /health's `recent` (default 20). */
  recentLimit?: number;
}

/** An alert that started or ended at this evaluation. */
export interface AlertTransition {
  status: "firing" | "resolved";
  slo: SloName;
  /** The figure now; null when too few requests stand behind it. */
  value: number | null;
  threshold: number;
  /** When the breach began: its first evaluation over the threshold (epoch ms). */
  sinceMs: number;
  /** When it ended (resolved only; epoch ms). */
  endedMs?: number;
  /** Its worst value so far. */
  peak: number;
}

/** /health's `alerts` (the dashboard reads exactly this shape). Times are ISO 8601. */
export interface AlertsWire {
  active: { name: SloName; since: string; value: number | null; threshold: number }[];
  recent: { name: SloName; started_at: string; ended_at: string; peak: number }[];
}

interface SloState {
  phase: "ok" | "pending" | "firing";
  /** Evaluations in a row over the threshold (pending) or clear (firing). */
  streak: number;
  sinceMs: number;
  peak: number;
  value: number | null;
}

export class SloAlertEvaluator {
  readonly #thresholds: Record<SloName, number>;
  readonly #minRequests: number;
  readonly #fireAfter: number;
  readonly #resolveAfter: number;
  readonly #clearRatio: number;
  readonly #recentLimit: number;
  readonly #states = new Map<SloName, SloState>();
  /** Newest first. */
  readonly #recent: AlertsWire["recent"] = [];

  constructor(options: SloAlertOptions) {
    const t = options.thresholds;
    this.#thresholds = {
      error_rate: t.errorRate,
      p95_ttft: t.p95TtftMs,
      p95_e2e: t.p95E2eMs,
      p95_queue: t.p95QueueMs,
    };
    this.#minRequests = options.minRequests;
    this.#fireAfter = Math.max(1, options.fireAfter ?? 2);
    this.#resolveAfter = Math.max(1, options.resolveAfter ?? 2);
    this.#clearRatio = options.clearRatio ?? 0.9;
    this.#recentLimit = options.recentLimit ?? 20;
    for (const name of SLO_NAMES) {
      this.#states.set(name, { phase: "ok", streak: 0, sinceMs: 0, peak: 0, value: null });
    }
  }

  threshold(name: SloName): number {
    return this.#thresholds[name];
  }

  /** Judges every SLO on `figures`; returns the alerts that started or ended now. */
  evaluate(figures: SloFigures, nowMs: number): AlertTransition[] {
    const transitions: AlertTransition[] = [];
    for (const name of SLO_NAMES) {
      const transition = this.#step(name, this.#valueOf(name, figures), nowMs);
      if (transition !== undefined) transitions.push(transition);
    }
    return transitions;
  }

  firing(name: SloName): boolean {
    return this.#state(name).phase === "firing";
  }

  view(): AlertsWire {
    const active: AlertsWire["active"] = [];
    for (const name of SLO_NAMES) {
      const s = this.#state(name);
      if (s.phase !== "firing") continue;
      active.push({
        name,
        since: new Date(s.sinceMs).toISOString(),
        value: s.value,
        threshold: this.#thresholds[name],
      });
    }
    return { active, recent: this.#recent.map((r) => ({ ...r })) };
  }

  /** The figure an SLO is judged on, or null when too few requests stand behind it. */
  #valueOf(name: SloName, f: SloFigures): number | null {
    const judged = (count: number, value: number | null): number | null =>
      count >= this.#minRequests ? value : null;
    switch (name) {
      case "error_rate":
        return judged(f.handled, Math.round(f.errorRate * 1e6) / 1e6);
      case "p95_ttft":
        return judged(f.ttft.count, f.ttft.p95);
      case "p95_e2e":
        return judged(f.e2e.count, f.e2e.p95);
      case "p95_queue":
        return judged(f.queue.count, f.queue.p95);
    }
  }

  #state(name: SloName): SloState {
    return this.#states.get(name)!;
  }

  #step(name: SloName, value: number | null, nowMs: number): AlertTransition | undefined {
    const s = this.#state(name);
    const threshold = this.#thresholds[name];
    const over = value !== null && value > threshold;
    s.value = value;
    if (s.phase === "ok" && over) {
      // This evaluation is the breach's first.
      s.phase = "pending";
      s.streak = 0;
      s.sinceMs = nowMs;
      s.peak = value;
    }
    switch (s.phase) {
      case "ok":
        return undefined;
      case "pending":
        if (!over) {
          s.phase = "ok";
          return undefined;
        }
        s.streak += 1;
        s.peak = Math.max(s.peak, value);
        if (s.streak < this.#fireAfter) return undefined;
        s.phase = "firing";
        s.streak = 0;
        return { status: "firing", slo: name, value, threshold, sinceMs: s.sinceMs, peak: s.peak };
      case "firing": {
        if (value !== null) s.peak = Math.max(s.peak, value);
        const clear = value === null || value <= threshold * this.#clearRatio;
        s.streak = clear ? s.streak + 1 : 0;
        if (s.streak < this.#resolveAfter) return undefined;
        s.phase = "ok";
        s.streak = 0;
        this.#recent.unshift({
          name,
          started_at: new Date(s.sinceMs).toISOString(),
          ended_at: new Date(nowMs).toISOString(),
          peak: s.peak,
        });
        if (this.#recent.length > this.#recentLimit) this.#recent.length = this.#recentLimit;
        return {
          status: "resolved",
          slo: name,
          value,
          threshold,
          sinceMs: s.sinceMs,
          endedMs: nowMs,
          peak: s.peak,
        };
      }
    }
  }
}
