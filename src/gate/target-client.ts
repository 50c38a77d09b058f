/**
 * The gate's and the bench's only way to talk to a server: plain HTTP(S) with keep-alive, the
 * OpenAI Chat Completions wire format, nothing imported from the server's own code. A chat request
 * never throws: every way it can go wrong becomes a failed RequestResult.
 */
import http from "node:http";
import https from "node:https";
import type { GateClock } from "./gate-clock.ts";
import { realClock } from "./gate-clock.ts";
import type { RequestResult, ToolCallResult } from "./request-result.ts";
import { SseDecoder } from "./sse-decoder.ts";

/** No HTTP answer at all (refused, unknown host, reset before a status line): exit code 2. */
export class TargetUnreachableError extends Error {
  override readonly name = "TargetUnreachableError";
}

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

export interface ChatCallOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called with the X-Request-Id header as soon as the response head arrives. */
  onHead?: (requestId: string | undefined) => void;
  /** Called at the first token-bearing chunk. */
  onFirstToken?: () => void;
}

interface Delta {
  content?: unknown;
  reasoning?: unknown;
  reasoning_content?: unknown;
  tool_calls?: unknown;
}

interface ChunkLike {
  error?: { message?: unknown; code?: unknown };
  choices?: Array<{ delta?: Delta; message?: Delta; finish_reason?: unknown }>;
  usage?: {
    completion_tokens?: unknown;
    prompt_tokens?: unknown;
    prompt_tokens_details?: { cached_tokens?: unknown } | null;
  } | null;
}

interface ToolCallDelta {
  index?: unknown;
  id?: unknown;
  function?: { name?: unknown; arguments?: unknown };
}

/** Merges streamed tool-call deltas by `index` (OpenAI streams the name once, then arguments). */
function mergeToolCalls(into: ToolCallResult[], deltas: unknown): void {
  if (!Array.isArray(deltas)) return;
  for (const [position, d] of (deltas as ToolCallDelta[]).entries()) {
    const index = typeof d.index === "number" ? d.index : position;
    const call = (into[index] ??= { id: "", name: "", arguments: "" });
    if (typeof d.id === "string" && d.id.length > 0) call.id = d.id;
    if (typeof d.function?.name === "string") call.name += d.function.name;
    if (typeof d.function?.arguments === "string") call.arguments += d.function.arguments;
  }
}

const nonEmpty = (v: unknown): boolean =>
  typeof v === "string" ? v.length > 0 : Array.isArray(v) && v.length > 0;

/** Strips a trailing "/" and "/v1" so both `http://host:8000` and `http://host:8000/v1` work. */
export function normalizeBaseUrl(url: string): string {
  let base = url.trim().replace(/\/+$/, "");
  if (base.endsWith("/v1")) base = base.slice(0, -3);
  const parsed = new URL(base);
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new Error(`--url must be http(s)://..., got ${url}`);
  }
  return base;
}

function errorMessage(text: string, status: number): { message: string; code?: string } {
  try {
    const body = JSON.parse(text) as ChunkLike;
    const message = body.error?.message;
    const code = body.error?.code;
    if (typeof message === "string") {
      return { message: `HTTP ${status}: ${message}`, ...(typeof code === "string" ? { code } : {}) };
    }
  } catch {
    // Not JSON: fall through to the raw text.
  }
  return { message: `HTTP ${status}: ${text.slice(0, 200)}` };
}

export class TargetClient {
  readonly baseUrl: string;
  readonly #apiKey: string | undefined;
  readonly #clock: GateClock;
  readonly #agent: http.Agent;
  readonly #module: typeof http | typeof https;

  constructor(url: string, options: { apiKey?: string; clock?: GateClock } = {}) {
    this.baseUrl = normalizeBaseUrl(url);
    this.#apiKey = options.apiKey;
    this.#clock = options.clock ?? realClock;
    const isHttps = this.baseUrl.startsWith("https:");
    this.#module = isHttps ? https : http;
    this.#agent = new (isHttps ? https.Agent : http.Agent)({ keepAlive: true, maxSockets: Infinity });
  }

  close(): void {
    this.#agent.destroy();
  }

