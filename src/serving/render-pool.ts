/**
 * Rendering (tokenizing) large prompts on worker threads. BPE in JavaScript costs ~0.7 µs a
 * character of prose and ~14 µs a character of a run of one letter: a 1 MB prompt kept the HTTP
 * thread (health checks, every stream's tokens) busy for seconds. Small prompts, the common case,
 * stay on the calling thread: a worker's round trip would cost more than their render.
 *
 * Workers start on first need (each loads the tokenizer: ~2 s, ~250 MB), take one job at a time,
 * and are restarted if one dies; a job waits in a FIFO when all are busy.
 */
import { Worker } from "node:worker_threads";
import type { ErrorCode } from "../errors/catalog.ts";
import { ServerError } from "../errors/server-error.ts";
import type { RenderedPrompt } from "../harmony/types.ts";
import { minTokensFor } from "../harmony/tokenizer.ts";
import { encodeRawPrompt } from "./raw-prompt.ts";
import { assertCanFit, renderServingRequest, requestTextLength } from "./render-request.ts";
import type { RenderJob, RenderReply } from "./render-worker.ts";
import type { ServingRequest } from "./serving-request.ts";

/** Requests with more client text than this are rendered on a worker (~25 ms of prose on the thread). */
export const OFF_THREAD_CHARS = 32 * 1024;

/**
 * The worker runs TypeScript as the main thread does, through tsx (a dependency): registered in
 * the worker itself, since Node 20 does not hand a parent's `--import` hooks to a worker's entry.
 */
const BOOT = `
const { workerData } = require("node:worker_threads");
import("tsx/esm/api").then(({ register }) => { register(); return import(workerData.entry); });
`;
const WORKER_ENTRY = new URL("./render-worker.ts", import.meta.url).href;

interface Pending {
  job: RenderJob;
  resolve: (prompt: RenderedPrompt) => void;
  reject: (error: Error) => void;
}

class RenderThread {
  readonly #worker: Worker;
  current: Pending | undefined;

  constructor(
    onReply: (thread: RenderThread, reply: RenderReply) => void,
    onExit: (thread: RenderThread, error: Error) => void,
  ) {
    this.#worker = new Worker(BOOT, { eval: true, workerData: { entry: WORKER_ENTRY } });
    this.#worker.unref();
    this.#worker.on("message", (reply: RenderReply) => onReply(this, reply));
    this.#worker.on("error", (error) => onExit(this, error));
    this.#worker.on("exit", (code) => onExit(this, new Error(`render worker exited with code ${code}`)));
  }

  run(pending: Pending): void {
    this.current = pending;
    this.#worker.postMessage(pending.job);
  }

  terminate(): Promise<number> {
    return this.#worker.terminate();
  }
}

export class RenderPool {
  readonly #size: number;
  readonly #idle: RenderThread[] = [];
  readonly #all = new Set<RenderThread>();
  readonly #queue: Pending[] = [];
  #nextId = 0;
  #closed = false;

  constructor(options: { threads: number }) {
    this.#size = Math.max(1, options.threads);
  }

  /** Renders on this thread when small, else on a worker; rejects with ServerError for bad input. */
  async render(request: ServingRequest, date: string, limit: number | undefined): Promise<RenderedPrompt> {
    if (requestTextLength(request) <= OFF_THREAD_CHARS) return renderServingRequest(request, date, limit);
    if (this.#closed) throw new ServerError("shutting_down", "the server is shutting down");
    // The cheap bound here: a hopeless prompt is not even copied to a worker.
    if (limit !== undefined) assertCanFit(request, limit);
    return this.#enqueue({ id: ++this.#nextId, kind: "chat", request, date, limit });
  }

  /**
   * A raw prompt's token ids (raw-prompt.ts), tokenized on a worker when long: BPE of a run of one
   * letter costs ~14 µs a character, seconds for a prompt of a few megabytes.
   */
  async encodeRaw(text: string, limit: number): Promise<number[]> {
    if (text.length <= OFF_THREAD_CHARS) return encodeRawPrompt(text, limit);
    if (this.#closed) throw new ServerError("shutting_down", "the server is shutting down");
    if (minTokensFor(text) > limit) return encodeRawPrompt(text, limit); // refuses at once
    const rendered = await this.#enqueue({ id: ++this.#nextId, kind: "raw", text, date: "", limit });
    return rendered.tokens;
  }

  #enqueue(job: RenderJob): Promise<RenderedPrompt> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ job, resolve, reject });
      this.#dispatch();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const p of this.#queue.splice(0))
      p.reject(new ServerError("shutting_down", "the server is shutting down"));
    await Promise.all([...this.#all].map((t) => t.terminate()));
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      let thread = this.#idle.pop();
      if (thread === undefined && this.#all.size < this.#size) thread = this.#spawn();
      if (thread === undefined) return;
      thread.run(this.#queue.shift()!);
    }
  }

  #spawn(): RenderThread {
    const thread = new RenderThread(
      (t, reply) => this.#onReply(t, reply),
      (t, error) => this.#onExit(t, error),
    );
    this.#all.add(thread);
    return thread;
  }

  #onReply(thread: RenderThread, reply: RenderReply): void {
    const pending = thread.current;
    thread.current = undefined;
    this.#idle.push(thread);
    if (pending !== undefined && pending.job.id === reply.id) {
      if ("error" in reply) {
        const { code, message, param } = reply.error;
        pending.reject(new ServerError(code as ErrorCode, message, { param }));
      } else {
        pending.resolve({ tokens: Array.from(reply.tokens), text: reply.text });
      }
    }
    this.#dispatch();
  }

  #onExit(thread: RenderThread, error: Error): void {
    if (!this.#all.delete(thread)) return;
    const idle = this.#idle.indexOf(thread);
    if (idle >= 0) this.#idle.splice(idle, 1);
    thread.current?.reject(
      new ServerError("internal_error", `rendering failed: ${error.message}`, { cause: error }),
    );
    thread.current = undefined;
    if (!this.#closed) this.#dispatch();
  }
}
