/**
 * An upstream server as an engine, at token level (issue 12): the prompt our harmony layer rendered
 * goes to the upstream's `/v1/completions` as token ids, and the tokens it generates come back as
 * token ids (vLLM's `return_token_ids`, which our own server speaks too), so our parser, stop
 * handling and budgets apply to every engine alike: reasoning never leaks into content, tool calls
 * are read from harmony, whatever the upstream's own chat template does.
 *
 * Failures say whether a retry is safe (ServerError.retryable): an upstream that refuses the
 * connection, times out, answers 429 or 5xx before its first token generated nothing, so a router
 * may send the request elsewhere; a failure after a token is not retried. A cancel aborts the
 * upstream request (closing the connection ends the upstream's generation).
 *
 * Health: a probe of `GET /health` every few seconds, and passive counting: after
 * CIRCUIT_FAILURES failures in a row the upstream is "loading" (skipped by the router) for a
 * cool-down, then tried again.
 */
import type {
  Engine,
  EngineHealth,
  EngineInfo,
  GenerationEvent,
  GenerationRequest,
  GenerationUsage,
  UpstreamHealth,
} from "../engine.ts";
import { ServerError } from "../../errors/server-error.ts";
import { SseDecoder } from "../../gate/sse-decoder.ts";
import { completionBudget } from "../generation-limits.ts";
import { Pool, type Dispatcher } from "undici";
import { linkSignals } from "../linked-signal.ts";
import type { StreamStep, UpstreamCall, UpstreamDialect } from "./dialect.ts";
import { vllmDialect } from "./vllm-dialect.ts";

export interface UpstreamEngineOptions {
  /** Base URL, e.g. http://10.0.0.5:8000 (the /v1 paths are appended). */
  url: string;
  apiKey?: string;
  /** How long the upstream may take to answer a request's headers. */
  timeoutMs: number;
  /** Requests in flight at most (the scheduler's concurrency for this upstream). */
  maxRequests: number;
  /** Context per request when the upstream does not report `max_model_len`. */
  contextSize: number;
  /** How often the health path is probed; 0: never (tests drive it). */
  probeIntervalMs?: number;
  /** How requests are written and answers read (vllm-dialect.ts by default). */
  dialect?: UpstreamDialect;
  /** Share of the pool's load (reported in health; the router divides outstanding tokens by it). */
  weight?: number;
}

/** Failures in a row that open the circuit, and how long it stays open. */
export const CIRCUIT_FAILURES = 3;
export const CIRCUIT_COOLDOWN_MS = 5_000;

interface UpstreamModel {
  id: string;
  /** vLLM's and SGLang's context length; our own server says `context_length` too. */
  max_model_len?: number;
  context_length?: number;
  /** llama-server's: `n_ctx` is a slot's context (tools/server, get_res_model_info). */
  meta?: { n_ctx?: number };
  /** Our own server's flag (/v1/models): the upstream serves a random-weight model. */
  random_weights?: boolean;
}

export class UpstreamEngine implements Engine {
  readonly info: EngineInfo;
  readonly #options: UpstreamEngineOptions & { dialect: UpstreamDialect };
  readonly #closing = new AbortController();
  #active = 0;
  #failuresInRow = 0;
  #openUntil = 0;
  #lastError: string | undefined;
  #requests = 0;
  #failures = 0;
  #rateLimited = 0;
  #probe: NodeJS.Timeout | undefined;
  /**
   * Kept-alive connections to the upstream, one a request in flight at most: undici's request()
   * costs a fraction of fetch()'s per request (no WHATWG streams), which the gateway pays on every
   * request it forwards (docs/benchmarks.md, the gateway's own cost).
   */
  readonly #pool: Pool;