  #headers(body: string | undefined): http.OutgoingHttpHeaders {
    return {
      accept: "application/json, text/event-stream",
      ...(this.#apiKey !== undefined ? { authorization: `Bearer ${this.#apiKey}` } : {}),
      ...(body !== undefined
        ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) }
        : {}),
    };
  }

  /** One plain request; rejects with TargetUnreachableError when no HTTP answer came back. */
  request(method: "GET" | "POST", path: string, body?: unknown, timeoutMs = 10_000): Promise<HttpAnswer> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = this.#module.request(
        `${this.baseUrl}${path}`,
        { method, agent: this.#agent, headers: this.#headers(payload) },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (d: string) => (text += d));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
          res.on("error", reject);
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on("error", (e: Error) => reject(new TargetUnreachableError(`${method} ${path}: ${e.message}`)));
      req.end(payload);
    });
  }

  async getJson(path: string, timeoutMs?: number): Promise<{ status: number; body: unknown }> {
    const answer = await this.request("GET", path, undefined, timeoutMs);
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer.text);
    } catch {
      parsed = undefined;
    }
    return { status: answer.status, body: parsed };
  }

  /** POST /v1/chat/completions, streaming when body.stream is true. Never rejects. */
  chat(body: Record<string, unknown>, options: ChatCallOptions): Promise<RequestResult> {
    return this.#chatOnce(JSON.stringify(body), body["stream"] === true, options, true);
  }

  #chatOnce(
    payload: string,
    stream: boolean,
    options: ChatCallOptions,
    mayRetry: boolean,
  ): Promise<RequestResult> {
    const clock = this.#clock;
    const result: RequestResult = {
      ok: false,
      status: 0,
      sentAt: clock.now(),
      endAt: 0,
      tokenTimes: [],
      outputTokens: 0,
    };
    let usageTokens: number | undefined;

    return new Promise((resolve) => {
      let settled = false;
      // A deadline for the whole request, not an idle timeout: a stream that trickles forever fails.
      const timer = setTimeout(() => {
        req.destroy();
        finish(`timed out after ${options.timeoutMs} ms`);
      }, options.timeoutMs);
      const finish = (error?: string, code?: string): void => {
        if (settled) return;
        settled = true;
        result.endAt = clock.now();
        if (usageTokens !== undefined) result.outputTokens = usageTokens;
        else if (stream) result.outputTokens = result.tokenTimes.length;
        if (error !== undefined) {
          result.ok = false;
          result.error = error;
          if (code !== undefined) result.errorCode = code;
        }
        options.signal?.removeEventListener("abort", onAbort);
        clearTimeout(timer);
        resolve(result);
      };
      const onChunk = (chunk: ChunkLike): void => {
        if (chunk.error !== undefined) {
          const message = typeof chunk.error.message === "string" ? chunk.error.message : "error event";
          finish(
            `stream error: ${message}`,
            typeof chunk.error.code === "string" ? chunk.error.code : undefined,
          );
          return;
        }
        const choice = chunk.choices?.[0];
        const delta = choice?.delta ?? choice?.message;
        if (
          stream &&
          delta !== undefined &&
          (nonEmpty(delta.content) ||
            nonEmpty(delta.reasoning) ||
            nonEmpty(delta.reasoning_content) ||
            nonEmpty(delta.tool_calls))
        ) {
          const now = clock.now();
          if (result.firstTokenAt === undefined) {
            result.firstTokenAt = now;
            options.onFirstToken?.();
          }
          if (stream) result.tokenTimes.push(now);
        }
        if (delta?.tool_calls !== undefined) mergeToolCalls((result.toolCalls ??= []), delta.tool_calls);
        if (typeof choice?.finish_reason === "string") result.finishReason = choice.finish_reason;
        if (chunk.usage !== undefined && chunk.usage !== null) {
          result.sawUsage = true;
          if (typeof chunk.usage.completion_tokens === "number") usageTokens = chunk.usage.completion_tokens;
          if (typeof chunk.usage.prompt_tokens === "number") result.promptTokens = chunk.usage.prompt_tokens;
          const cached = chunk.usage.prompt_tokens_details?.cached_tokens;
          if (typeof cached === "number") result.cachedTokens = cached;
        }
      };

      const req = this.#module.request(
        `${this.baseUrl}/v1/chat/completions`,
        { method: "POST", agent: this.#agent, headers: this.#headers(payload) },
        (res) => {
          result.status = res.statusCode ?? 0;
          const id = res.headers["x-request-id"];
          if (typeof id === "string") result.requestId = id;
          options.onHead?.(result.requestId);
          res.setEncoding("utf8");
          let text = "";
          const decoder = stream && result.status === 200 ? new SseDecoder() : undefined;
          res.on("data", (d: string) => {
            if (decoder === undefined) {
              text += d;
              return;
            }
            for (const data of decoder.push(d)) {
              if (settled) return;
              if (data === "[DONE]") {
                result.sawDone = true;
                continue;
              }
              try {
                onChunk(JSON.parse(data) as ChunkLike);
              } catch {
                finish(`unparseable stream event: ${data.slice(0, 120)}`);
              }
            }
          });
          res.on("end", () => {
            if (result.status !== 200) {
              const { message, code } = errorMessage(text, result.status);
              return finish(message, code);
            }
            if (decoder !== undefined) {
              result.sawDone ??= false;
              if (result.sawDone !== true) return finish("stream ended before data: [DONE]");
              result.ok = true;
              return finish();
            }
            try {
              onChunk(JSON.parse(text) as ChunkLike);
            } catch {
              return finish(`unparseable response body: ${text.slice(0, 120)}`);
            }
            if (result.finishReason === undefined) return finish("response has no finish_reason");
            result.ok = true;
            finish();
          });
          res.on("error", (e: Error) => finish(`response error: ${e.message}`));
          res.on("aborted", () => finish("connection closed mid-response"));
        },
      );
      const onAbort = (): void => {
        req.destroy();
        finish("aborted by the client");
      };
      options.signal?.addEventListener("abort", onAbort, { once: true });
      req.on("error", (e: Error) => {
        // A kept-alive socket the server closed while idle fails before any answer ("socket hang
        // up" / ECONNRESET): the request never reached the server, so it is sent once more on a
        // fresh socket (Node's documented keep-alive race; llama-server closes idle sockets).
        const code = (e as NodeJS.ErrnoException).code;
        if (mayRetry && !settled && req.reusedSocket && result.status === 0 && code === "ECONNRESET") {
          settled = true;
          clearTimeout(timer);
          options.signal?.removeEventListener("abort", onAbort);
          resolve(this.#chatOnce(payload, stream, options, false));
          return;
        }
        finish(`request error: ${e.message}`);
      });
      req.end(payload);
    });
  }
}
