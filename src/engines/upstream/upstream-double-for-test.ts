/**
 * Test support for this folder's tests, not part of the server (nothing in src/ imports it; named
 * `-for-test` like the repo's other test doubles, so vitest's `*.test.ts` glob does not run it as a
 * test file): an upstream test double, a plain node:http server that answers `GET /v1/models` with
 * one model entry, other GET paths with fixed answers and one POST path with the test's handler;
 * an UpstreamEngine connected to it; the SSE writer the handlers answer with; and the
 * GenerationRequest the tests start from. Each test file says which server its double plays
 * (vLLM, SGLang, llama-server, an OpenAI-compatible chat server) by the answers it gives.
 *
 * Everything started here is closed when the test that started it ends (vitest's onTestFinished).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { onTestFinished } from "vitest";
import type { GenerationRequest, SamplingParams } from "../engine.ts";
import type { UpstreamDialect } from "./dialect.ts";
import { UpstreamEngine } from "./upstream-engine.ts";

export type Handler<B = Record<string, unknown>> = (body: B, res: ServerResponse) => void;

export interface UpstreamDoubleOptions<B> {
  /** The one model `GET /v1/models` lists (`{ object: "list", data: [model] }`); none: no such route. */
  model?: Record<string, unknown>;
  /** More GET paths and their answers: a string is sent as it is, anything else as JSON. */
  routes?: Record<string, unknown>;
  /** The POST path `handler` answers (`/v1/completions`, `/generate`, ...), given the parsed JSON body. */
  path?: string;
  handler?: Handler<B>;
  /** When set, every request must carry `Authorization: Bearer <key>`, or it is answered 401. */
  key?: string;
}

export interface UpstreamDouble<B> {
  url: string;
  /** The JSON bodies POSTed to `path`, in order. */
  bodies: B[];
  /** Each request's Authorization header, in order ("" where none). */
  auth: string[];
  /** How many requests asked for `path` (any method). */
  hits: (path: string) => number;
  /** Resolves when a client closed a POST response before the handler ended it. */
  closedEarly: Promise<void>;
  /** Closes the server and its connections (also done when the test ends). */
  close: () => Promise<void>;
}

/** Starts an upstream test double on a free port of 127.0.0.1; unknown paths are a 404. */
export async function startUpstreamDouble<B = Record<string, unknown>>(
  options: UpstreamDoubleOptions<B>,
): Promise<UpstreamDouble<B>> {
  const routes: Record<string, unknown> = {
    ...(options.model !== undefined ? { "/v1/models": { object: "list", data: [options.model] } } : {}),
    ...options.routes,
  };
  const bodies: B[] = [];
  const auth: string[] = [];
  const hits = new Map<string, number>();
  let closed!: () => void;
  const closedEarly = new Promise<void>((resolve) => (closed = resolve));

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? "";
    hits.set(url, (hits.get(url) ?? 0) + 1);
    auth.push(req.headers.authorization ?? "");
    if (options.key !== undefined && req.headers.authorization !== `Bearer ${options.key}`) {
      res.statusCode = 401;
      res.end(JSON.stringify({ error: "unauthorized" }));
      return;
    }
    if (req.method === "POST" && url === options.path && options.handler !== undefined) {
      const handler = options.handler;
      let raw = "";
      req.on("data", (d: Buffer) => (raw += d.toString()));
      req.on("end", () => {
        const body = JSON.parse(raw) as B;
        bodies.push(body);
        res.on("close", () => {
          if (!res.writableFinished) closed();
        });
        handler(body, res);
      });
      return;
    }
    const answer = routes[url];
    if (answer === undefined) {
      res.statusCode = 404;
      res.end(JSON.stringify({ detail: "Not Found" }));
    } else if (typeof answer === "string") {
      res.end(answer);
    } else {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(answer));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }));
  onTestFinished(close);
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    auth,
    hits: (path) => hits.get(path) ?? 0,
    closedEarly,
    close,
  };
}

/**
 * Starts a double and connects an UpstreamEngine to it: `dialect` (vLLM's when none), no health
 * probes on a timer (the tests call probe()). The engine is closed when the test ends.
 */
export async function connectToDouble<B = Record<string, unknown>>(
  options: UpstreamDoubleOptions<B>,
  dialect?: UpstreamDialect,
): Promise<UpstreamDouble<B> & { engine: UpstreamEngine }> {
  const double = await startUpstreamDouble(options);
  const engine = await UpstreamEngine.connect({
    url: double.url,
    timeoutMs: 5_000,
    maxRequests: 4,
    contextSize: 1024,
    probeIntervalMs: 0,
    ...(dialect !== undefined ? { dialect } : {}),
  });
  onTestFinished(() => engine.close());
  return { ...double, engine };
}

/**
 * How an SSE answer ends: "done" sends `data: [DONE]` and ends the response (vLLM's, SGLang's and
 * OpenAI's streams); "end" ends it without one (llama-server's native /completion sends none;
 * elsewhere a stream cut short); "open" leaves it open (a server still generating).
 */
export type SseEnding = "done" | "end" | "open";

/** Answers 200 with `chunks` as SSE events, one `data:` line of JSON each. */
export function sse(res: ServerResponse, chunks: readonly unknown[], ending: SseEnding = "done"): void {
  res.writeHead(200, { "content-type": "text/event-stream" });
  for (const c of chunks) res.write(`data: ${JSON.stringify(c)}\n\n`);
  if (ending === "done") res.write("data: [DONE]\n\n");
  if (ending !== "open") res.end();
}

/** What `request` takes: a GenerationRequest's fields, `sampling` by the fields that differ. */
export type RequestOverrides = Omit<Partial<GenerationRequest>, "sampling"> & {
  sampling?: Partial<SamplingParams>;
};

/**
 * A token-level request: prompt [1, 2, 3], gpt-oss's stops <|return|> and <|call|>, 8 tokens, and
 * sampling whose values are none of the defaults (so a body shows each one was sent) with a bias.
 */
export function request(overrides: RequestOverrides = {}): GenerationRequest {
  const { sampling, ...rest } = overrides;
  return {
    id: "r",
    promptTokens: [1, 2, 3],
    stopTokens: [200002, 200012],
    maxTokens: 8,
    ...rest,
    sampling: {
      temperature: 0.7,
      topP: 0.9,
      presencePenalty: 0.5,
      frequencyPenalty: 0,
      logitBias: new Map([[5, -100]]),
      ...sampling,
    },
  };
}
