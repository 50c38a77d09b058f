/**
 * An engine worker's entry (a child process forked by worker-engine.ts): starts one engine from the
 * server's config, then serves generate / cancel / close over the IPC channel. A crash here (a bus
 * error on a truncated model file, a CUDA abort, a llama.cpp assert) ends this process only; the
 * HTTP process sees the exit and restarts the worker.
 */
import { Writable } from "node:stream";
import pino from "pino";
import { configSchema, type ServerConfig } from "../../config/schema.ts";
import { startEngine } from "../../cli/start-engine.ts";
import { isServerError } from "../../errors/server-error.ts";
import type { Engine, GenerationEvent } from "../engine.ts";
import { HEARTBEAT_INTERVAL_MS, type FromWorker, type ToWorker, type WireError } from "./protocol.ts";

function send(message: FromWorker): void {
  process.send?.(message);
}

function wireError(error: unknown): WireError {
  if (isServerError(error)) {
    return { code: error.code, message: error.message, param: error.param, retryable: error.retryable };
  }
  return {
    code: "engine_error",
    message: error instanceof Error ? error.message : String(error),
    param: null,
  };
}

/** The worker's log lines go to the HTTP process, whose logger writes them where its own go. */
function ipcLogger(level: string): pino.Logger {
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line !== "") send({ type: "log", line });
      done();
    },
  });
  return pino({ level, base: { worker: process.pid } }, stream);
}

/** Events waiting for the end of this turn of the event loop, sent then as one message. */
class Outbox {
  #batch: Array<[number, GenerationEvent]> = [];
  #scheduled = false;

  push(id: number, event: GenerationEvent): void {
    this.#batch.push([id, event]);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#batch.length === 0) return;
    send({ type: "events", batch: this.#batch });
    this.#batch = [];
  }
}

async function main(): Promise<void> {
  const raw = process.env["GPTOSS_WORKER_CONFIG"];
  if (raw === undefined || process.send === undefined) {
    throw new Error("worker-main runs only as an engine worker (forked with GPTOSS_WORKER_CONFIG)");
  }
  const config: ServerConfig = configSchema.parse(JSON.parse(raw));
  const logger = ipcLogger(config.logLevel);
  let engine: Engine;
  try {
    engine = await startEngine(config, logger);
  } catch (error) {
    send({ type: "start_failed", error: wireError(error) });
    process.exitCode = 1;
    process.disconnect?.();
    return;
  }
  const outbox = new Outbox();
  const running = new Map<number, AbortController>();

  const generate = async (id: number, request: Parameters<Engine["generate"]>[0]): Promise<void> => {
    const abort = new AbortController();
    running.set(id, abort);
    try {
      for await (const event of engine.generate(request, abort.signal)) outbox.push(id, event);
      outbox.flush();
      send({ type: "end", id });
    } catch (error) {
      outbox.flush();
      send({ type: "end", id, error: wireError(error) });
    } finally {
      running.delete(id);
    }
  };

  let closing = false;
  process.on("message", (message: ToWorker) => {
    if (message.type === "generate") void generate(message.id, message.request);
    else if (message.type === "cancel") running.get(message.id)?.abort();
    else if (message.type === "close" && !closing) {
      closing = true;
      clearInterval(heartbeat);
      for (const abort of running.values()) abort.abort();
      void engine.close().finally(() => {
        send({ type: "closed" });
        process.disconnect?.();
      });
    }
  });
  // Ctrl-C reaches the whole process group: the HTTP process drains the requests and then sends
  // "close"; dying on the signal here would cut the streams it is still finishing.
  process.on("SIGINT", () => undefined);
  process.on("SIGTERM", () => undefined);
  // The HTTP process went away (killed, crashed): nothing is left to serve.
  process.on("disconnect", () => {
    if (!closing) process.exit(0);
  });
  const heartbeat = setInterval(
    () => send({ type: "heartbeat", health: engine.health() }),
    HEARTBEAT_INTERVAL_MS,
  );
  send({ type: "ready", info: engine.info, health: engine.health() });
}

void main().catch((error: unknown) => {
  send({ type: "start_failed", error: wireError(error) });
  process.exitCode = 1;
  process.disconnect?.();
});
