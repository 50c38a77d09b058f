import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CapturingStreamForTest } from "./capturing-stream-for-test.ts";
import { createLogger, formatStamp } from "./logger.ts";

// 2026-11-22 09:45:12 local time (month is 0-based)
const FIXED_DATE = new Date(2026, 10, 22, 9, 45, 12);

let tempDir: string;
beforeEach(async () => {
  tempDir = await mkdtemp(path.join(os.tmpdir(), "gptoss-logger-"));
});
afterEach(async () => {
  await rm(tempDir, { recursive: true, force: true });
});

async function readJsonLines(file: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(file, "utf8");
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("createLogger", () => {
  it("writes JSON lines to <logDir>/server_<timestamp>.log, creating the directory", async () => {
    const logDir = path.join(tempDir, "nested", "logs");
    const { logger, logFile, close } = createLogger({
      level: "info",
      logDir,
      stdout: false,
      now: () => FIXED_DATE,
    });
    expect(logFile).toBe(path.join(logDir, "server_20261122_094512.log"));

    logger.info({ request_id: "abc" }, "server started");
    logger.error({ code: "engine_error" }, "engine failed");
    await close();

    const lines = await readJsonLines(logFile as string);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      msg: "server started",
      request_id: "abc",
      level: 30,
      level_name: "INFO",
    });
    expect(lines[1]).toMatchObject({
      msg: "engine failed",
      code: "engine_error",
      level: 50,
      level_name: "ERROR",
    });
    expect(typeof lines[0]?.time).toBe("string"); // ISO time, readable with tail -f
    // what the seed's users type: grep ERROR server_*.log
    const text = await readFile(logFile as string, "utf8");
    expect(text.split("\n").filter((line) => line.includes("ERROR"))).toHaveLength(1);
  });

  it("sends the same lines to stdout", async () => {
    const stdout = new CapturingStreamForTest();
    const { logger, close } = createLogger({ level: "info", logDir: tempDir, stdout, now: () => FIXED_DATE });
    logger.warn("careful");
    await close();
    expect(stdout.lines).toHaveLength(1);
    expect(stdout.lines[0]).toMatchObject({ msg: "careful", level_name: "WARN" });
  });

  it("drops lines below the level", async () => {
    const { logger, logFile, close } = createLogger({ level: "warn", logDir: tempDir, stdout: false });
    logger.info("hidden");
    logger.debug("hidden too");
    logger.warn("shown");
    await close();
    const lines = await readJsonLines(logFile as string);
    expect(lines.map((line) => line.msg)).toEqual(["shown"]);
  });

  it("does not overwrite the log of a server started in the same second", async () => {
    const first = createLogger({ level: "info", logDir: tempDir, stdout: false, now: () => FIXED_DATE });
    first.logger.info("first");
    await first.close();
    const second = createLogger({ level: "info", logDir: tempDir, stdout: false, now: () => FIXED_DATE });
    second.logger.info("second");
    await second.close();

    expect(second.logFile).toBe(path.join(tempDir, "server_20261122_094512_2.log"));
    expect((await readdir(tempDir)).sort()).toEqual([
      "server_20261122_094512.log",
      "server_20261122_094512_2.log",
    ]);
    expect((await readJsonLines(first.logFile as string)).map((l) => l.msg)).toEqual(["first"]);
  });

  it("has no file without a logDir, and close() is harmless twice", async () => {
    const stdout = new CapturingStreamForTest();
    const { logger, logFile, close } = createLogger({ level: "info", stdout });
    logger.info("only stdout");
    expect(logFile).toBeUndefined();
    await close();
    await close();
    expect(stdout.lines.map((l) => l.msg)).toEqual(["only stdout"]);
  });

  it("writes nothing at level silent", async () => {
    const { logger, logFile, close } = createLogger({ level: "silent", logDir: tempDir, stdout: false });
    logger.fatal("nothing");
    await close();
    expect(await readFile(logFile as string, "utf8")).toBe("");
  });
});

describe("createLogger with format pretty", () => {
  it("writes readable lines to stdout, JSON to the file, and print() text to stdout only", async () => {
    const chunks: string[] = [];
    const stdout = { write: (chunk: string) => void chunks.push(chunk) };
    const { logger, logFile, close, print } = createLogger({
      level: "info",
      logDir: tempDir,
      stdout,
      format: "pretty",
      now: () => FIXED_DATE,
    });
    logger.info({ url: "http://127.0.0.1:8000" }, "listening");
    print("BANNER\n");
    logger.warn("careful");
    await close();
    const text = chunks.join("");
    expect(text).toMatch(
      /^\[[\d:.]+\] INFO: listening url=http:\/\/127\.0\.0\.1:8000\nBANNER\n\[[\d:.]+\] WARN: careful\n$/,
    );
    expect((await readJsonLines(logFile as string)).map((l) => l.msg)).toEqual(["listening", "careful"]);
  });
});

describe("formatStamp", () => {
  it("zero-pads every part", () => {
    expect(formatStamp(new Date(2026, 0, 2, 3, 4, 5))).toBe("20260102_030405");
    expect(formatStamp(FIXED_DATE)).toBe("20261122_094512");
  });
});
