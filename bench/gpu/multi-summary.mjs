#!/usr/bin/env node
// The tables of bench/gpu/multi.sh's run, as markdown on stdout: modes side by side (docs/gpu.md's
// "Several GPUs" table), the replicas' scaling against the issue's target, the seed's suites, and
// every level of every stage. Reads the results folder multi.sh fills; plain Node, no dependencies
// (it runs on the GPU machine). Usage: node bench/gpu/multi-summary.mjs RESULTS_DIR
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const res = process.argv[2];
if (res === undefined || !existsSync(res)) {
  console.error("usage: node bench/gpu/multi-summary.mjs RESULTS_DIR");
  process.exit(2);
}

const read = (file) => (existsSync(file) ? readFileSync(file, "utf8") : undefined);
const json = (file) => {
  const text = read(file);
  if (text === undefined || text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};
const num = (v, digits = 1) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : "n/a");
const ms = (v) =>
  typeof v === "number" ? (v < 10 ? v.toFixed(2) : Math.round(v).toLocaleString("en-US")) : "n/a";
const table = (header, rows) =>
  [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");

const env = Object.fromEntries(
  (read(join(res, "env.txt")) ?? "")
    .split("\n")
    .filter((l) => l.includes(" "))
    .map((l) => [l.slice(0, l.indexOf(" ")), l.slice(l.indexOf(" ") + 1)]),
);
// The variables that keep NVLink multicast off, as multi.sh recorded them (KEY=VALUE lines).
const nvls = Object.fromEntries(
  (read(join(res, "env.txt")) ?? "")
    .split("\n")
    .filter((l) => /^[A-Z_]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
);
const ngpus = Number(env.gpus ?? 0);
const dryRun = env.dry_run === "1";

/** One stage's folder: its servers (name → url, label), every level's stats per server, memory, seeds. */
function loadStage(name) {
  const dir = join(res, name);
  if (!existsSync(dir)) return undefined;
  const servers = {};
  for (const line of (read(join(dir, "servers.txt")) ?? "").split("\n")) {
    const [server, url, ...label] = line.split(" ");
    if (server && url) servers[server] = { url, label: label.join(" ") };
  }
  const byUrl = Object.fromEntries(Object.entries(servers).map(([n, s]) => [s.url, n]));
  const levels = {}; // server → concurrency → stats
  for (const file of readdirSync(dir).filter((f) => /^bench-c\d+.*\.json$/.test(f))) {
    const report = json(join(dir, file));
    for (const l of report?.levels ?? []) {
      const server = byUrl[l.target];
      if (server === undefined || l.level?.kind !== "concurrency") continue;
      (levels[server] ??= {})[l.level.value] = l.stats;
    }
  }
  const memory = {};
  const seeds = {};
  for (const server of Object.keys(servers)) {
    const rows = (read(join(dir, `gpu-mem-${server}.csv`)) ?? "")
      .split("\n")
      .filter((l) => l.includes(","))
      .map((l) => l.split(",").map(Number))
      .sort((a, b) => a[0] - b[0]);
    if (rows.length > 0) memory[server] = rows.map(([, mib]) => mib);
    const seed = json(join(dir, `seed-${server}.json`));
    if (seed !== undefined) seeds[server] = seed;
  }
  return {
    name,
    dir,
    servers,
    levels,
    memory,
    seeds,
    done: existsSync(join(dir, "done")),
    llamaFailed: read(join(dir, "llama-failed")),
    commands: read(join(dir, "commands.txt")),
  };
}

const STAGES = [
  "20b-pipeline",
  "20b-tensor",
  "replicas-20b",
  "120b-tensor",
  "120b-pipeline",
  "replicas-120b",
];
const stages = Object.fromEntries(STAGES.map((s) => [s, loadStage(s)]).filter(([, s]) => s !== undefined));

/** The level to read "aggregate at 64 streams" from: 64, else the largest measured (a dry run's). */
function topLevel(levels) {
  const cs = Object.keys(levels ?? {}).map(Number);
  if (cs.length === 0) return undefined;
  if (cs.includes(64)) return 64;
  const under = cs.filter((c) => c <= 64);
  return under.length > 0 ? Math.max(...under) : Math.min(...cs);
}

function seedVerdict(report) {
  if (report === undefined) return "not run";
  if (report.passed) return "pass";
  const failing = report.phases
    .filter((p) => p.status === "fail")
    .flatMap((p) => p.checks.filter((c) => !c.passed).map((c) => `${p.name}: ${c.name} ${c.value}`));
  return `FAIL (${failing.join("; ")})`;
}

function row(model, mode, serverLabel, stage, server) {
  const levels = stage?.levels[server] ?? {};
  const one = levels[1];
  const top = topLevel(levels);
  const agg = top !== undefined ? levels[top] : undefined;
  const suffix = top !== undefined && top !== 64 ? ` (c=${top})` : "";
  const mem = stage?.memory[server];
  return [
    model,
    mode,
    serverLabel,
    num(one?.decodeTokensPerS),
    ms(one?.tpotMs?.p50),
    ms(one?.ttftMs?.p50),
    agg === undefined ? "n/a" : `${num(agg.decodeTokensPerS)}${suffix}`,
    agg === undefined ? "n/a" : `${num(agg.outputTokensPerS)}${suffix}`,
    ms(agg?.ttftMs?.p50),
    mem === undefined ? "n/a" : mem.map((m) => m.toLocaleString("en-US")).join(" / "),
    stage?.seeds[server] === undefined ? "n/a" : seedVerdict(stage.seeds[server]).split(" (")[0],
  ];
}

const out = [];
const gpuLines = (read(join(res, "gpu.csv")) ?? "").trim().split("\n").slice(1);
out.push(
  `# Several GPUs (issue 15): run ${env.date ?? "?"}${dryRun ? " (DRY RUN on the CPU: fake GPUs, tiny model)" : ""}`,
);
out.push("");
out.push(`- GPUs: ${ngpus} (${gpuLines.join("; ")}), ${env.cores ?? "?"} cores, commit ${env.git ?? "?"}`);
out.push(
  `- bench: ${env.prompt_tokens}-token prompts, ${env.max_tokens} output tokens (ignore_eos), temperature 1, top_p 1, ` +
    `streaming; levels ${env.levels}; ${env.parallel} sequences x ${env.context} tokens a server unless noted`,
);
out.push(
  `- NVLink multicast off: ${["NCCL_NVLS_ENABLE", "TORCH_SYMM_MEM_DISABLE_MULTICAST", "NVSHMEM_DISABLE_NVLS"]
    .map((k) => `${k}=${nvls[k] ?? "?"}`)
    .join(" ")}`,
);
const nccl = (read(join(res, "nccl.txt")) ?? "").trim().split("\n").pop();
if (nccl) out.push(`- llama.cpp's all-reduce for the tensor split: ${nccl}`);
const missing = STAGES.filter((s) => stages[s] === undefined || !stages[s].done);
if (missing.length > 0) out.push(`- stages not (fully) run: ${missing.join(", ")}`);
out.push("");

out.push("## Modes side by side");
out.push("");
out.push(
  "Decode tok/s: tokens once every stream of the level runs (prefill and queueing outside); out tok/s: the whole " +
    "span, prefill included. GPU memory: what the server added on each GPU (nvidia-smi), GPU 0 first.",
);
out.push("");
const rows = [];
for (const model of ["20b", "120b"]) {
  const rep = stages[`replicas-${model}`];
  if (rep !== undefined) rows.push(row(model, "single (1 GPU)", "ours", rep, "single"));
  for (const mode of ["pipeline", "tensor"]) {
    const st = stages[`${model}-${mode}`];
    if (st === undefined) continue;
    rows.push(row(model, mode, "ours", st, "ours"));
    rows.push(
      row(
        model,
        mode,
        st.llamaFailed !== undefined ? "llama-server (did not start)" : "llama-server",
        st,
        "llama-server",
      ),
    );
  }
  if (rep !== undefined) rows.push(row(model, `replicas (${ngpus} x 1 GPU)`, "ours", rep, "replicas"));
}
out.push(
  table(
    [
      "model",
      "mode",
      "server",
      "1 stream: decode tok/s",
      "TPOT p50 (ms)",
      "TTFT p50 (ms)",
      "64 streams: decode tok/s",
      "out tok/s",
      "TTFT p50 (ms)",
      "GPU memory per GPU (MiB)",
      "seed suite",
    ],
    rows,
  ),
);
out.push("");

out.push("## Replicas against one GPU");
out.push("");
const target = ngpus === 4 ? 3.6 : ngpus === 2 ? 1.8 : 0.9 * ngpus;
for (const model of ["20b", "120b"]) {
  const st = stages[`replicas-${model}`];
  if (st === undefined) continue;
  const single = st.levels.single ?? {};
  const replicas = st.levels.replicas ?? {};
  const cs = [...new Set([...Object.keys(single), ...Object.keys(replicas)].map(Number))].sort(
    (a, b) => a - b,
  );
  const ratio = (b, a) =>
    typeof a === "number" && typeof b === "number" && a > 0 ? `${(b / a).toFixed(2)}x` : "n/a";
  out.push(`### ${model}`);
  out.push("");
  out.push(
    table(
      [
        "streams",
        "one GPU decode tok/s",
        `${ngpus} replicas decode tok/s`,
        "ratio",
        "one GPU out tok/s",
        "replicas out tok/s",
        "ratio",
        "TTFT p50 one / replicas (ms)",
      ],
      cs.map((c) => [
        String(c),
        num(single[c]?.decodeTokensPerS),
        num(replicas[c]?.decodeTokensPerS),
        ratio(replicas[c]?.decodeTokensPerS, single[c]?.decodeTokensPerS),
        num(single[c]?.outputTokensPerS),
        num(replicas[c]?.outputTokensPerS),
        ratio(replicas[c]?.outputTokensPerS, single[c]?.outputTokensPerS),
        `${ms(single[c]?.ttftMs?.p50)} / ${ms(replicas[c]?.ttftMs?.p50)}`,
      ]),
    ),
  );
  out.push("");
  // The target's ratio: the same load a GPU, i.e. N x 64 streams on the replicas against 64 on one GPU.
  const base = dryRun ? Math.min(...cs) : 64;
  const scaled = dryRun ? Math.max(...cs) : ngpus * 64;
  const a = single[base];
  const b = replicas[scaled];
  if (a !== undefined && b !== undefined) {
    const decode = b.decodeTokensPerS / a.decodeTokensPerS;
    const outRatio = b.outputTokensPerS / a.outputTokensPerS;
    out.push(
      `**Scaling** (the same load a GPU: ${scaled} streams on ${ngpus} replicas against ${base} on one GPU): ` +
        `${decode.toFixed(2)}x decode tok/s, ${outRatio.toFixed(2)}x out tok/s; target >= ${target.toFixed(1)}x: ` +
        `${decode >= target ? "met" : "NOT met"} (decode), ${outRatio >= target ? "met" : "NOT met"} (out).`,
    );
  } else {
    out.push(`**Scaling**: not measured (needs one GPU at ${base} and the replicas at ${scaled} streams).`);
  }
  out.push("");
  const stats = json(join(st.dir, "stats-replicas.json"));
  const routing = (stats?.replicas ?? []).filter((r) => r.index !== undefined);
  if (routing.length > 0) {
    out.push("Router, since the replicas started (bench and agent replay): ");
    out.push("");
    out.push(
      table(
        ["replica", "requests", "completion tokens", "affinity hits", "spill-overs", "failovers", "restarts"],
        routing.map((r) =>
          [
            r.index,
            r.requests,
            r.completion_tokens,
            r.affinity_hits,
            r.spill_overs,
            r.failovers,
            r.restarts,
          ].map(String),
        ),
      ),
    );
    out.push("");
  }
  const agent = json(join(st.dir, "agent.json"));
  const turns = agent?.results?.[0]?.turns ?? [];
  if (turns.length > 0) {
    out.push(
      "Prefix affinity (agent replay against the replicas: each session's transcript grows every turn; " +
        "cached_tokens is what the replica's prefix cache served):",
    );
    out.push("");
    out.push(
      table(
        ["turn", "ok / failed", "prompt tokens p50", "cached tokens p50", "TTFT p50 (ms)"],
        turns.map((t) => [
          String(t.turn),
          `${t.ok} / ${t.failed}`,
          num(t.promptTokensP50, 0),
          num(t.cachedTokensP50, 0),
          ms(t.ttftMsP50),
        ]),
      ),
    );
    out.push("");
  }
}

out.push("## Seed test suites (gate --mode seed)");
out.push("");
const seedRows = [];
for (const st of Object.values(stages)) {
  for (const [server, report] of Object.entries(st.seeds)) {
    const health = report.phases.flatMap((p) => p.notes).find((n) => n.startsWith("health:")) ?? "";
    const answers = report.phases
      .filter((p) => p.stats !== undefined && p.name.startsWith("step"))
      .map((p) => `${p.name.split(":")[0]} ${ms(p.stats.e2eMs?.p50)} ms`);
    seedRows.push([
      st.name,
      server,
      `suite ${report.settings?.suite ?? "?"}`,
      seedVerdict(report),
      health.replace(/^health: /, "") || "(no model_info)",
      answers.join(", "),
    ]);
  }
}
out.push(table(["stage", "server", "suite", "result", "health fields", "response times"], seedRows));
out.push("");

out.push("## Every level");
for (const st of Object.values(stages)) {
  out.push("");
  out.push(`### ${st.name}${st.done ? "" : " (not finished)"}`);
  out.push("");
  for (const [server, s] of Object.entries(st.servers)) out.push(`- ${server}: ${s.label}`);
  if (st.llamaFailed !== undefined)
    out.push(`- llama-server did not start: \`${st.llamaFailed.trim().split("\n").pop()}\``);
  const allreduce = (read(join(st.dir, "allreduce.txt")) ?? "").trim();
  if (allreduce !== "") {
    out.push(`- all-reduce / split lines of the logs: \`${allreduce.split("\n").slice(0, 3).join(" | ")}\``);
  }
  out.push("");
  const levelRows = [];
  for (const [server, levels] of Object.entries(st.levels)) {
    for (const [c, s] of Object.entries(levels).sort((a, b) => Number(a[0]) - Number(b[0]))) {
      levelRows.push([
        server,
        c,
        `${s.requests - s.failed} / ${s.requests}`,
        `${ms(s.ttftMs?.p50)} / ${ms(s.ttftMs?.p95)}`,
        ms(s.tpotMs?.p50),
        `${ms(s.itlMs?.p50)} / ${ms(s.itlMs?.p95)}`,
        num(s.decodeTokensPerS),
        num(s.outputTokensPerS),
      ]);
    }
  }
  out.push(
    table(
      [
        "server",
        "streams",
        "ok / sent",
        "TTFT p50 / p95 (ms)",
        "TPOT p50 (ms)",
        "ITL p50 / p95 (ms)",
        "decode tok/s",
        "out tok/s",
      ],
      levelRows,
    ),
  );
  if (st.commands !== undefined) {
    out.push("");
    out.push("```");
    out.push(st.commands.trimEnd());
    out.push("```");
  }
}
out.push("");
process.stdout.write(out.join("\n"));
