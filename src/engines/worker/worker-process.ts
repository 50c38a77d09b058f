/**
 * One engine worker child process, seen from the HTTP process: forks worker-main.ts, routes its
 * messages to the requests they belong to, keeps the tail of its stderr (for /health's last exit),
 * and reports its exit. Supervision (restarts, retries) is worker-engine.ts's.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import { ServerError } from "../../errors/server-error.ts";
import type { ErrorCode } from "../../errors/catalog.ts";
import type { EngineHealth, EngineInfo, GenerationEvent } from "../engine.ts";
import type { FromWorker, ToWorker, WireError } from "./protocol.ts";

const WORKER_MAIN = fileURLToPath(new URL("./worker-main.ts", import.meta.url));
const STDERR_TAIL_BYTES = 4096;

/** How a worker process ended. */
export interface WorkerExit {
  code: number | null;
  signal: string | null;
  /** The last lines it wrote to stderr (llama.cpp's and the runtime's own messages). */
  stderrTail: string;
  at: string;
}

/** What a request hears from the worker that runs it. */
export interface RequestSink {
  event(event: GenerationEvent): void;
  end(error?: WireError): void;
  /** The worker died before the request ended. */
  lost(exit: WorkerExit): void;
}

export function toServerError(error: WireError): ServerError {
  return new ServerError(error.code as ErrorCode, error.message, {
    param: error.param,
    retryable: error.retryable === true,
  });
}

/** Node's own flags minus debugger ones, plus tsx's loader when the parent registered it by API. */
function workerExecArgv(): string[] {
  const own = process.execArgv.filter((a) => !a.startsWith("--inspect"));
  return own.some((a) => a.includes("tsx")) ? own : [...own, "--import", "tsx"];
}

export class WorkerProcess {
  readonly child: ChildProcess;
  readonly ready: Promise<EngineInfo>;
  readonly exited: Promise<WorkerExit>;
  readonly requests = new Map<number, RequestSink>();
  lastHeartbeat = Date.now();
  health: EngineHealth = { status: "loading", activeSequences: 0 };
  #stderr = "";
  #exit: WorkerExit | undefined;

  constructor(config: unknown, logger: Logger, env: NodeJS.ProcessEnv = {}) {
    this.child = fork(WORKER_MAIN, [], {
      env: { ...process.env, ...env, GPTOSS_WORKER_CONFIG: JSON.stringify(config) },
      execArgv: workerExecArgv(),
      serialization: "advanced",
      stdio: ["ignore", "inherit", "pipe", "ipc"],
    });
    this.child.stderr?.setEncoding("utf8");
    this.child.stderr?.on("data", (text: string) => {
      process.stderr.write(text);
      this.#stderr = (this.#stderr + text).slice(-STDERR_TAIL_BYTES);
    });
    let started: (info: EngineInfo) => void = () => undefined;
    let failed: (error: Error) => void = () => undefined;
    this.ready = new Promise<EngineInfo>((resolve, reject) => {
      started = resolve;
      failed = reject;
    });
    this.ready.catch(() => undefined);
    this.exited = new Promise<WorkerExit>((resolve) => {
      this.child.once("exit", (code, signal) => {
        // stderr may still hold the last words (an assert's message): read them first.
        setImmediate(() => {
          this.#exit = { code, signal, stderrTail: this.#stderr.trim(), at: new Date().toISOString() };
          failed(new Error(`the engine worker exited (${describeExit(this.#exit)}) before it was ready`));
          for (const sink of this.requests.values()) sink.lost(this.#exit);
          this.requests.clear();
          resolve(this.#exit);
        });
      });
    });
    this.child.on("message", (message: FromWorker) => {
      switch (message.type) {
        case "ready":
          // Loading a model takes as long as it takes; heartbeats are owed from now on.
          this.lastHeartbeat = Date.now();
          this.health = message.health;
          started(message.info);
          return;
        case "start_failed":
          failed(toServerError(message.error));
          return;
        case "events":
          for (const [id, event] of message.batch) this.requests.get(id)?.event(event);
          return;
        case "end": {
          const sink = this.requests.get(message.id);
          this.requests.delete(message.id);
          sink?.end(message.error);
          return;
        }
        case "heartbeat":
          this.lastHeartbeat = Date.now();
          this.health = message.health;
          return;
        case "log":
          relogLine(logger, message.line);
          return;
        case "closed":
          return;
      }
    });
    // A send to a worker that just died fails asynchronously; its exit is handled above.
    this.child.on("error", (error) => logger.debug(`engine worker ${this.child.pid}: ${error.message}`));
  }

  get alive(): boolean {
    return this.#exit === undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  send(message: ToWorker): void {
    if (this.alive && this.child.connected) this.child.send(message);
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (this.alive) this.child.kill(signal);
  }
}

export function describeExit(exit: WorkerExit): string {
  return exit.signal !== null ? `signal ${exit.signal}` : `code ${exit.code ?? "?"}`;
}

/** A worker's pino line through this process's logger (and so into its log file). */
function relogLine(logger: Logger, line: string): void {
  try {
    const {
      level,
      msg,
      time: _time,
      pid: _pid,
      hostname: _host,
      ...fields
    } = JSON.parse(line) as {
      level?: number;
      msg?: string;
      [key: string]: unknown;
    };
    const method = level === undefined ? "info" : (logger.levels.labels[level] ?? "info");
    logger[method as "info"].call(logger, fields, msg);
  } catch {
    logger.info({ worker_line: line }, "engine worker output");
  }
}
