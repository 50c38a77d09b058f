/**
 * Seed mode (`gate --mode seed --suite 1|2`): v4.5.1's test procedure, Test Suites 1 (20b) and 2
 * (120b) of shared/seeds/test-procedure-v4.5.1.md, against a running server, with the seed's own
 * requests. Each step is a phase with the seed's checks; what the seed only looked at (response
 * times, the health fields, the answers' fields) goes into the phase's notes, so a GPU run records
 * it. The seed's GPU-memory steps (nvidia-smi) are the caller's: the gate speaks HTTP only.
 *
 * Where v4.5.1 expected a bug (streaming answered 500) a working stream is expected. The seed's
 * response times (4-8 s for suite 1, 6-15 s for suite 2) are upper bounds here: faster passes.
 * Against a server without our extras (llama-server, vLLM) the health fields, `profile`,
 * `chosen_engine` and /stats are skipped with a note; the requests themselves run the same.
 */
import { atMost, fmtMs, holds, phase } from "./checks.ts";
import { describeResult, runPhases, type GateContext, type GatePhase } from "./gate-context.ts";
import type { Check, PhaseReport, SeedExpectations, SeedSuite } from "./gate-types.ts";
import type { RequestResult } from "./request-result.ts";
import { latencyStats } from "./stats-math.ts";

/** The seed's own values: suite 1 starts `--profile latency_first --model 20b`, suite 2 `--profile quality_first --model 120b`. */
export const SEED_EXPECTATIONS: Readonly<Record<SeedSuite, Readonly<SeedExpectations>>> = {
  1: { currentModel: "20b", gpuMode: "pipeline", defaultProfile: "latency_first" },
  2: { currentModel: "120b", gpuMode: "tensor", defaultProfile: "quality_first" },
};

/** The seed's request bodies, verbatim (its curl commands). */
export const SEED_REQUESTS = {
  helloWorld: {
    model: "gpt-oss-20b",
    messages: [{ role: "user", content: "Write a Python hello world function" }],
    max_tokens: 100,
    temperature: 0.7,
  },
  recursion: {
    model: "gpt-oss-20b",
    messages: [{ role: "user", content: "Explain recursion with examples" }],
    max_tokens: 200,
    profile: "quality_first",
    temperature: 0.8,
  },
  countStream: {
    model: "gpt-oss-20b",
    messages: [{ role: "user", content: "Count from 1 to 5" }],
    max_tokens: 30,
    stream: true,
  },
  tcpUdp: {
    model: "gpt-oss-120b",
    messages: [
      {
        role: "user",
        content: "Explain the differences between TCP and UDP protocols with real-world examples",
      },
    ],
    max_tokens: 300,
    temperature: 0.7,
    profile: "quality_first",
  },
  docker: {
    model: "gpt-oss-120b",
    messages: [{ role: "user", content: "What is Docker?" }],
    max_tokens: 100,
    profile: "latency_first",
  },
  hello: {
    model: "gpt-oss-20b",
    messages: [{ role: "user", content: "Hello" }],
    max_tokens: 10,
  },
} as const satisfies Record<string, Record<string, unknown>>;

/** A JSON value as a short text ("none" when absent). */
function text(v: unknown): string {
  if (v === undefined || v === null) return "none";
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** The expectations in force: the suite's, with any given in the options over them. */
export function seedExpectations(ctx: GateContext): SeedExpectations {
  return { ...SEED_EXPECTATIONS[ctx.options.suite], ...ctx.options.seedExpect };
}

/** The body as sent: the seed's, with --model over its model name and `profile` only for our server. */
function seedBody(ctx: GateContext, body: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...body };
  if (ctx.options.model !== undefined) out["model"] = ctx.options.model;
  if (!ctx.target.extras) delete out["profile"];
  return out;
}

interface Answer {
  result: RequestResult;
  body?: Record<string, unknown>;
}

