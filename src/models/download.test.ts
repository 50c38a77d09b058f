import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DownloadError, downloadFile, parseContentRange, type DownloadProgress } from "./download.ts";
import { startFileServerForTest, unusedPortForTest, type FileServerForTest } from "./file-server-for-test.ts";

const body = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7919) & 0xff);

let dir: string;
let server: FileServerForTest;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "download-"));
  server = await startFileServerForTest({ "/f.bin": body });
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

describe("downloadFile", () => {
  it("downloads to .partial, reports progress and renames when complete", async () => {
    const dest = join(dir, "full.bin");
    const seen: DownloadProgress[] = [];
    await downloadFile({ url: `${server.baseUrl}/f.bin`, dest, onProgress: (p) => seen.push(p) });
    expect(Buffer.from(await readFile(dest)).equals(Buffer.from(body))).toBe(true);
    expect(await exists(`${dest}.partial`)).toBe(false);
    expect(seen.at(-1)).toEqual({ file: "full.bin", received: body.length, total: body.length });
    const received = seen.map((p) => p.received);
    expect(received).toEqual([...received].sort((a, b) => a - b));
  });

  it("fails a broken connection with DownloadError, keeping .partial, and a rerun completes", async () => {
    const dest = join(dir, "broken.bin");
    server.cutNextResponseAfter(100_000);
    await expect(downloadFile({ url: `${server.baseUrl}/f.bin`, dest })).rejects.toThrow(DownloadError);
    expect(await exists(dest)).toBe(false);
    // How much of the cut response reached the disk depends on timing; the rerun resumes from it.
    const kept = await stat(`${dest}.partial`).then(
      (s) => s.size,
      () => 0,
    );
    expect(kept).toBeLessThan(body.length);
    await downloadFile({ url: `${server.baseUrl}/f.bin`, dest });
    expect(Buffer.from(await readFile(dest)).equals(Buffer.from(body))).toBe(true);
  });

  it("resumes from an existing .partial with a Range request", async () => {
    const dest = join(dir, "resumed.bin");
    await writeFile(`${dest}.partial`, body.subarray(0, 123_456));
    const before = server.ranges.length;
    const seen: DownloadProgress[] = [];
    await downloadFile({ url: `${server.baseUrl}/f.bin`, dest, onProgress: (p) => seen.push(p) });
    expect(server.ranges.slice(before)).toEqual(["bytes=123456-"]);
    expect(seen[0]).toEqual({ file: "resumed.bin", received: 123_456, total: body.length });
    expect(Buffer.from(await readFile(dest)).equals(Buffer.from(body))).toBe(true);
  });

  it("treats a complete .partial (HTTP 416) as done", async () => {
    const dest = join(dir, "complete-partial.bin");
    await writeFile(`${dest}.partial`, body);
    await downloadFile({ url: `${server.baseUrl}/f.bin`, dest });
    expect((await stat(dest)).size).toBe(body.length);
  });

  it("fails clearly on HTTP errors and unreachable hosts", async () => {
    await expect(
      downloadFile({ url: `${server.baseUrl}/missing.bin`, dest: join(dir, "m.bin") }),
    ).rejects.toThrow(/HTTP 404/);
    const port = await unusedPortForTest();
    await expect(
      downloadFile({ url: `http://127.0.0.1:${port}/f.bin`, dest: join(dir, "offline.bin") }),
    ).rejects.toThrow(/cannot reach .*ECONNREFUSED/);
  });
});

describe("parseContentRange", () => {
  it("reads ranges and totals", () => {
    expect(parseContentRange("bytes 100-199/200")).toEqual({ start: 100, total: 200 });
    expect(parseContentRange("bytes */200")).toEqual({ start: undefined, total: 200 });
    expect(parseContentRange("bytes 0-9/*")).toEqual({ start: 0, total: undefined });
    expect(parseContentRange(null)).toBeUndefined();
    expect(parseContentRange("items 1-2/3")).toBeUndefined();
  });
});
