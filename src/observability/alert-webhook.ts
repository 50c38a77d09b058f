/**
 * Posts SLO alerts (their start and end) to `--alert-webhook URL` as JSON. Never in a request's way:
 * notify() only queues and returns; one delivery runs at a time, in order (an alert's "firing"
 * before its "resolved"), each tried `attempts` times with a doubling pause between tries and a
 * timeout on each. The queue is bounded: when the receiver is down for long, the oldest alerts are
 * dropped (counted and logged), so memory stays flat whatever the receiver does.
 *
 * Retried: network errors, timeouts, 408, 429 and 5xx. Not retried: any other answer (a 4xx says
 * the request itself is wrong: sending it again would not help).
 */
import type { Logger } from "pino";
import { Agent, request } from "undici";

/** The body posted (snake_case, as the rest of the wire). */
export interface AlertPayload {
  status: "firing" | "resolved";
  slo: string;
  /** The figure now (null: too few requests to judge, as when a breach ends because traffic stopped). */
  value: number | null;
  threshold: number;
  /** When the breach began (ISO 8601). */
  since: string;
  /** resolved: when it ended (ISO 8601). */
  ended_at?: string;
  /** The worst value of the breach so far. */
  peak: number;
  /** Which server: `<hostname>:<port>`. */
  server: string;
  /** The server's listening address. */
  url: string;
}

export type WebhookOutcome = "delivered" | "failed" | "dropped";

export interface AlertWebhookOptions {
  url: string;
  /** Sent as `Authorization: Bearer <key>`. */
  key?: string | undefined;
  logger: Logger;
  /** Told what became of each alert (the Prometheus counter). */
  onOutcome?: (outcome: WebhookOutcome) => void;
  /** Alerts waiting at most; beyond, the oldest is dropped (default 100). */
  maxQueue?: number;
  /** Tries per alert (default 3). */
  attempts?: number;
  /** Per try: connect, headers and body each (default 5000 ms). */
  timeoutMs?: number;
  /** Pause after the first failed try, doubled after each (default 1000 ms). */
  backoffMs?: number;
}

export class AlertWebhook {
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #logger: Logger;
  readonly #onOutcome: (outcome: WebhookOutcome) => void;
  readonly #maxQueue: number;
  readonly #attempts: number;
  readonly #backoffMs: number;
  readonly #agent: Agent;
  readonly #abort = new AbortController();
  readonly #queue: AlertPayload[] = [];
  #draining: Promise<void> | undefined;
  #closed = false;
  readonly counts = { delivered: 0, failed: 0, dropped: 0 };

  constructor(options: AlertWebhookOptions) {
    this.#url = options.url;
    this.#headers = {
      "content-type": "application/json",
      "user-agent": "gpt-oss-server alert-webhook",
      ...(options.key !== undefined ? { authorization: `Bearer ${options.key}` } : {}),
    };
    this.#logger = options.logger;
    this.#onOutcome = options.onOutcome ?? (() => undefined);
    this.#maxQueue = Math.max(1, options.maxQueue ?? 100);
    this.#attempts = Math.max(1, options.attempts ?? 3);
    this.#backoffMs = options.backoffMs ?? 1000;
    const timeoutMs = options.timeoutMs ?? 5000;
    this.#agent = new Agent({
      connect: { timeout: timeoutMs },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      connections: 1,
    });
  }

  /** Queues an alert and returns at once; delivery happens in the background. */
  notify(payload: AlertPayload): void {
    if (this.#closed) return;
    if (this.#queue.length >= this.#maxQueue) {
      const dropped = this.#queue.shift();
      this.#count("dropped");
      this.#logger.warn(
        { slo: dropped?.slo, status: dropped?.status, queued: this.#queue.length },
        "alert webhook: queue full, dropped the oldest alert",
      );
    }
    this.#queue.push(payload);
    this.#kick();
  }

  /** Lets queued alerts go out for at most `graceMs`, then abandons the rest. Idempotent. */
  async close(graceMs = 2000): Promise<void> {
    this.#closed = true;
    const draining = this.#draining;
    if (draining !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      });
      await Promise.race([draining, late]);
      clearTimeout(timer);
    }
    this.#abort.abort();
    this.#queue.length = 0;
    await draining?.catch(() => undefined);
    await this.#agent.destroy().catch(() => undefined);
  }

  #kick(): void {
    if (this.#draining !== undefined) return;
    this.#draining = this.#drain().finally(() => {
      this.#draining = undefined;
      // An alert queued while the last delivery was finishing.
      if (this.#queue.length > 0 && !this.#abort.signal.aborted) this.#kick();
    });
  }

  async #drain(): Promise<void> {
    // A microtask later: alerts notified in the same evaluation go out in order, one at a time.
    await Promise.resolve();
    for (let next = this.#queue.shift(); next !== undefined; next = this.#queue.shift()) {
      if (this.#abort.signal.aborted) return;
      await this.#deliver(next);
    }
  }

  async #deliver(payload: AlertPayload): Promise<void> {
    const body = JSON.stringify(payload);
    let lastError = "";
    for (let attempt = 1; attempt <= this.#attempts; attempt += 1) {
      const result = await this.#post(body);
      if (result === "ok") {
        this.#count("delivered");
        return;
      }
      lastError = result.error;
      if (!result.retry || this.#abort.signal.aborted) break;
      if (attempt < this.#attempts) await this.#pause(this.#backoffMs * 2 ** (attempt - 1));
    }
    if (this.#abort.signal.aborted) return;
    this.#count("failed");
    this.#logger.warn(
      { slo: payload.slo, status: payload.status, webhook: webhookOrigin(this.#url), error: lastError },
      `alert webhook: could not deliver the ${payload.slo} alert (${lastError})`,
    );
  }

  async #post(body: string): Promise<"ok" | { retry: boolean; error: string }> {
    try {
      const res = await request(this.#url, {
        method: "POST",
        headers: this.#headers,
        body,
        dispatcher: this.#agent,
        signal: this.#abort.signal,
      });
      await res.body.dump();
      if (res.statusCode >= 200 && res.statusCode < 300) return "ok";
      const retry = res.statusCode >= 500 || res.statusCode === 408 || res.statusCode === 429;
      return { retry, error: `HTTP ${res.statusCode}` };
    } catch (error) {
      return { retry: true, error: error instanceof Error ? error.message : String(error) };
    }
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      this.#abort.signal.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
  }

  #count(outcome: WebhookOutcome): void {
    this.counts[outcome] += 1;
    this.#onOutcome(outcome);
  }
}

/**
 * A webhook URL as logs and the banner show it: the origin only. Webhook URLs often carry their
 * secret in the path or query (Slack's /services/T…/B…/secret), and logs are read by many.
 */
export function webhookOrigin(url: string): string {
  const parsed = new URL(url);
  return parsed.pathname === "/" && parsed.search === "" ? parsed.origin : `${parsed.origin}/…`;
}
