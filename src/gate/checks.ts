/** Formatting and pass/fail checks shared by the gate's phases and its reports. */
import type { Check, PhaseReport } from "./gate-types.ts";

export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "n/a";
  // Number() drops trailing zeros: "30 s", "1.5 s", "1.36 s".
  return ms < 1000 ? `${Math.round(ms)} ms` : `${Number((ms / 1000).toFixed(2))} s`;
}

export function fmtPct(fraction: number | null | undefined): string {
  return fraction === null || fraction === undefined ? "n/a" : `${(fraction * 100).toFixed(1)}%`;
}

export function fmtNum(value: number | null | undefined, digits = 2): string {
  return value === null || value === undefined ? "n/a" : value.toFixed(digits);
}

/** value <= limit; no value (nothing measured) fails: a gate must not pass on missing data. */
export function atMost(
  name: string,
  value: number | null | undefined,
  limit: number,
  fmt: (v: number) => string,
): Check {
  const passed = value !== null && value !== undefined && value <= limit;
  return {
    name,
    passed,
    value: value === null || value === undefined ? "n/a" : fmt(value),
    limit: `<= ${fmt(limit)}`,
  };
}

export function atLeast(
  name: string,
  value: number | null | undefined,
  limit: number,
  fmt: (v: number) => string,
): Check {
  const passed = value !== null && value !== undefined && value >= limit;
  return {
    name,
    passed,
    value: value === null || value === undefined ? "n/a" : fmt(value),
    limit: `>= ${fmt(limit)}`,
  };
}

export function holds(name: string, passed: boolean, value = passed ? "yes" : "no"): Check {
  return { name, passed, value, limit: "" };
}

export function qpsText(v: number): string {
  return `${v.toFixed(2)} req/s`;
}

export function phase(
  name: string,
  startedAt: number,
  now: number,
  fields: Omit<PhaseReport, "name" | "status" | "durationS"> & { skipped?: boolean },
): PhaseReport {
  const { skipped, ...rest } = fields;
  const status = skipped === true ? "skip" : rest.checks.every((c) => c.passed) ? "pass" : "fail";
  return { name, status, durationS: Math.round((now - startedAt) / 100) / 10, ...rest };
}
