/**
 * Server-sent events over a raw Node response (WHATWG SSE: `data: <json>\n\n`, OpenAI ends with
 * `data: [DONE]`). Respects backpressure: a write that fills the socket buffer waits for 'drain'.
 * A failed write (client gone) is a cancellation: `closed` flips and the request's AbortSignal fires.
 */
import type { ServerResponse } from "node:http";

export class SseWriter {
  readonly #res: ServerResponse;
  #closed = false;
  #corked = false;
  readonly #uncork = (): void => {
    this.#corked = false;
    this.#res.uncork();
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

  comment(text: string): Promise<void> | undefined {
    return this.#write(`: ${text}\n\n`);
  }

  done(): void {
    if (this.closed) return;
    this.#res.end("data: [DONE]\n\n");
  }

  end(): void {
    if (!this.closed) this.#res.end();
  }

  #write(chunk: string): Promise<void> | undefined {
    if (this.closed) return undefined;
    // Chunks written in the same turn of the event loop leave in one packet (one syscall, one TCP
    // segment) instead of one each: the socket is corked until the loop's check phase.
    if (!this.#corked) {
      this.#corked = true;
      this.#res.cork();
      setImmediate(this.#uncork);
    }
    if (this.#res.write(chunk)) return undefined;
    return new Promise((resolve) => {
      const finish = (): void => {
        this.#res.off("drain", finish);
        this.#res.off("close", finish);
        resolve();
      };
      this.#res.on("drain", finish);
      this.#res.on("close", finish);
    });
  }
}
