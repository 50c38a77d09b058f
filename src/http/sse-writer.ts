/**
 * Server-sent events over a raw Node response (WHATWG SSE: `data: <json>\n\n`, OpenAI ends with
 * `data: [DONE]`). Respects backpressure: a write that fills the socket buffer waits for 'drain'.
 * A failed write (client gone) is a cancellation: `closed` flips and the request's AbortSignal fires.
 */
import type { ServerResponse } from "node:http";

/** Past this much pending text, write at once rather than wait for the end of the loop turn. */
const FLUSH_AT_BYTES = 64 * 1024;

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

  constructor(res: ServerResponse, headers: Record<string, string>) {
    this.#res = res;
    res.on("close", () => {
      this.#closed = true;
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
    if (this.closed) return;
    this.#res.end(this.#takePending() + "data: [DONE]\n\n");
  }

  end(): void {
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
