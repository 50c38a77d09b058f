/**
 * The messages between the HTTP process and an engine worker (a child process that owns one engine
 * replica: the model, the native core, llama.cpp). Node's IPC channel with "advanced" serialization
 * (structured clone), so GenerationRequest's Map of logit biases and typed arrays travel as they
 * are. Tokens travel in batches: the worker gathers what its engine yields in one turn of its event
 * loop into one message.
 */
import type { EngineHealth, EngineInfo, GenerationEvent, GenerationRequest } from "../engine.ts";

/** What a worker is told to start: the server's config (plain data) for `startEngine`. */
export interface WorkerStartSpec {
  config: unknown;
}

/** A ServerError's fields, rebuilt on the other side. */
export interface WireError {
  code: string;
  message: string;
  param: string | null;
  /** ServerError.retryable: the worker's engine generated nothing (an upstream refused, say). */
  retryable?: boolean;
}

export type ToWorker =
  | { type: "generate"; id: number; request: GenerationRequest }
  | { type: "cancel"; id: number }
  | { type: "close" };

export type FromWorker =
  | { type: "ready"; info: EngineInfo; health: EngineHealth }
  | { type: "start_failed"; error: WireError }
  /** Events of several requests, in order per request. */
  | { type: "events"; batch: Array<[id: number, event: GenerationEvent]> }
  /** A generation ended: after its finish event, or with an error instead. */
  | { type: "end"; id: number; error?: WireError }
  | { type: "heartbeat"; health: EngineHealth }
  /** One pino line of the worker's logger, re-logged by the HTTP process's logger. */
  | { type: "log"; line: string }
  | { type: "closed" };

/** How often a worker reports its health; a worker silent for HEARTBEAT_TIMEOUT_MS is restarted. */
export const HEARTBEAT_INTERVAL_MS = 1_000;
export const HEARTBEAT_TIMEOUT_MS = 10_000;
