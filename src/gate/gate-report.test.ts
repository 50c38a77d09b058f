import { describe, expect, it } from "vitest";
import { renderGateMarkdown, renderGateTable, verdictLine } from "./gate-report.ts";
import { PERSONAL_THRESHOLDS, type GateReport, type PhaseReport } from "./gate-types.ts";
import { latencyStats } from "./stats-math.ts";

function phaseReport(name: string, fields: Partial<PhaseReport>): PhaseReport {
  return { name, status: "pass", summary: `${name} summary`, checks: [], notes: [], durationS: 1, ...fields };
}

function report(phases: PhaseReport[]): GateReport {
  const failedPhases = phases.filter((p) => p.status === "fail").map((p) => p.name);
  return {
    tool: "gpt-oss-server gate",
    mode: "personal",
    quick: false,
    url: "http://localhost:8000",
    model: "gpt-oss-tiny",
    serverExtras: true,
    randomWeights: true,
    startedAt: "2026-11-22T00:00:00.000Z",
    durationS: 12.5,
    thresholds: PERSONAL_THRESHOLDS,
    settings: {},
    passed: failedPhases.length === 0,
    failedPhases,
    phases,
  };
}

const stats = latencyStats([
  {
    ok: true,
    status: 200,
    sentAt: 0,
    firstTokenAt: 250,
    endAt: 1500,
    tokenTimes: [250, 1500],
    outputTokens: 2,
  },
]);

const passing = report([
  phaseReport("health", { checks: [{ name: "server answers HTTP", passed: true, value: "yes", limit: "" }] }),
  phaseReport("streaming", {
    checks: [{ name: "p95 TTFT", passed: true, value: "250 ms", limit: "<= 10 s" }],
    stats,
  }),
  phaseReport("cancel", { status: "skip", notes: ["needs X-Request-Id"] }),
]);

describe("gate report rendering", () => {
  it("prints every check with its value, limit and result, skipped phases as SKIP, and the verdict", () => {
    const text = renderGateTable(passing);
    expect(text).toMatch(/streaming\s+p95 TTFT\s+250 ms\s+<= 10 s\s+PASS/);
    expect(text).toMatch(/cancel\s+cancel summary\s+SKIP/);
    expect(text).toMatch(/streaming\s+1\s+0\s+250 ms\s+250 ms\s+1.5 s\s+1.5 s/);
    expect(text).toContain("cancel: needs X-Request-Id");
    expect(text).toContain("random weights");
    expect(text.trimEnd().endsWith("GATE PASSED (personal mode, 3 phases)")).toBe(true);
  });

  it("names each failing phase and the check that failed", () => {
    const failing = report([
      ...passing.phases,
      phaseReport("stability", {
        status: "fail",
        checks: [
          { name: "QPS sustained", passed: true, value: "0.5 req/s", limit: ">= 0.3 req/s" },
          { name: "p95 E2E", passed: false, value: "45 s", limit: "<= 30 s" },
        ],
      }),
    ]);
    expect(verdictLine(failing)).toBe("GATE FAILED: stability (p95 E2E 45 s, needs <= 30 s)");
    expect(renderGateTable(failing)).toMatch(/stability\s+p95 E2E\s+45 s\s+<= 30 s\s+FAIL/);
  });

  it("renders markdown tables with the thresholds and escapes pipes in cells", () => {
    const withPipe = report([
      phaseReport("health", { checks: [{ name: "a|b", passed: true, value: "yes", limit: "" }] }),
    ]);
    const md = renderGateMarkdown(withPipe);
    expect(md).toContain("# Release gate: PASSED");
    expect(md).toContain("| phase | check | value | limit | result |");
    expect(md).toContain("| health | a\\|b | yes |  | PASS |");
    expect(md).toContain("QPS >= 0.3, p95 TTFT <= 10 s, p95 E2E <= 30 s, error rate <= 1.0%");
  });
});