/** One non-streaming request, as the seed's curl sends it; the body is kept for its fields. */
async function postChat(ctx: GateContext, body: Record<string, unknown>, timeoutMs: number): Promise<Answer> {
  const sentAt = ctx.clock.now();
  const result: RequestResult = {
    ok: false,
    status: 0,
    sentAt,
    endAt: sentAt,
    tokenTimes: [],
    outputTokens: 0,
  };
  try {
    const answer = await ctx.client.request("POST", "/v1/chat/completions", body, timeoutMs);
    result.endAt = ctx.clock.now();
    result.status = answer.status;
    let parsed: Record<string, unknown> | undefined;
    try {
      parsed = JSON.parse(answer.text) as Record<string, unknown>;
    } catch {
      parsed = undefined;
    }
    const usage = parsed?.["usage"] as { completion_tokens?: unknown; prompt_tokens?: unknown } | undefined;
    if (typeof usage?.completion_tokens === "number") result.outputTokens = usage.completion_tokens;
    if (typeof usage?.prompt_tokens === "number") result.promptTokens = usage.prompt_tokens;
    const choice = (parsed?.["choices"] as Array<{ finish_reason?: unknown }> | undefined)?.[0];
    if (typeof choice?.finish_reason === "string") result.finishReason = choice.finish_reason;
    result.ok = answer.status === 200 && parsed !== undefined;
    if (!result.ok) result.error = `HTTP ${answer.status}: ${answer.text.slice(0, 200)}`;
    return { result, ...(parsed !== undefined ? { body: parsed } : {}) };
  } catch (error) {
    result.endAt = ctx.clock.now();
    result.error = error instanceof Error ? error.message : String(error);
    return { result };
  }
}

/** What the seed looked at in an answer, as one note line. */
function answerNote(label: string, a: Answer): string {
  const fields = ["model", "chosen_engine", "profile"]
    .filter((k) => a.body?.[k] !== undefined)
    .map((k) => `${k} ${String(a.body?.[k])}`);
  const fallback = a.body?.["model_fallback"] as { requested?: unknown; served?: unknown } | undefined;
  if (fallback !== undefined)
    fields.push(`model_fallback ${String(fallback.requested)} -> ${String(fallback.served)}`);
  const r = a.result;
  const finish = r.finishReason !== undefined ? `, finish ${r.finishReason}` : "";
  return `${label}: ${describeResult(r)}${finish}${fields.length > 0 ? `; ${fields.join(", ")}` : ""}`;
}

/** The checks of a non-streaming seed request: HTTP 200, and on our server its profile and engine. */
function answerChecks(
  ctx: GateContext,
  a: Answer,
  o: { profile: string; maxMs?: number; chosenEngine?: boolean },
): Check[] {
  const checks: Check[] = [
    holds("HTTP 200", a.result.ok, a.result.ok ? "200" : (a.result.error ?? "failed")),
  ];
  if (o.maxMs !== undefined)
    checks.push(atMost("response time", a.result.endAt - a.result.sentAt, o.maxMs, fmtMs));
  if (ctx.target.extras) {
    const profile = a.body?.["profile"];
    checks.push(holds(`profile ${o.profile}`, profile === o.profile, text(profile)));
    if (o.chosenEngine === true) {
      const engine = a.body?.["chosen_engine"];
      checks.push(holds("chosen_engine custom", engine === "custom", text(engine)));
    }
  }
  return checks;
}

const EXTRAS_NOTE = "not gpt-oss-server (no model_info in /health): profile and chosen_engine not checked";