  private constructor(options: UpstreamEngineOptions, model: UpstreamModel) {
    this.#options = { ...options, dialect: options.dialect ?? vllmDialect };
    this.#pool = new Pool(options.url, { connections: options.maxRequests, keepAliveTimeout: 30_000 });
    this.info = {
      name: "upstream",
      modelId: model.id,
      modelSize: sizeOf(model.id),
      contextSize: model.max_model_len ?? model.context_length ?? model.meta?.n_ctx ?? options.contextSize,
      maxSequences: options.maxRequests,
      gpuMode: "upstream",
      randomWeights: model.random_weights === true,
      capabilities: {
        prefixCache: true,
        // This server as upstream speaks vLLM's dialect but its /v1/completions takes no
        // structured_outputs (it would drop the field and answer unconstrained): no grammar there.
        grammar: this.#options.dialect.grammar && model.random_weights === undefined,
        logprobs: false,
        parsedOutput: this.#options.dialect.parsedOutput,
      },
    };
    const every = options.probeIntervalMs ?? 5_000;
    if (every > 0) {
      this.#probe = setInterval(() => void this.probe(), every);
      this.#probe.unref();
    }
  }

  /** Connects: reads the upstream's model (id, context, random weights) from /v1/models. */
  static async connect(options: UpstreamEngineOptions): Promise<UpstreamEngine> {
    const res = await fetch(new URL("/v1/models", options.url), {
      headers: authHeaders(options.apiKey),
      signal: AbortSignal.timeout(options.timeoutMs),
    }).catch((error: unknown) => {
      throw new Error(`upstream ${options.url} unreachable: ${describe(error)}`);
    });
    if (!res.ok) throw new Error(`upstream ${options.url}/v1/models answered ${res.status}`);
    const body = (await res.json()) as { data?: UpstreamModel[] };
    const model = body.data?.[0];
    if (model === undefined) throw new Error(`upstream ${options.url} serves no model`);
    return new UpstreamEngine(options, model);
  }

  get url(): string {
    return this.#options.url;
  }

  async *generate(req: GenerationRequest, signal: AbortSignal): AsyncGenerator<GenerationEvent> {
    if (this.#closing.signal.aborted) throw new ServerError("shutting_down", "The engine is closed.");
    const dialect = this.#options.dialect;
    if (req.grammar !== undefined && !this.info.capabilities.grammar) {
      throw new ServerError("engine_error", "This upstream engine cannot constrain output with a grammar.");
    }
    const budget = completionBudget(req, this.info.contextSize);
    const usage: GenerationUsage = {
      promptTokens: req.promptTokens.length,
      cachedTokens: 0,
      completionTokens: 0,
    };
    if (signal.aborted) {
      yield { type: "finish", reason: "cancelled", usage };
      return;
    }
    // Not AbortSignal.any: Node 20 keeps every signal made from the long-lived #closing for good.
    const link = linkSignals(signal, this.#closing.signal);
    const abort = link.signal;
    this.#active += 1;
    this.#requests += 1;
    let produced = false;
    try {
      const res = await this.#post(dialect.request(req, { model: this.info.modelId, budget }), abort);
      if (res === undefined) {
        yield { type: "finish", reason: "cancelled", usage };
        return;
      }
      let finish: StreamStep["finish"];
      const read = dialect.reader(req);
      const decoder = new SseDecoder();
      const text = new TextDecoder();
      try {
        // Leaving the loop early (a step's `last`) destroys the body: undici closes the connection.
        reading: for await (const piece of res.body as AsyncIterable<Uint8Array>) {
          for (const data of decoder.push(text.decode(piece, { stream: true }))) {
            const step = read(data, usage);
            for (const event of step.events) {
              produced = true;
              usage.completionTokens +=
                event.type === "tokens" ? event.tokens.length : (event.tokenCount ?? 0);
              yield event;
            }
            if (step.finish !== undefined) finish = step.finish;
            if (step.last === true) break reading;
          }
        }
      } catch (error) {
        if (abort.aborted) {
          yield { type: "finish", reason: "cancelled", usage };
          return;
        }
        throw this.#failure(`the stream broke: ${describe(error)}`, !produced);
      }
      // An upstream that closes the stream without finishing died mid-answer.
      if (finish === undefined) throw this.#failure("the stream ended without a finish", !produced);
      this.#succeeded();
      yield { type: "finish", ...finish, usage };
    } finally {
      this.#active -= 1;
      link.dispose();
    }
  }

  /** POSTs the call; undefined when it was aborted first. Throws a failure saying if a retry is safe. */
  async #post(call: UpstreamCall, abort: AbortSignal): Promise<Dispatcher.ResponseData | undefined> {
    let res: Dispatcher.ResponseData;
    try {
      res = await this.#pool.request({
        path: call.path,
        method: "POST",
        headers: { "content-type": "application/json", ...authHeaders(this.#options.apiKey) },
        body: JSON.stringify(call.body),
        signal: abort,
        headersTimeout: this.#options.timeoutMs,
        // A generation may pause between tokens (a long prefill elsewhere in its batch).
        bodyTimeout: 0,
      });
    } catch (error) {
      if (abort.aborted) return undefined;
      throw this.#failure(`unreachable: ${describe(error)}`, true);
    }
    if (res.statusCode === 200) return res;
    const detail = await res.body.text().catch(() => "");
    const status = res.statusCode;
    if (status === 429) {
      // Back-pressure, not a failure: another upstream may take it; the circuit stays closed.
      this.#rateLimited += 1;
      throw new ServerError("rate_limit_exceeded", `upstream ${this.#options.url} is busy (429)`, {
        retryable: true,
      });
    }
    if (status >= 500) throw this.#failure(`answered ${status}: ${detail.slice(0, 300)}`, true);
    // 401/403/404 and the like: this upstream is misconfigured (key, URL, model), not the request.
    if (status !== 400 && status !== 422)
      throw this.#failure(`answered ${status}: ${detail.slice(0, 300)}`, true);
    // The upstream refused this request's contents (our render should not cause one): not retried.
    throw new ServerError(
      "invalid_value",
      `upstream ${this.#options.url} refused the request (${status}): ${detail.slice(0, 300)}`,
    );
  }

  #failure(what: string, retryable: boolean): ServerError {
    this.#lastError = what;
    this.#failures += 1;
    this.#failuresInRow += 1;
    if (this.#failuresInRow >= CIRCUIT_FAILURES) this.#openUntil = Date.now() + CIRCUIT_COOLDOWN_MS;
    return new ServerError("engine_error", `upstream ${this.#options.url}: ${what}`, { retryable });
  }

  #succeeded(): void {
    this.#failuresInRow = 0;
    this.#openUntil = 0;
  }

