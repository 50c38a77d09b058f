/**
 * Count limits on a request's lists, enforced where the wire is parsed (chat-request.ts,
 * responses-request.ts): each is a 400 naming the param, before any per-item work. The body
 * limit bounds bytes; these bound how many items the parsing, rendering and grammar building walk.
 */

/** Tools in one request: OpenAI's documented maximum ("A max of 128 functions are supported"). */
export const MAX_TOOLS = 128;

/**
 * Chat messages, or Responses input items, in one request (stored history from
 * previous_response_id not counted). OpenAI documents none; 2,048 is past what fits a gpt-oss
 * context with real content (131,072 tokens: 64 a message on average) yet bounds per-item work.
 */
export const MAX_MESSAGES = 2048;
