import { describe, expect, it } from "vitest";
import { resolveLogFormat } from "./log-format.ts";

describe("resolveLogFormat", () => {
  it("auto: readable and coloured on a terminal, JSON when piped", () => {
    expect(resolveLogFormat("auto", true)).toEqual({ format: "pretty", colorize: true });
    expect(resolveLogFormat("auto", false)).toEqual({ format: "json", colorize: false });
  });

  it("an explicit choice wins; colours only on a terminal", () => {
    expect(resolveLogFormat("json", true)).toEqual({ format: "json", colorize: false });
    expect(resolveLogFormat("pretty", false)).toEqual({ format: "pretty", colorize: false });
    expect(resolveLogFormat("pretty", true)).toEqual({ format: "pretty", colorize: true });
  });
});
