/** The agent scenario's tables: one row per turn and target (p50 over sessions), and the headline. */
import type { AgentReport, AgentTargetReport, AgentTurnSummary } from "./bench-types.ts";
import { markdownTable, textTable } from "./text-table.ts";

const HEADER = [
  "target",
  "turn",
  "ok",
  "fail",
  "TTFT p50",
  "E2E p50",
  "prompt tok",
  "cached tok",
  "cached %",
  "out tok",
  "model calls",
];

const ms = (v: number | null): string =>
  v === null ? "n/a" : v < 10 ? v.toFixed(2) : Math.round(v).toString();
const count = (v: number | null): string => (v === null ? "n/a" : String(Math.round(v)));

function label(report: AgentReport, r: AgentTargetReport): string {
  return report.targets[0]?.url === r.target || report.targets.length < 2 ? "A" : "B";
}

function row(report: AgentReport, r: AgentTargetReport, t: AgentTurnSummary): string[] {
  const cachedShare =
    t.cachedTokensP50 === null || t.promptTokensP50 === null || t.promptTokensP50 === 0
      ? "n/a"
      : `${Math.round((100 * t.cachedTokensP50) / t.promptTokensP50)}%`;
  return [
    label(report, r),
    String(t.turn),
    String(t.ok),
    String(t.failed),
    ms(t.ttftMsP50),
    ms(t.e2eMsP50),
    count(t.promptTokensP50),
    count(t.cachedTokensP50),
    cachedShare,
    count(t.completionTokensP50),
    String(t.modelToolCalls),
  ];
}

/** TTFT p50 at the last turn; with two targets, B/A (above 1x: A is faster). */
export function headline(report: AgentReport): string[] {
  const last = (r: AgentTargetReport): AgentTurnSummary | undefined => r.turns[r.turns.length - 1];
  const lines = report.results.map((r) => {
    const t = last(r);
    return (
      `${label(report, r)}: TTFT p50 at turn ${t?.turn ?? "?"} ${ms(t?.ttftMsP50 ?? null)} ms, ` +
      `cached_tokens ${count(t?.cachedTokensP50 ?? null)} of ${count(t?.promptTokensP50 ?? null)} prompt tokens` +
      (r.errors.length > 0 ? `; errors: ${r.errors.join("; ")}` : "")
    );
  });
  const [a, b] = report.results;
  const ta = a === undefined ? undefined : last(a)?.ttftMsP50;
  const tb = b === undefined ? undefined : last(b)?.ttftMsP50;
  if (ta !== undefined && tb !== undefined && ta !== null && tb !== null && ta > 0) {
    lines.push(`TTFT at the last turn, B/A: ${(tb / ta).toFixed(2)}x (above 1x: A is faster)`);
  }
  return lines;
}

function intro(report: AgentReport): string[] {
  const s = report.settings;
  return [
    ...report.targets.map((t, i) => `${i === 0 ? "A" : "B"}: ${t.url} (model ${t.model})`),
    `agent replay: ${String(s["sessions"])} sessions at once, ${String(s["turns"])} turns each, ` +
      `tool results of ${String(s["tool_result_tokens"])} tokens, max tokens ${String(s["max_tokens"])}; ` +
      "p50 over sessions; latencies in ms; 'model calls': turns whose tool call came from the model " +
      "(the others appended a synthetic one)",
  ];
}

function rows(report: AgentReport): string[][] {
  return report.results.flatMap((r) => r.turns.map((t) => row(report, r, t)));
}

export function renderAgentTable(report: AgentReport): string {
  return [...intro(report), "", textTable(HEADER, rows(report)), "", ...headline(report)].join("\n");
}

export function renderAgentMarkdown(report: AgentReport): string {
  return [
    "# Agent replay benchmark",
    "",
    ...intro(report).map((l) => `- ${l}`),
    `- started ${report.startedAt}`,
    "",
    markdownTable(HEADER, rows(report)),
    "",
    ...headline(report).map((l) => `- ${l}`),
    "",
  ].join("\n");
}
