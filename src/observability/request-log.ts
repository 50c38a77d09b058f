/**
 * One log line per finished request: enough to follow a request through `grep <request_id>` and to
 * spot slow or failing ones with `grep ERROR`. Levels: failed → error (the server could not serve
 * it); rejected → warn (the client's input was wrong, 4xx and 404 included: not a server error, so
 * it stays out of `grep ERROR`, and the line says the route, code, message and param, so an
 * operator can tell a client what it did wrong); success and cancelled → info (a client abort is
 * not an error).
 */
import type { Logger } from "pino";
import type { RequestRecord } from "../metrics/request-record.ts";

export function logRequestFinished(logger: Logger, record: RequestRecord): void {
  const fields = {
    request_id: record.requestId,
    client_request_id: record.clientRequestId,
    route: record.route,
    profile: record.profile,
    model: record.model,
    engine: record.engine,
    stream: record.stream,
    outcome: record.outcome,
    status: record.status,
    error_code: record.errorCode,
    error_message: record.errorMessage,
    error_param: record.errorParam ?? undefined,
    ttft_ms: record.ttftMs,
    e2e_ms: record.e2eMs,
    prompt_tokens: record.promptTokens,
    cached_tokens: record.cachedTokens,
    completion_tokens: record.completionTokens,
    reasoning_tokens: record.reasoningTokens,
    response_cache: record.responseCache,
  };
  switch (record.outcome) {
    case "failed":
      logger.error(fields, "request failed");
      return;
    case "rejected":
      logger.warn(fields, "request rejected");
      return;
    case "cancelled":
      logger.info(fields, "request cancelled");
      return;
    case "success":
      logger.info(fields, "request finished");
      return;
  }
}
