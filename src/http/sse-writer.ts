/**
 * Server-sent events over a raw Node response (WHATWG SSE: `data: <json>\n\n`, OpenAI ends with
 * `data: [DONE]`). Respects backpressure: a write that fills the socket buffer waits for 'drain'.
 * A failed write (client gone) is a cancellation: `closed` flips and the request's AbortSignal fires.
 *
 * Keep-alive: after `keepAliveMs` without an event the writer sends an SSE comment (`: keep-alive`,
 * a line starting with a colon, which WHATWG SSE parsers and the OpenAI SDKs skip), so proxies with
 * idle timeouts keep a stream open while its request waits in the queue or its prompt is read.
 */
import type { ServerResponse } from "node:http";

/** Past this much pending text, write at once rather than wait for the end of the loop turn. */
const FLUSH_AT_BYTES = 64 * 1024;

/** The comment sent after `keepAliveMs` of silence (WHATWG SSE: a line starting with ':' is ignored). */
export const KEEP_ALIVE_COMMENT = ": keep-alive\n\n";

export interface SseWriterOptions {
  /** Send KEEP_ALIVE_COMMENT after this many milliseconds without a write; 0 or absent: never. */
  keepAliveMs?: number;
}

export class SseWriter {
  readonly #res: ServerResponse;
  #closed = false;
  /** Events written this turn of the event loop, sent as one write at its check phase. */
  #pending = "";
  #flushScheduled = false;
  /** Set while the socket's buffer is full: resolves on 'drain' (or close). */
  #drained: Promise<void> | undefined;
  readonly #flushNow = (): void => {
    this.#flushScheduled = false;
    this.#flush();
  };
  readonly #keepAliveMs: number;
  #keepAlive: NodeJS.Timeout | undefined;
  /** performance.now() of the last bytes written. */
  #lastWriteAt = 0;

  constructor(res: ServerResponse, headers: Record<string, string>, options: SseWriterOptions = {}) {
    this.#res = res;
    this.#keepAliveMs = options.keepAliveMs ?? 0;
    res.on("close", () => {
      this.#closed = true;
      this.#stopKeepAlive();
    });
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
      ...headers,
    });
    // Send headers now so a client sees the stream (and its X-Request-Id) before the first token.
    res.flushHeaders();
    this.#lastWriteAt = performance.now();
    if (this.#keepAliveMs > 0) this.#armKeepAlive(this.#keepAliveMs);
  }

  /** Sends a keep-alive comment now (a stream opened because its request is waiting, say). */
  keepAlive(): void {
    if (this.closed) return;
    this.#res.write(this.#takePending() + KEEP_ALIVE_COMMENT);
    this.#lastWriteAt = performance.now();
  }

  /**
   * One timer per stream, re-armed for the rest of the interval when something was written
   * meanwhile: a write costs a clock read, not a timer reset per token.
   */
  #armKeepAlive(ms: number): void {
    this.#keepAlive = setTimeout(() => {
      if (this.closed) return;
      const silentMs = performance.now() - this.#lastWriteAt;
      if (silentMs >= this.#keepAliveMs - 1) {
        this.keepAlive();
        this.#armKeepAlive(this.#keepAliveMs);
      } else this.#armKeepAlive(this.#keepAliveMs - silentMs);
    }, ms);
    this.#keepAlive.unref();
  }

  #stopKeepAlive(): void {
    if (this.#keepAlive !== undefined) clearTimeout(this.#keepAlive);
    this.#keepAlive = undefined;
  }

  get closed(): boolean {
    return this.#closed || this.#res.destroyed;
  }

  /** Writes one event; resolves at once unless the socket is full. */
  send(data: unknown): Promise<void> | undefined {
    return this.#write(`data: ${JSON.stringify(data)}\n\n`);
  }

  /** Writes one named event (`event: <name>`), as the Responses API streams them. */
  sendEvent(name: string, data: unknown): Promise<void> | undefined {
    return this.#write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** Writes what is pending, then `[DONE]`, and ends the response. */
  done(): void {
    this.#stopKeepAlive();
    if (this.closed) return;
    this.#res.end(this.#takePending() + "data: [DONE]\n\n");
  }

  end(): void {
    this.#stopKeepAlive();
    if (!this.closed) this.#res.end(this.#takePending());
  }

  /**
   * Events written in the same turn of the event loop leave in one write (one syscall, one chunk
   * of the chunked encoding): per-event writes cost more than building the events (measured with
   * wrk: writev was the top cost of a stream). Resolves at once unless the socket is full.
   */
  #write(event: string): Promise<void> | undefined {
    if (this.closed) return undefined;
    this.#pending += event;
    if (this.#pending.length >= FLUSH_AT_BYTES) this.#flush();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flushNow);
    }
    return this.#drained;
  }

  #takePending(): string {
    const pending = this.#pending;
    this.#pending = "";
    return pending;
  }

  #flush(): void {
    if (this.#pending === "" || this.closed) return;
    this.#lastWriteAt = performance.now();
    if (this.#res.write(this.#takePending()) || this.#drained !== undefined) return;
    this.#drained = new Promise((resolve) => {
      const finish = (): void => {
        this.#res.off("drain", finish);
        this.#res.off("close", finish);
        this.#drained = undefined;
        resolve();
      };
      this.#res.on("drain", finish);
      this.#res.on("close", finish);
    });
  }
}

/**
 * Awaits `waiting` (a queued request's admission); when it takes longer than `keepAliveMs`, calls
 * `open` to start the SSE response and sends a first keep-alive, so the client sees a live stream
 * while its request waits. A request admitted at once (or refused at once: 429) answers as before,
 * with its real HTTP status; one refused after the stream opened gets the error as an SSE event.
 */
export async function awaitWithKeepAlive<T>(
  waiting: Promise<T>,
  keepAliveMs: number,
  open: () => SseWriter,
): Promise<T> {
  if (keepAliveMs <= 0) return waiting;
  let timer: NodeJS.Timeout | undefined;
  const slow = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, keepAliveMs);
  });
  try {
    const first = await Promise.race([waiting.then(() => "done" as const), slow.then(() => "slow" as const)]);
    if (first === "slow") open().keepAlive();
    return await waiting;
  } finally {
    clearTimeout(timer);
  }
}
