/** The gate's readable table (stdout) and markdown report, both rendered from the JSON report. */
import { fmtMs, fmtNum, fmtPct } from "./checks.ts";
import type { GateReport, PhaseReport } from "./gate-types.ts";
import { markdownTable, textTable } from "./text-table.ts";

const CHECK_HEADER = ["phase", "check", "value", "limit", "result"];
const METRIC_HEADER = [
  "phase",
  "requests",
  "failed",
  "TTFT p50",
  "TTFT p95",
  "E2E p50",
  "E2E p95",
  "QPS",
  "out tok/s",
];

function checkRows(report: GateReport): string[][] {
  const rows: string[][] = [];
  for (const p of report.phases) {
    if (p.status === "skip" || p.checks.length === 0) {
      rows.push([p.name, p.summary, "", "", p.status === "skip" ? "SKIP" : p.status.toUpperCase()]);
      continue;
    }
    for (const c of p.checks) rows.push([p.name, c.name, c.value, c.limit, c.passed ? "PASS" : "FAIL"]);
  }
  return rows;
}

function metricRows(report: GateReport): string[][] {
  return report.phases
    .filter((p): p is PhaseReport & { stats: NonNullable<PhaseReport["stats"]> } => p.stats !== undefined)
    .map((p) => [
      p.name,
      String(p.stats.requests),
      String(p.stats.failed),
      fmtMs(p.stats.ttftMs.p50),
      fmtMs(p.stats.ttftMs.p95),
      fmtMs(p.stats.e2eMs.p50),
      fmtMs(p.stats.e2eMs.p95),
      fmtNum(p.stats.qps),
      fmtNum(p.stats.outputTokensPerS, 1),
    ]);
}

function noteLines(report: GateReport): string[] {
  return report.phases.flatMap((p) => p.notes.map((n) => `${p.name}: ${n}`));
}

function modeName(report: GateReport): string {
  return report.mode === "seed" ? `seed suite ${String(report.settings["suite"])}` : `${report.mode} mode`;
}

export function verdictLine(report: GateReport): string {
  if (report.passed) return `GATE PASSED (${modeName(report)}, ${report.phases.length} phases)`;
  const failing = report.phases
    .filter((p) => p.status === "fail")
    .map((p) => {
      const checks = p.checks.filter((c) => !c.passed);
      return `${p.name} (${checks.map((c) => (c.limit === "" ? `${c.name}: ${c.value}` : `${c.name} ${c.value}, needs ${c.limit}`)).join("; ")})`;
    });
  return `GATE FAILED: ${failing.join(", ")}`;
}

function header(report: GateReport): string {
  const weights = report.randomWeights === true ? ", random weights" : "";
  return `${modeName(report)} gate${report.quick ? " (quick)" : ""} against ${report.url}, model ${report.model}${weights}, ${report.durationS} s`;
}

export function renderGateTable(report: GateReport): string {
  const notes = noteLines(report);
  return [
    header(report),
    "",
    textTable(CHECK_HEADER, checkRows(report)),
    "",
    textTable(METRIC_HEADER, metricRows(report)),
    ...(notes.length > 0 ? ["", "notes:", ...notes.map((n) => `  - ${n}`)] : []),
    "",
    verdictLine(report),
  ].join("\n");
}

export function renderGateMarkdown(report: GateReport): string {
  const notes = noteLines(report);
  const t = report.thresholds;
  const thresholds = [
    `QPS >= ${t.minQps}`,
    ...(t.maxP95TtftMs !== undefined ? [`p95 TTFT <= ${fmtMs(t.maxP95TtftMs)}`] : []),
    `p95 E2E <= ${fmtMs(t.maxP95E2eMs)}`,
    `error rate <= ${fmtPct(t.maxErrorRate)}`,
    ...(report.mode === "production" ? [`stable windows >= ${fmtPct(t.minStableWindows)}`] : []),
  ];
  return [
    `# Release gate: ${report.passed ? "PASSED" : "FAILED"}`,
    "",
    `- ${header(report)}`,
    `- started ${report.startedAt}; gpt-oss-server extras: ${report.serverExtras ? "yes" : "no"}`,
    report.mode === "seed"
      ? `- v4.5.1 test procedure, expectations: ${JSON.stringify(report.settings["expect"])}`
      : `- thresholds: ${thresholds.join(", ")}`,
    "",
    markdownTable(CHECK_HEADER, checkRows(report)),
    "",
    markdownTable(METRIC_HEADER, metricRows(report)),
    ...(notes.length > 0 ? ["", ...notes.map((n) => `- ${n}`)] : []),
    "",
    `**${verdictLine(report)}**`,
    "",
  ].join("\n");
}
