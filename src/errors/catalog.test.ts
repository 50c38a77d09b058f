import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ERROR_CATALOG } from "./catalog.ts";
import { ServerError } from "./server-error.ts";

describe("error catalog", () => {
  const doc = readFileSync(new URL("../../docs/errors.md", import.meta.url), "utf8");

  it("documents every code with its status in docs/errors.md", () => {
    const rows = doc
      .split("\n")
      .filter((l) => l.startsWith("|"))
      .map((l) => l.split("|").map((cell) => cell.trim()));
    for (const [code, entry] of Object.entries(ERROR_CATALOG)) {
      const row = rows.find((cells) => cells[1] === `\`${code}\``);
      expect(row, `docs/errors.md has no row for ${code}`).toBeDefined();
      expect(row?.[2]).toBe(String(entry.status));
      expect(row?.[3]).toBe(entry.type);
    }
  });

  it("gives every ServerError the catalog's status and type", () => {
    const e = new ServerError("rate_limit_exceeded", "full", { headers: { "Retry-After": "2" } });
    expect([e.status, e.type, e.code, e.param, e.headers]).toEqual([
      429,
      "rate_limit_error",
      "rate_limit_exceeded",
      null,
      { "Retry-After": "2" },
    ]);
  });
});
