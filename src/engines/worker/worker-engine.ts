/**
 * An Engine whose replica runs in a supervised child process (worker-main.ts). The HTTP process
 * keeps the same Engine interface, so serving, the scheduler and HTTP do not change; what changes is
 * what a crash costs. A worker that exits, misses heartbeats, fails RESTART_AFTER_FAILURES_IN_A_ROW
 * requests in a row (engine_error) or reports its engine failed (the native
 * core caught an exception, the weights give NaN logits) is restarted with backoff. A request that
 * had not produced a token when its worker died is sent again to the restarted one (nothing was
 * generated, so nothing is billed twice); a stream that had produced tokens ends with
 * `engine_restarted`. While no worker is ready, health is "loading" with detail "restarting", which
 * readiness reports as 503.
 *
 * With warm prompts (`--warm-prompt`, engines/warm-up.ts), every worker, the first and each one
 * restarted, runs them before it takes a request: a restarted worker's prefix cache is full again
 * before traffic reaches it.
 */
import type { Logger } from "pino";
import type { ServerConfig } from "../../config/schema.ts";
import { ServerError } from "../../errors/server-error.ts";
import type {
  Engine,
  EngineHealth,
  EngineInfo,
  GenerationEvent,
  GenerationRequest,
  GenerationUsage,
} from "../engine.ts";
import { abortableDelay } from "../linked-signal.ts";
import { warmUp } from "../warm-up.ts";
import { HEARTBEAT_TIMEOUT_MS, type WireError } from "./protocol.ts";
import { describeExit, toServerError, WorkerProcess, type WorkerExit } from "./worker-process.ts";

export interface WorkerEngineOptions {
  config: ServerConfig;
  logger: Logger;
  /** Added to the worker's environment (a replica's CUDA_VISIBLE_DEVICES). */
  env?: NodeJS.ProcessEnv;
  /** First restart delay; it doubles up to maxBackoffMs and resets after a minute of health. */
  backoffMs?: number;
  maxBackoffMs?: number;
  heartbeatTimeoutMs?: number;
  /** How long a request waits for a restarting worker before it fails. */
  waitForWorkerMs?: number;
  /**
   * Whether a request with no token yet waits for the restarted worker and runs there (one
   * replica), or fails with a retryable engine_restarted error so that a router sends it to
   * another replica at once.
   */
  retryOnRestart?: boolean;
  /** Prompt prefixes (token ids) each worker runs before it takes requests (engines/warm-up.ts). */
  warmPrompts?: readonly (readonly number[])[];
}

/** `engine_restarted`; retryable when the request generated nothing, so it can run elsewhere. */
export function engineRestartedError(message: string, beforeFirstToken: boolean): ServerError {
  return new ServerError("engine_restarted", message, { retryable: beforeFirstToken });
}

/** What /health and the metrics show of a worker's history. */
export interface WorkerStatus {
  pid: number | undefined;
  restarts: number;
  lastExit?: WorkerExit & { reason: string };
}

type QueueItem = { event: GenerationEvent } | { end: WireError | undefined } | { lost: WorkerExit };

/** A request's view of its worker: events in order, then the end (or the worker's death). */
class RequestQueue {
  readonly #items: QueueItem[] = [];
  #wake: (() => void) | undefined;
  ended = false;

  readonly sink = {
    event: (event: GenerationEvent) => this.#push({ event }),
    end: (error?: WireError) => this.#push({ end: error }),
    lost: (exit: WorkerExit) => this.#push({ lost: exit }),
  };

  #push(item: QueueItem): void {
    this.#items.push(item);
    this.#wake?.();
  }

  async next(): Promise<QueueItem> {
    while (this.#items.length === 0) await new Promise<void>((resolve) => (this.#wake = resolve));
    this.#wake = undefined;
    return this.#items.shift()!;
  }
}

class WorkerLost extends Error {
  constructor(readonly exit: WorkerExit) {
    super(`the engine worker exited (${describeExit(exit)})`);
  }
}