/** Step 2 of each suite: /health's fields. */
async function healthStep(ctx: GateContext): Promise<PhaseReport> {
  const startedAt = ctx.clock.now();
  const expected = seedExpectations(ctx);
  const health = await ctx.client.getJson("/health", 10_000).catch(() => undefined);
  const body = health?.body as Record<string, unknown> | undefined;
  const info = body?.["model_info"] as Record<string, unknown> | undefined;
  const name = "step 2: health";
  if (info === undefined) {
    return phase(name, startedAt, ctx.clock.now(), {
      summary: "GET /health: the seed's model_info fields",
      checks: [],
      notes: [
        `not gpt-oss-server: /health answered HTTP ${health?.status ?? "none"} ${JSON.stringify(body ?? null).slice(0, 200)}`,
      ],
      skipped: true,
    });
  }
  const field = (k: string): string => text(info[k]);
  const checks = [
    holds('status "healthy"', body?.["status"] === "healthy", text(body?.["status"])),
    holds(
      `current_model "${expected.currentModel}"`,
      info["current_model"] === expected.currentModel,
      field("current_model"),
    ),
    holds(`gpu_mode "${expected.gpuMode}"`, info["gpu_mode"] === expected.gpuMode, field("gpu_mode")),
    holds(
      `default_profile "${expected.defaultProfile}"`,
      info["default_profile"] === expected.defaultProfile,
      field("default_profile"),
    ),
  ];
  const recorded = [
    "current_model",
    "model_size",
    "gpu_mode",
    "gpu_count",
    "tp",
    "pp",
    "default_profile",
    "random_weights",
  ]
    .filter((k) => info[k] !== undefined || body?.[k] !== undefined)
    .map((k) => `${k}=${String(info[k] ?? body?.[k])}`);
  const engines = body?.["engines"] as
    Record<string, { max_sequences?: unknown; replicas?: unknown[] }> | undefined;
  for (const [key, e] of Object.entries(engines ?? {})) {
    recorded.push(`engines.${key}.max_sequences=${String(e.max_sequences)}`);
    if (Array.isArray(e.replicas)) recorded.push(`engines.${key}.replicas=${e.replicas.length}`);
  }
  return phase(name, startedAt, ctx.clock.now(), {
    summary: "GET /health: status, model_info.current_model, gpu_mode, default_profile",
    checks,
    notes: [`health: status=${String(body?.["status"])} ${recorded.join(" ")}`],
  });
}

/** One non-streaming seed request as a phase. */
function requestStep(
  name: string,
  summary: string,
  request: Readonly<Record<string, unknown>>,
  expect: (ctx: GateContext) => {
    profile: string;
    maxMs?: number;
    chosenEngine?: boolean;
    timeoutMs?: number;
  },
): GatePhase {
  return [
    name,
    async (ctx) => {
      const startedAt = ctx.clock.now();
      const o = expect(ctx);
      const a = await postChat(
        ctx,
        seedBody(ctx, request),
        Math.min(o.timeoutMs ?? Infinity, ctx.options.requestTimeoutMs),
      );
      ctx.log(`  ${answerNote(name, a)}`);
      return phase(name, startedAt, ctx.clock.now(), {
        summary,
        checks: answerChecks(ctx, a, o),
        notes: [answerNote("answer", a), ...(ctx.target.extras ? [] : [EXTRAS_NOTE])],
        stats: latencyStats([a.result]),
      });
    },
  ];
}

/** Suite 1 step 5: the stream v4.5.1 broke (HTTP 500); here it must work and end in [DONE]. */
async function streamingStep(ctx: GateContext): Promise<PhaseReport> {
  const startedAt = ctx.clock.now();
  const name = "step 5: streaming";
  const r = await ctx.client.chat(seedBody(ctx, SEED_REQUESTS.countStream), {
    timeoutMs: ctx.options.requestTimeoutMs,
  });
  ctx.log(`  ${name}: ${describeResult(r)}`);
  return phase(name, startedAt, ctx.clock.now(), {
    summary: "streaming request (v4.5.1 answered HTTP 500; a working stream is expected)",
    checks: [
      holds("HTTP 200", r.status === 200, String(r.status)),
      holds("ends in data: [DONE]", r.sawDone === true),
      holds("tokens streamed", r.tokenTimes.length > 0, String(r.tokenTimes.length)),
    ],
    notes: [
      `answer: ${describeResult(r)}${r.finishReason !== undefined ? `, finish ${r.finishReason}` : ""}`,
    ],
    stats: latencyStats([r]),
  });
}

