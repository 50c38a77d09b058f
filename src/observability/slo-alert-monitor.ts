/**
 * Runs the SLO alert evaluator (metrics/slo-alerts.ts) every few seconds on an unref'd timer (it
 * never holds the process open; close() stops it) and makes each alert's start and end known, once
 * each: a WARN log line, the `gptoss_slo_alert_firing{slo}` gauge, and a POST to the webhook when
 * one is set. /health shows view(). Nothing here runs on a request's path: the figures come from
 * the stats collector's window, read once an evaluation.
 */
import type { Logger } from "pino";
import {
  SLO_NAMES,
  SloAlertEvaluator,
  type AlertTransition,
  type AlertsWire,
  type SloFigures,
  type SloName,
  type SloThresholds,
} from "../metrics/slo-alerts.ts";
import type { AlertPayload } from "./alert-webhook.ts";

export interface SloAlertMonitorOptions {
  thresholds: SloThresholds;
  /** Seconds of finished requests each evaluation judges. */
  windowSeconds: number;
  intervalMs: number;
  minRequests: number;
  /** The figures over the last `seconds` (StatsCollector.sloFigures). */
  figures: (seconds: number) => SloFigures;
  logger: Logger;
  /** The gauge: gptoss_slo_alert_firing{slo}. */
  setFiring: (slo: SloName, firing: boolean) => void;
  /** The webhook, when one is set: told without waiting. */
  notify?: ((payload: AlertPayload) => void) | undefined;
  /** Names this server in the webhook's payload. */
  server: { name: string; url: string };
  /** Epoch milliseconds; injectable for tests. */
  now?: () => number;
}

export class SloAlertMonitor {
  readonly #options: SloAlertMonitorOptions;
  readonly #evaluator: SloAlertEvaluator;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: SloAlertMonitorOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#evaluator = new SloAlertEvaluator({
      thresholds: options.thresholds,
      minRequests: options.minRequests,
    });
    // Every SLO's series exists from the start, at 0: a query for "firing" needs no absent().
    for (const name of SLO_NAMES) options.setFiring(name, false);
  }

  /** Evaluates every intervalMs until close(). */
  start(): this {
    if (this.#timer !== undefined) return this;
    this.#timer = setInterval(() => this.evaluate(), this.#options.intervalMs);
    this.#timer.unref();
    return this;
  }

  /** One evaluation now; returns the alerts that started or ended. */
  evaluate(): AlertTransition[] {
    const o = this.#options;
    const transitions = this.#evaluator.evaluate(o.figures(o.windowSeconds), this.#now());
    for (const t of transitions) this.#announce(t);
    return transitions;
  }

  view(): AlertsWire {
    return this.#evaluator.view();
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #announce(t: AlertTransition): void {
    const o = this.#options;
    const since = new Date(t.sinceMs).toISOString();
    const endedAt = t.endedMs !== undefined ? new Date(t.endedMs).toISOString() : undefined;
    const fields = {
      alert: t.status,
      slo: t.slo,
      value: t.value,
      threshold: t.threshold,
      since,
      peak: t.peak,
      ended_at: endedAt,
      window_s: o.windowSeconds,
    };
    if (t.status === "firing") {
      o.logger.warn(
        fields,
        `SLO breach started: ${t.slo} is ${show(t.slo, t.value)}, over its ${show(t.slo, t.threshold)} ` +
          `(the last ${o.windowSeconds} s)`,
      );
    } else {
      const lasted = Math.round(((t.endedMs ?? t.sinceMs) - t.sinceMs) / 1000);
      o.logger.warn(
        fields,
        `SLO breach ended: ${t.slo} is ${show(t.slo, t.value)} (threshold ${show(t.slo, t.threshold)}; ` +
          `peak ${show(t.slo, t.peak)}, ${lasted} s)`,
      );
    }
    o.setFiring(t.slo, t.status === "firing");
    o.notify?.({
      status: t.status,
      slo: t.slo,
      value: t.value,
      threshold: t.threshold,
      since,
      ...(endedAt !== undefined ? { ended_at: endedAt } : {}),
      peak: t.peak,
      server: o.server.name,
      url: o.server.url,
    });
  }
}

/** A figure for people: the error rate in percent, latencies in ms; null when too few requests. */
function show(slo: SloName, value: number | null): string {
  if (value === null) return "not judged (too few requests)";
  if (slo === "error_rate") return `${Math.round(value * 10_000) / 100}%`;
  return `${Math.round(value)} ms`;
}