const MAX_DISPATCHES = 3;
const HEALTHY_RESET_MS = 60_000;
/**
 * Requests ending in engine_error one after another on one worker before it is restarted: a worker
 * whose engine is broken (a wedged context, a core that refuses everything) without crashing or
 * saying so in its health. A request the client got wrong never ends in engine_error.
 */
export const RESTART_AFTER_FAILURES_IN_A_ROW = 5;

export class WorkerEngine implements Engine {
  readonly info: EngineInfo;
  readonly #options: Required<Omit<WorkerEngineOptions, "env">> & { env: NodeJS.ProcessEnv };
  #worker: WorkerProcess;
  /** Resolves with the next ready worker while one is being restarted. */
  #restarting: Promise<WorkerProcess> | undefined;
  #nextId = 1;
  #restarts = 0;
  #lastExit: (WorkerExit & { reason: string }) | undefined;
  #backoff: number;
  #readySince = Date.now();
  /** engine_error ends in a row on the current worker (reset by a success and by a restart). */
  #failuresInARow = 0;
  #closing = false;
  /** Aborted by close(): a restart waiting out its backoff stops waiting. */
  readonly #closed = new AbortController();
  readonly #watchdog: NodeJS.Timeout;

  static async start(options: WorkerEngineOptions): Promise<WorkerEngine> {
    const worker = new WorkerProcess(options.config, options.logger, options.env);
    const info = await worker.ready.catch(async (error: unknown) => {
      worker.kill();
      await worker.exited;
      throw error;
    });
    const engine = new WorkerEngine(options, worker, info);
    await engine.#warm(worker);
    return engine;
  }