/** Suite 1 step 6: /stats after the requests above. */
async function statsStep(ctx: GateContext): Promise<PhaseReport> {
  const startedAt = ctx.clock.now();
  const name = "step 6: stats";
  const stats = await ctx.client.getJson("/stats", 10_000).catch(() => undefined);
  const body = stats?.body as Record<string, unknown> | undefined;
  if (!ctx.target.extras || stats?.status !== 200 || body === undefined) {
    return phase(name, startedAt, ctx.clock.now(), {
      summary: "GET /stats",
      checks: [],
      notes: [`no gpt-oss-server /stats (HTTP ${stats?.status ?? "none"})`],
      skipped: true,
    });
  }
  const num = (k: string): number | undefined => (typeof body[k] === "number" ? body[k] : undefined);
  const usage = (body["model_usage"] ?? {}) as Record<string, unknown>;
  const checks = [
    holds("requests_total >= 3", (num("requests_total") ?? 0) >= 3, String(num("requests_total") ?? "none")),
    atMost("error_rate", num("error_rate"), 0.3, (v) => v.toFixed(3)),
    atMost("p95_ttft_ms", num("p95_ttft_ms"), 10_000, fmtMs),
    holds("model_usage counted", Object.keys(usage).length > 0, JSON.stringify(usage)),
  ];
  return phase(name, startedAt, ctx.clock.now(), {
    summary: "GET /stats: requests_total, error_rate < 0.3, p95_ttft_ms < 10000, model_usage",
    checks,
    notes: [
      `stats: requests_total=${String(num("requests_total"))} error_rate=${String(num("error_rate"))} ` +
        `p95_ttft_ms=${String(num("p95_ttft_ms"))} model_usage=${JSON.stringify(usage)}`,
    ],
  });
}

/** The seed's "simple performance test": five "Hello" requests one after another. */
async function helloLoopStep(ctx: GateContext): Promise<PhaseReport> {
  const startedAt = ctx.clock.now();
  const name = "performance loop";
  const answers: Answer[] = [];
  for (let i = 0; i < 5; i++)
    answers.push(await postChat(ctx, seedBody(ctx, SEED_REQUESTS.hello), ctx.options.requestTimeoutMs));
  const ok = answers.filter((a) => a.result.ok).length;
  return phase(name, startedAt, ctx.clock.now(), {
    summary: 'five "Hello" requests (max_tokens 10) one after another',
    checks: [holds("all 5 answered", ok === 5, `${ok}/5`)],
    notes: [`times: ${answers.map((a) => fmtMs(a.result.endAt - a.result.sentAt)).join(", ")}`],
    stats: latencyStats(answers.map((a) => a.result)),
  });
}

const SUITE_1: readonly GatePhase[] = [
  ["step 2: health", healthStep],
  requestStep(
    "step 3: non-streaming",
    "the seed's first request (expected 4-8 s)",
    SEED_REQUESTS.helloWorld,
    (ctx) => ({
      profile: seedExpectations(ctx).defaultProfile,
      maxMs: 8_000,
      chosenEngine: true,
    }),
  ),
  requestStep(
    "step 4: profile switch",
    "quality_first for one request only",
    SEED_REQUESTS.recursion,
    () => ({
      profile: "quality_first",
      chosenEngine: true,
    }),
  ),
  ["step 5: streaming", streamingStep],
  ["step 6: stats", statsStep],
  ["performance loop", helloLoopStep],
];

const SUITE_2: readonly GatePhase[] = [
  ["step 2: health", healthStep],
  requestStep(
    "step 3: quality",
    "a longer quality_first answer (expected 6-15 s)",
    SEED_REQUESTS.tcpUdp,
    () => ({
      profile: "quality_first",
      maxMs: 15_000,
      chosenEngine: true,
    }),
  ),
  requestStep(
    "step 4: latency_first",
    "latency_first on the same model (curl --max-time 20)",
    SEED_REQUESTS.docker,
    () => ({
      profile: "latency_first",
      timeoutMs: 20_000,
      chosenEngine: true,
    }),
  ),
];

export function seedPhases(ctx: GateContext): Promise<PhaseReport[]> {
  return runPhases(ctx, ctx.options.suite === 1 ? SUITE_1 : SUITE_2);
}
