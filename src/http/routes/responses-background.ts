/**
 * `background: true` responses: POST answers at once with the response `queued`; generation runs
 * detached from the connection (closing it cancels nothing), updating the stored response in place
 * (`queued` → `in_progress` → `completed` / `incomplete` / `failed`), which GET /v1/responses/{id}
 * shows. POST /v1/responses/{id}/cancel ends it as `cancelled` (OpenAI's background mode).
 *
 * The jobs end with the scheduler: a shutdown cancels them like any request in flight.
 */
import type { Logger } from "pino";
import { ServerError } from "../../errors/server-error.ts";
import type { ServerMetrics } from "../../metrics/prometheus.ts";
import { isJobCancelledError } from "../../scheduler/job-cancelled-error.ts";
import type { Ticket } from "../../scheduler/scheduler-types.ts";
import { admitAnswer, type AnswerDeps, type PreparedAnswer } from "../../serving/answer-pipeline.ts";
import { answerEvents } from "../../serving/answer-events.ts";
import type { RequestTracker } from "../../serving/request-tracker.ts";
import type { ResponseBuilder } from "../../serving/responses-output.ts";
import { toServerError } from "../error-response.ts";
import { recordCancel } from "../cancellation.ts";

interface BackgroundJob {
  builder: ResponseBuilder;
  abort: AbortController;
  ticket: Ticket | undefined;
  /** Deleted while running: not stored again when it ends. */
  forgotten: boolean;
}

export interface BackgroundRun {
  prepared: PreparedAnswer;
  builder: ResponseBuilder;
  tracker: RequestTracker;
  /** Stores the response as it stands (called when it starts and when it ends). */
  remember: () => void;
}

export class BackgroundResponses {
  readonly #jobs = new Map<string, BackgroundJob>();
  readonly #deps: AnswerDeps & { metrics: ServerMetrics; logger: Logger };

  constructor(deps: AnswerDeps) {
    this.#deps = deps;
  }

  /**
   * Starts generating; the returned promise settles when the response has ended (tests await it).
   * Throws at once (a 400) when this server stores no responses: there would be nothing to poll.
   */
  start(run: BackgroundRun): Promise<void> {
    if (this.#deps.config.responsesStoreSize === 0) {
      throw new ServerError(
        "invalid_value",
        "background: true needs the response store, and this server stores none (--responses-store-size 0)",
        { param: "background" },
      );
    }
    const job: BackgroundJob = {
      builder: run.builder,
      abort: new AbortController(),
      ticket: undefined,
      forgotten: false,
    };
    this.#jobs.set(run.builder.id, job);
    run.builder.queued = true;
    run.remember();
    return this.#run(run, job).finally(() => {
      this.#jobs.delete(run.builder.id);
      if (!job.forgotten) run.remember();
    });
  }

  /**
   * Cancels a running background response; false when none runs under this id. `forget`: it is
   * being deleted, so it is not stored again when it ends.
   */
  cancel(responseId: string, forget = false): boolean {
    const job = this.#jobs.get(responseId);
    if (job === undefined) return false;
    if (forget) job.forgotten = true;
    job.builder.cancel();
    job.abort.abort();
    job.ticket?.cancel("cancel_endpoint");
    return true;
  }

  async #run(run: BackgroundRun, job: BackgroundJob): Promise<void> {
    const { prepared, builder, tracker } = run;
    try {
      tracker.queued();
      job.ticket = await admitAnswer(prepared, job.abort.signal);
      tracker.admitted(job.ticket.queuedMs);
      if (builder.finished) job.ticket.cancel("cancel_endpoint");
      builder.queued = false;
      for await (const event of answerEvents(this.#deps, prepared, job.ticket, tracker)) {
        // A cancel ends the response at once; events still in flight are dropped.
        if (event.type === "cancelled" || builder.finished) break;
        builder.push(event);
      }
      if (builder.finished && builder.response.status !== "cancelled") {
        tracker.succeed();
        return;
      }
      builder.cancel();
      tracker.cancel();
      recordCancel(this.#deps.metrics, job.ticket.cancelReason);
    } catch (error) {
      if (isJobCancelledError(error)) {
        builder.cancel();
        tracker.cancel();
        recordCancel(this.#deps.metrics, error.reason);
        return;
      }
      const serverError = toServerError(error);
      if (serverError.status >= 500) {
        this.#deps.logger.error({ err: error, request_id: prepared.requestId }, "background response failed");
      }
      tracker.fail(serverError, true);
      builder.fail(serverError);
    }
  }
}
