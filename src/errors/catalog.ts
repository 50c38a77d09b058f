/**
 * The catalog of error codes (OpenAI's `error.code` strings where OpenAI has one). Status and type
 * live here and only here; docs/errors.md documents every code (a test checks it).
 */
export const ERROR_CATALOG = {
  invalid_request_error: { status: 400, type: "invalid_request_error", doc: "The request is malformed." },
  invalid_json: { status: 400, type: "invalid_request_error", doc: "The body is not valid JSON." },
  invalid_value: { status: 400, type: "invalid_request_error", doc: "A field has a wrong type or value." },
  missing_required_parameter: {
    status: 400,
    type: "invalid_request_error",
    doc: "A required field is missing.",
  },
  context_length_exceeded: {
    status: 400,
    type: "invalid_request_error",
    doc: "Prompt plus max_tokens exceed the model's context.",
  },
  unsupported_tool: {
    status: 400,
    type: "invalid_request_error",
    doc: "A hosted Responses tool (web_search, mcp, ...) under --strict-tools.",
  },
  unknown_profile: {
    status: 400,
    type: "invalid_request_error",
    doc: "The profile is not one of the known ones.",
  },
  invalid_api_key: { status: 401, type: "authentication_error", doc: "Missing or wrong Bearer API key." },
  model_not_found: { status: 404, type: "invalid_request_error", doc: "The model is not served here." },
  not_found: { status: 404, type: "invalid_request_error", doc: "No such route." },
  request_not_found: {
    status: 404,
    type: "invalid_request_error",
    doc: "No request in flight with this id.",
  },
  response_not_found: {
    status: 404,
    type: "invalid_request_error",
    doc: "No stored response with this id (never stored, expired or evicted).",
  },
  method_not_allowed: {
    status: 405,
    type: "invalid_request_error",
    doc: "The route exists, the method does not.",
  },
  body_timeout: {
    status: 408,
    type: "invalid_request_error",
    doc: "The request body stalled: nothing arrived for --body-timeout.",
  },
  request_too_large: { status: 413, type: "invalid_request_error", doc: "The body exceeds the size limit." },
  uri_too_long: { status: 414, type: "invalid_request_error", doc: "A path segment is too long." },
  headers_too_large: {
    status: 431,
    type: "invalid_request_error",
    doc: "The request's headers exceed Node's limit (16 KiB).",
  },
  unsupported_media_type: { status: 415, type: "invalid_request_error", doc: "The body is not JSON." },
  rate_limit_exceeded: {
    status: 429,
    type: "rate_limit_error",
    doc: "The queue is full; retry after Retry-After.",
  },
  request_cancelled: {
    status: 499,
    type: "cancelled",
    doc: "The request was cancelled (POST /v1/cancel/{id} or shutdown) before it finished.",
  },
  internal_error: { status: 500, type: "server_error", doc: "A bug: please report it." },
  engine_error: { status: 500, type: "server_error", doc: "The inference engine failed on this request." },
  engine_restarted: {
    status: 503,
    type: "service_unavailable",
    doc: "The engine worker running the request exited mid-generation and is being restarted.",
  },
  model_loading: { status: 503, type: "service_unavailable", doc: "The model is still loading." },
  shutting_down: { status: 503, type: "service_unavailable", doc: "The server is shutting down." },
  request_timeout: { status: 504, type: "timeout_error", doc: "The request exceeded its profile's timeout." },
} as const satisfies Record<string, { status: number; type: string; doc: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;