  private constructor(options: WorkerEngineOptions, worker: WorkerProcess, info: EngineInfo) {
    this.#options = {
      backoffMs: 500,
      maxBackoffMs: 30_000,
      heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
      waitForWorkerMs: 60_000,
      retryOnRestart: true,
      warmPrompts: [],
      env: {},
      ...options,
    };
    this.info = info;
    this.#backoff = this.#options.backoffMs;
    this.#worker = worker;
    this.#watch(worker);
    this.#watchdog = setInterval(() => this.#check(), 500);
    this.#watchdog.unref();
  }

  get status(): WorkerStatus {
    return {
      pid: this.#worker.alive ? this.#worker.child.pid : undefined,
      restarts: this.#restarts,
      ...(this.#lastExit !== undefined ? { lastExit: this.#lastExit } : {}),
    };
  }

  async *generate(req: GenerationRequest, signal: AbortSignal): AsyncIterable<GenerationEvent> {
    for (let dispatch = 1; ; dispatch++) {
      const worker = await this.#readyWorker(signal);
      if (worker === undefined) {
        yield cancelledBeforeStart(req);
        return;
      }
      const id = this.#nextId++;
      const queue = new RequestQueue();
      worker.requests.set(id, queue.sink);
      worker.send({ type: "generate", id, request: req });
      const cancel = (): void => worker.send({ type: "cancel", id });
      signal.addEventListener("abort", cancel, { once: true });
      if (signal.aborted) cancel();
      let produced = false;
      try {
        for (;;) {
          const item = await queue.next();
          if ("event" in item) {
            if (
              item.event.type === "parsed" ||
              (item.event.type === "tokens" && item.event.tokens.length > 0)
            ) {
              produced = true;
            }
            yield item.event;
          } else if ("end" in item) {
            queue.ended = true;
            this.#countEnd(worker, item.end);
            if (item.end !== undefined) throw toServerError(item.end);
            return;
          } else {
            queue.ended = true;
            throw new WorkerLost(item.lost);
          }
        }
      } catch (error) {
        if (!(error instanceof WorkerLost)) throw error;
        if (signal.aborted) {
          yield cancelledBeforeStart(req);
          return;
        }
        // Nothing generated yet: run it again (here, or on another replica when one routes).
        if (!produced && this.#options.retryOnRestart && dispatch < MAX_DISPATCHES) continue;
        throw engineRestartedError(
          `The engine worker exited (${describeExit(error.exit)}) while generating; it is being restarted. ` +
            "Retry the request.",
          !produced,
        );
      } finally {
        signal.removeEventListener("abort", cancel);
        // The consumer stopped reading (return()): the worker must stop generating.
        if (!queue.ended) cancel();
        worker.requests.delete(id);
      }
    }
  }

  health(): EngineHealth {
    const worker = { pid: this.status.pid ?? null, restarts: this.#restarts, ...this.#exitReport() };
    if (this.#closing) return { status: "failed", activeSequences: 0, detail: "closed", worker };
    if (this.#restarting !== undefined || !this.#worker.alive) {
      const why = this.#lastExit !== undefined ? ` after ${this.#lastExit.reason}` : "";
      return { status: "loading", activeSequences: 0, detail: `restarting${why}`, worker };
    }
    // Requests in flight are counted here, at once; the heartbeat's own count is up to a second old.
    return { ...this.#worker.health, activeSequences: this.#worker.requests.size, worker };
  }

  #exitReport(): Pick<NonNullable<EngineHealth["worker"]>, "lastExit"> {
    const exit = this.#lastExit;
    if (exit === undefined) return {};
    const { code, signal, reason, at, stderrTail } = exit;
    return { lastExit: { code, signal, reason, at, stderrTail: stderrTail.slice(-1000) } };
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#closed.abort();
    clearInterval(this.#watchdog);
    const worker = (await this.#restarting?.catch(() => undefined)) ?? this.#worker;
    if (!worker.alive) return;
    worker.send({ type: "close" });
    const timeout = setTimeout(() => worker.kill(), 10_000);
    await worker.exited;
    clearTimeout(timeout);
  }

  /** The current worker once it is ready; undefined when `signal` aborted while waiting. */
  async #readyWorker(signal: AbortSignal): Promise<WorkerProcess | undefined> {
    if (this.#closing) throw new ServerError("engine_error", "The engine is closed.");
    if (this.#restarting === undefined && this.#worker.alive) return this.#worker;
    if (signal.aborted) return undefined;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      return await Promise.race([
        (this.#restarting ?? Promise.resolve(this.#worker)).then((w) => w),
        new Promise<undefined>((resolve) => {
          onAbort = () => resolve(undefined);
          signal.addEventListener("abort", onAbort, { once: true });
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new ServerError(
                  "engine_restarted",
                  `No engine worker came back within ${this.#options.waitForWorkerMs / 1000} s; retry later.`,
                ),
              ),
            this.#options.waitForWorkerMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
    }
  }

  #watch(worker: WorkerProcess): void {
    void worker.exited.then((exit) => {
      if (this.#closing || worker !== this.#worker) return;
      this.#onLost(exit, describeExit(exit));
    });
  }

  /** Heartbeats and the engine's own health: a silent or failed worker is killed, then restarted. */
  #check(): void {
    const worker = this.#worker;
    if (this.#closing || this.#restarting !== undefined || !worker.alive) return;
    if (Date.now() - worker.lastHeartbeat > this.#options.heartbeatTimeoutMs) {
      this.#kill(worker, `no heartbeat for ${this.#options.heartbeatTimeoutMs / 1000} s`);
    } else if (worker.health.status === "failed") {
      this.#kill(worker, `its engine failed: ${worker.health.detail ?? "unknown"}`);
    } else if (Date.now() - this.#readySince > HEALTHY_RESET_MS) {
      this.#backoff = this.#options.backoffMs;
    }
  }

  /** A worker whose requests fail RESTART_AFTER_FAILURES_IN_A_ROW times in a row is restarted. */
  #countEnd(worker: WorkerProcess, error: WireError | undefined): void {
    if (worker !== this.#worker || this.#restarting !== undefined) return;
    if (error === undefined) {
      this.#failuresInARow = 0;
      return;
    }
    if (error.code !== "engine_error") return;
    this.#failuresInARow += 1;
    if (this.#failuresInARow === RESTART_AFTER_FAILURES_IN_A_ROW && worker.alive) {
      this.#kill(worker, `${this.#failuresInARow} requests failed in a row (last: ${error.message})`);
    }
  }

  #kill(worker: WorkerProcess, reason: string): void {
    this.#options.logger.error(`engine worker ${worker.child.pid}: ${reason}; restarting it`);
    this.#pendingReason = reason;
    worker.kill("SIGKILL");
  }

  #pendingReason: string | undefined;

  #onLost(exit: WorkerExit, how: string): void {
    const reason = this.#pendingReason ?? `exit (${how})`;
    this.#pendingReason = undefined;
    this.#restarts += 1;
    this.#lastExit = { ...exit, reason };
    this.#options.logger.error(
      { exit_code: exit.code, signal: exit.signal, stderr_tail: exit.stderrTail.slice(-1000) },
      `engine worker ${this.#worker.child.pid} lost (${reason}); restart ${this.#restarts} in ${this.#backoff} ms`,
    );
    this.#restarting = this.#restart();
    this.#restarting.catch(() => undefined);
  }

  /** Runs the warm prompts on `worker`, not yet handed out: a failure is logged, never thrown. */
  async #warm(worker: WorkerProcess): Promise<void> {
    const prompts = this.#options.warmPrompts;
    if (prompts.length === 0) return;
    await warmUp(
      prompts,
      (req) => this.#runToEnd(worker, req),
      this.#options.logger,
      `engine worker ${worker.child.pid}`,
    );
  }

  /** One request on `worker`, to its end, nothing streamed (a warm-up's): its finish's usage. */
  async #runToEnd(worker: WorkerProcess, req: GenerationRequest): Promise<GenerationUsage | undefined> {
    const id = this.#nextId++;
    const queue = new RequestQueue();
    worker.requests.set(id, queue.sink);
    worker.send({ type: "generate", id, request: req });
    let usage: GenerationUsage | undefined;
    try {
      for (;;) {
        const item = await queue.next();
        if ("event" in item) {
          if (item.event.type === "finish") usage = item.event.usage;
          continue;
        }
        if ("lost" in item) throw new WorkerLost(item.lost);
        if (item.end !== undefined) throw toServerError(item.end);
        return usage;
      }
    } finally {
      worker.requests.delete(id);
    }
  }

  /** Starts workers, with growing delays, until one is ready (or the engine closes). */
  async #restart(): Promise<WorkerProcess> {
    for (;;) {
      await abortableDelay(this.#backoff, this.#closed.signal);
      this.#backoff = Math.min(this.#backoff * 2, this.#options.maxBackoffMs);
      if (this.#closing) throw new ServerError("engine_error", "The engine is closed.");
      const worker = new WorkerProcess(this.#options.config, this.#options.logger, this.#options.env);
      try {
        await worker.ready;
      } catch (error) {
        worker.kill();
        const exit = await worker.exited;
        this.#restarts += 1;
        const message = error instanceof Error ? error.message : String(error);
        this.#lastExit = { ...exit, reason: `restart failed: ${message}` };
        this.#options.logger.error(
          `engine worker restart failed: ${message}; next try in ${this.#backoff} ms`,
        );
        continue;
      }
      await this.#warm(worker);
      if (this.#closing) {
        worker.send({ type: "close" });
        throw new ServerError("engine_error", "The engine is closed.");
      }
      if (!worker.alive) {
        // It died while warming: as a start that failed.
        const exit = await worker.exited;
        this.#restarts += 1;
        this.#lastExit = {
          ...exit,
          reason: `restart failed: the worker exited (${describeExit(exit)}) while warming`,
        };
        this.#options.logger.error(`engine worker died while warming; next try in ${this.#backoff} ms`);
        continue;
      }
      this.#worker = worker;
      this.#failuresInARow = 0;
      this.#readySince = Date.now();
      this.#restarting = undefined;
      this.#watch(worker);
      this.#options.logger.info(`engine worker ${worker.child.pid} ready (restart ${this.#restarts})`);
      return worker;
    }
  }
}

/** The finish of a request cancelled before any worker ran it. */
function cancelledBeforeStart(req: GenerationRequest): GenerationEvent {
  return {
    type: "finish",
    reason: "cancelled",
    usage: { promptTokens: req.promptTokens.length, cachedTokens: 0, completionTokens: 0 },
  };
}
