/**
 * A zod failure → the 400 a client sees: the first issue, its path (dotted, under `prefix`) as
 * `param`, and missing_required_parameter when the field is absent rather than wrong.
 */
import type { z } from "zod";
import { ServerError } from "../errors/server-error.ts";

/** A missing union-typed field is reported by zod as a union mismatch: look at the value itself. */
function isMissing(value: unknown, path: readonly PropertyKey[]): boolean {
  let node = value;
  for (const key of path) {
    if (node === null || typeof node !== "object") return true;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node === undefined;
}

export function zodToServerErrorAt(error: z.ZodError, prefix: string, value: unknown): ServerError {
  const issue = error.issues[0];
  const path = [prefix, ...(issue?.path.map(String) ?? [])].filter((p) => p !== "").join(".");
  const missing = issue !== undefined && issue.path.length > 0 && isMissing(value, issue.path);
  const message =
    issue === undefined ? "invalid request" : `${path === "" ? "body" : path}: ${issue.message}`;
  return new ServerError(missing ? "missing_required_parameter" : "invalid_value", message, {
    param: path === "" ? null : path,
  });
}
