/**
 * Codex CLI 0.169's first request, byte for byte as it sent it to this server (captured with a
 * listening socket; its session ids are random and mean nothing): it must parse, so Codex's default
 * tools and features never meet a 400 here. test/clients.test.ts runs the real binary end to end.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseResponsesRequest } from "./responses-request.ts";

const codexFirstRequest = JSON.parse(
  readFileSync(new URL("../../test/fixtures/codex-0.169-first-request.json", import.meta.url), "utf8"),
) as Record<string, unknown>;

describe("Codex CLI 0.169's first request", () => {
  it("parses: its namespace tool, hosted web_search, reasoning summary and client metadata included", () => {
    const tools = codexFirstRequest["tools"] as Array<{ type: string }>;
    expect(tools.map((t) => t.type)).toEqual(expect.arrayContaining(["function", "namespace", "web_search"]));
    const parsed = parseResponsesRequest(codexFirstRequest, () => undefined);
    expect(parsed.serving.stream).toBe(true);
    expect(parsed.serving.tools.length).toBeGreaterThan(tools.length - 2);
  });
});