  /** One health probe: GET /health; a failure counts toward the circuit like a failed request. */
  async probe(): Promise<void> {
    try {
      const res = await fetch(new URL(this.#options.dialect.healthPath, this.#options.url), {
        headers: authHeaders(this.#options.apiKey),
        signal: AbortSignal.timeout(this.#options.timeoutMs),
      });
      await res.body?.cancel();
      if (res.ok) this.#succeeded();
      else this.#failure(`/health answered ${res.status}`, true);
    } catch (error) {
      if (!this.#closing.signal.aborted) this.#failure(`/health: ${describe(error)}`, true);
    }
  }

  health(): EngineHealth {
    const open = Date.now() < this.#openUntil;
    const upstream: UpstreamHealth = {
      url: this.#options.url,
      dialect: this.#options.dialect.name,
      requests: this.#requests,
      failures: this.#failures,
      rateLimited: this.#rateLimited,
      circuit: open ? "open" : "closed",
      ...(this.#lastError !== undefined ? { lastError: this.#lastError } : {}),
      weight: this.#options.weight ?? 1,
    };
    if (this.#closing.signal.aborted)
      return { status: "failed", activeSequences: this.#active, detail: "closed", upstream };
    if (open) {
      return {
        status: "loading",
        activeSequences: this.#active,
        detail: `upstream ${this.#options.url} is down (${this.#lastError ?? "failing"}); tried again after a cool-down`,
        upstream,
      };
    }
    return { status: "ready", activeSequences: this.#active, upstream };
  }

  async close(): Promise<void> {
    this.#closing.abort();
    if (this.#probe !== undefined) clearInterval(this.#probe);
    await this.#pool.destroy();
  }
}

function authHeaders(key: string | undefined): Record<string, string> {
  return key === undefined ? {} : { authorization: `Bearer ${key}` };
}

/** "20b" / "120b" from a gpt-oss model id, else the id itself (reported as model_size). */
function sizeOf(id: string): string {
  return /120b/i.test(id) ? "120b" : /20b/i.test(id) ? "20b" : /tiny/i.test(id) ? "tiny" : id;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
  }
  return String(error);
}
