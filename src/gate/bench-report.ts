/** The bench's tables: one row per level and target, and B/A ratios under --compare. */
import { fmtNum } from "./checks.ts";
import type { BenchLevel, BenchReport, LevelReport } from "./bench-types.ts";
import { markdownTable, textTable } from "./text-table.ts";

const HEADER = [
  "target",
  "level",
  "reqs",
  "fail",
  "TTFT p50",
  "TTFT p95",
  "TTFT p99",
  "ITL p50",
  "ITL p95",
  "TPOT p50",
  "E2E p50",
  "E2E p95",
  "E2E p99",
  "out tok/s",
  "decode tok/s",
  "decode streams",
  "req/s",
  "goodput",
];

const ms = (v: number | null): string =>
  v === null ? "n/a" : v < 10 ? v.toFixed(2) : Math.round(v).toString();

export function levelName(level: BenchLevel): string {
  return level.kind === "concurrency" ? `c=${level.value}` : `${level.value} req/s`;
}

function targetLabel(report: BenchReport, url: string): string {
  return report.targets.length > 1 ? (report.targets[0]?.url === url ? "A" : "B") : "A";
}

function row(report: BenchReport, l: LevelReport): string[] {
  const s = l.stats;
  return [
    targetLabel(report, l.target),
    levelName(l.level),
    String(s.requests),
    String(s.failed),
    ms(s.ttftMs.p50),
    ms(s.ttftMs.p95),
    ms(s.ttftMs.p99),
    ms(s.itlMs.p50),
    ms(s.itlMs.p95),
    ms(s.tpotMs.p50),
    ms(s.e2eMs.p50),
    ms(s.e2eMs.p95),
    ms(s.e2eMs.p99),
    fmtNum(s.outputTokensPerS, 1),
    fmtNum(s.decodeTokensPerS, 1),
    fmtNum(s.decodeStreams, 1),
    fmtNum(s.qps),
    fmtNum(l.goodputQps),
  ];
}

const RATIO_HEADER = [
  "level",
  "out tok/s B/A",
  "decode tok/s B/A",
  "req/s B/A",
  "goodput B/A",
  "TTFT p50 B/A",
  "TPOT p50 B/A",
  "E2E p95 B/A",
];

function ratio(b: number | null, a: number | null): string {
  return a === null || b === null || a === 0 ? "n/a" : `${(b / a).toFixed(2)}x`;
}

function ratioRows(report: BenchReport): string[][] {
  const [a, b] = report.targets;
  if (a === undefined || b === undefined) return [];
  const rows: string[][] = [];
  for (const la of report.levels.filter((l) => l.target === a.url)) {
    const lb = report.levels.find((l) => l.target === b.url && levelName(l.level) === levelName(la.level));
    if (lb === undefined) continue;
    rows.push([
      levelName(la.level),
      ratio(lb.stats.outputTokensPerS, la.stats.outputTokensPerS),
      ratio(lb.stats.decodeTokensPerS, la.stats.decodeTokensPerS),
      ratio(lb.stats.qps, la.stats.qps),
      ratio(lb.goodputQps, la.goodputQps),
      ratio(lb.stats.ttftMs.p50, la.stats.ttftMs.p50),
      ratio(lb.stats.tpotMs.p50, la.stats.tpotMs.p50),
      ratio(lb.stats.e2eMs.p95, la.stats.e2eMs.p95),
    ]);
  }
  return rows;
}

function intro(report: BenchReport): string[] {
  const s = report.settings;
  return [
    ...report.targets.map((t, i) => `${i === 0 ? "A" : "B"}: ${t.url} (model ${t.model})`),
    `prompt tokens ${String(s["prompt_tokens"])}, max tokens ${String(s["max_tokens"])}, fixed output ${String(s["fixed_output"])}, ` +
      `SLO: TTFT <= ${String(s["slo_ttft_ms"])} ms and TPOT <= ${String(s["slo_tpot_ms"])} ms; latencies in ms`,
  ];
}

export function renderBenchTable(report: BenchReport): string {
  const ratios = ratioRows(report);
  return [
    ...intro(report),
    "",
    textTable(
      HEADER,
      report.levels.map((l) => row(report, l)),
    ),
    ...(ratios.length > 0 ? ["", "B/A (above 1x: B is higher):", textTable(RATIO_HEADER, ratios)] : []),
  ].join("\n");
}

export function renderBenchMarkdown(report: BenchReport): string {
  const ratios = ratioRows(report);
  return [
    "# Load benchmark",
    "",
    ...intro(report).map((l) => `- ${l}`),
    `- started ${report.startedAt}`,
    "",
    markdownTable(
      HEADER,
      report.levels.map((l) => row(report, l)),
    ),
    ...(ratios.length > 0 ? ["", markdownTable(RATIO_HEADER, ratios)] : []),
    "",
  ].join("\n");
}
