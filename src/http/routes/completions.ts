/**
 * POST /v1/completions: legacy Completions over a raw prompt (serving/completions-*.ts). The same
 * flow as chat: parse, prepare, admit to the scheduler, then one JSON body or an SSE stream of
 * `text_completion` chunks; a client disconnect aborts the request's signal.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ServerError } from "../../errors/server-error.ts";
import { isJobCancelledError } from "../../scheduler/job-cancelled-error.ts";
import type { Ticket } from "../../scheduler/scheduler-types.ts";
import {
  admitCompletion,
  completionEvents,
  prepareCompletion,
  type PreparedCompletion,
} from "../../serving/completions-pipeline.ts";
import { parseCompletionRequest } from "../../serving/completions-request.ts";
import { collectCompletion, CompletionChunker } from "../../serving/completions-response.ts";
import type { RequestTracker } from "../../serving/request-tracker.ts";
import type { RouteDeps } from "../app.ts";
import { beginGenerationRequest, cancelledError, recordCancel, replyCancelled } from "../cancellation.ts";
import { errorEnvelope, toServerError } from "../error-response.ts";
import { SseWriter } from "../sse-writer.ts";

export function registerCompletionsRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const sinks = { stats: deps.stats, metrics: deps.metrics, logger: deps.logger };

  app.post("/v1/completions", async (req: FastifyRequest, reply: FastifyReply) => {
    const { tracker, abort } = beginGenerationRequest(req, reply, sinks, deps.owners);
    let ticket: Ticket | undefined;
    let sse: SseWriter | undefined;
    try {
      if (deps.isShuttingDown()) throw new ServerError("shutting_down", "the server is shutting down");
      const prepared = await prepareCompletion(deps, parseCompletionRequest(req.body), req.id, tracker);
      ticket = await admitCompletion(prepared, abort.signal);
      if (!prepared.request.stream) {
        const body = await collectCompletion(prepared, completionEvents(prepared, ticket, tracker));
        if (body === undefined) {
          return replyCancelled(ticket, req.id, tracker, deps.metrics, reply, abort.signal.aborted);
        }
        tracker.succeed();
        return reply.send(body);
      }
      sse = new SseWriter(reply.raw, { "x-request-id": req.id });
      reply.hijack();
      await streamCompletion(prepared, ticket, tracker, sse);
    } catch (error) {
      if (isJobCancelledError(error)) {
        return replyCancelled(error, req.id, tracker, deps.metrics, reply, abort.signal.aborted);
      }
      const serverError = toServerError(error);
      if (serverError.status >= 500 && serverError.code !== "request_timeout") {
        deps.logger.error({ err: error, request_id: req.id }, "completion failed");
      }
      tracker.fail(serverError, sse !== undefined);
      recordCancel(deps.metrics, ticket?.cancelReason);
      if (sse !== undefined) {
        await sse.send(errorEnvelope(serverError));
        sse.end();
        return;
      }
      return reply.code(serverError.status).headers(serverError.headers).send(errorEnvelope(serverError));
    }
  });

  async function streamCompletion(
    prepared: PreparedCompletion,
    ticket: Ticket,
    tracker: RequestTracker,
    sse: SseWriter,
  ): Promise<void> {
    const chunker = new CompletionChunker(prepared);
    let finished = false;
    for await (const event of completionEvents(prepared, ticket, tracker)) {
      if (event.type === "cancelled") break;
      if (event.type === "finish") finished = true;
      for (const chunk of chunker.chunks(event)) {
        const pending = sse.send(chunk);
        if (pending !== undefined) await pending;
      }
      if (sse.closed) ticket.cancel("client_disconnect");
    }
    if (finished) {
      tracker.succeed();
      sse.done();
      return;
    }
    tracker.cancel();
    recordCancel(deps.metrics, ticket.cancelReason);
    if (!sse.closed) await sse.send(errorEnvelope(cancelledError(ticket.id, ticket.cancelReason)));
    sse.end();
  }
}
