/**
 * A render-pool worker thread: renders ServingRequests (render-request.ts), or tokenizes a raw
 * prompt (raw-prompt.ts, `/v1/completions`), off the HTTP thread.
 * Messages in: { id, kind, request | text, date, limit }; out: { id, tokens (transferred), text } or
 * { id, error: { code, message, param } }.
 */
import { parentPort } from "node:worker_threads";
import { ServerError } from "../errors/server-error.ts";
import { encodeRawPrompt } from "./raw-prompt.ts";
import { renderServingRequest } from "./render-request.ts";
import type { ServingRequest } from "./serving-request.ts";

export type RenderJob = { id: number; date: string; limit: number | undefined } & (
  { kind: "chat"; request: ServingRequest } | { kind: "raw"; text: string }
);

export type RenderReply =
  | { id: number; tokens: Int32Array; text: string }
  | { id: number; error: { code: string; message: string; param: string | null } };

const port = parentPort;
if (port === null) throw new Error("render-worker.ts runs as a worker thread");

port.on("message", (job: RenderJob) => {
  try {
    const rendered =
      job.kind === "raw"
        ? { tokens: encodeRawPrompt(job.text, job.limit ?? Number.MAX_SAFE_INTEGER), text: job.text }
        : renderServingRequest(job.request, job.date, job.limit);
    const tokens = Int32Array.from(rendered.tokens);
    const reply: RenderReply = { id: job.id, tokens, text: rendered.text };
    port.postMessage(reply, [tokens.buffer]);
  } catch (error) {
    const reply: RenderReply =
      error instanceof ServerError
        ? { id: job.id, error: { code: error.code, message: error.message, param: error.param } }
        : { id: job.id, error: { code: "internal_error", message: String(error), param: null } };
    port.postMessage(reply);
  }
});
