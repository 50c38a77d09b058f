/**
 * The CLI as a user runs it: graceful shutdown with work in flight, the log file, the offline
 * message for a missing real model, make-model, and --help.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { readGgufFileInfo } from "node-llama-cpp";
import { startServerProcess, waitReady } from "./helpers/server-process.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

function cli(args: string[], timeoutMs = 60_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", "src/main.ts", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: timeoutMs,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("gpt-oss-server process", () => {
  it("on SIGTERM stops taking work, ends in-flight streams within the grace period, logs to --log-file and exits 0", async () => {
    const logDir = mkdtempSync(join(tmpdir(), "gptoss-logs-"));
    const server = await startServerProcess([
      "--model",
      "tiny",
      "--threads",
      "1",
      "--parallel",
      "2",
      "--context-size",
      "2048",
      "--shutdown-timeout",
      "1500",
      "--log-file",
      logDir,
    ]);
    await waitReady(server.url);
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "gpt-oss-tiny",
        messages: [{ role: "user", content: "Tell me a long story" }],
        max_tokens: 1500,
        ignore_eos: true,
        stream: true,
        profile: "quality_first",
      }),
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read(); // the stream is under way
    const started = Date.now();
    const exited = server.stop("SIGTERM");
    let body = "";
    const decoder = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      body += decoder.decode(value, { stream: true });
    }
    expect(await exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    // Cut off by shutdown: the stream says so in an error event instead of [DONE].
    expect(body).toContain('"code":"request_cancelled"');
    expect(body).not.toContain("data: [DONE]");
    const files = readdirSync(logDir).filter((f) => /^server_\d{8}_\d{6}(_\d+)?\.log$/.test(f));
    expect(files).toHaveLength(1);
    const log = readFileSync(join(logDir, files[0]!), "utf8");
    expect(log).toContain("shutdown complete");
    expect(log).toContain('"level_name":"INFO"');
  });

  it("--model 20b offline fails with a message naming the file and the folder, not a stack trace", () => {
    const modelsDir = mkdtempSync(join(tmpdir(), "gptoss-models-"));
    const r = cli([
      "--model",
      "20b",
      "--models-dir",
      modelsDir,
      "--port",
      "0",
      "--download-url",
      "http://127.0.0.1:9",
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("gpt-oss-20b-mxfp4.gguf");
    expect(r.stderr).toContain(modelsDir);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("--no-download says where to put the file without trying the network", () => {
    const modelsDir = mkdtempSync(join(tmpdir(), "gptoss-models-"));
    const r = cli(["--model", "120b", "--models-dir", modelsDir, "--port", "0", "--no-download"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("gpt-oss-120b-mxfp4-00001-of-00003.gguf");
    expect(r.stderr).toContain(modelsDir);
  });

  it("make-model writes a tiny gpt-oss GGUF flagged as random weights", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "gptoss-make-")), "tiny.gguf");
    const r = cli(["make-model", "--size", "tiny", "--out", out, "--seed", "7"]);
    expect(r.status).toBe(0);
    expect(existsSync(out)).toBe(true);
    const info = await readGgufFileInfo(out, { readTensorInfo: false });
    const meta = info.metadata as unknown as Record<string, Record<string, unknown>>;
    expect(meta.general?.architecture).toBe("gpt-oss");
    expect(meta.gpt_oss_server?.random_weights).toBe(true);
  });

  it("make-model --dense-type q8_0 writes the attention and output matrices in Q8_0; a bad type is a usage error", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "gptoss-make-")), "tiny-q8.gguf");
    const r = cli(["make-model", "--size", "tiny", "--out", out, "--dense-type", "q8_0"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Q8_0 dense matrices");
    const info = await readGgufFileInfo(out);
    const types = new Map(info.fullTensorInfo?.map((t) => [t.name, t.ggmlType]) ?? []);
    expect(types.get("blk.1.attn_output.weight")).toBe(8); // GGML_TYPE_Q8_0
    expect(types.get("blk.1.ffn_down_exps.weight")).toBe(39); // MXFP4, unchanged
    const meta = info.metadata as unknown as Record<string, Record<string, unknown>>;
    expect(meta.general?.name).toBe("gpt-oss-tiny (random weights, Q8_0 dense)");
    const bad = cli(["make-model", "--size", "tiny", "--out", out, "--dense-type", "q4_0"]);
    expect(bad.status).toBe(1); // commander's exit for a bad choice, as for --size
    expect(bad.stderr).toContain("Allowed choices are f16, q8_0");
  });

  it("render prints the harmony prompt of a request read from a file", () => {
    const file = join(mkdtempSync(join(tmpdir(), "gptoss-render-")), "req.json");
    writeFileSync(
      file,
      JSON.stringify({ model: "m", messages: [{ role: "user", content: "Hi" }], reasoning_effort: "high" }),
    );
    const r = cli(["render", "--file", file, "--date", "2026-01-02", "--json"]);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.prompt).toContain("Current date: 2026-01-02");
    expect(out.prompt).toContain("Reasoning: high");
    expect(out.prompt).toContain("<|start|>user<|message|>Hi<|end|><|start|>assistant");
    expect(out.token_ids).toHaveLength(out.num_tokens);
  });

  it("rejects a bad flag value with exit code 2 and lists env variables in --help", () => {
    const bad = cli(["serve", "--port", "eighty"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/port/);
    const help = cli(["serve", "--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("GPTOSS_PORT");
    expect(help.stdout).toContain("--profile");
  });
});

describe("gpt-oss-server without the native core", () => {
  it("warns once and serves on node-llama-cpp, as on a machine where npm ci could not compile it", async () => {
    const server = await startServerProcess(["--model", "tiny", "--threads", "1", "--parallel", "1"], {
      GPTOSS_NATIVE_CORE: "/nonexistent/gptoss_core.node",
    });
    try {
      await waitReady(server.url);
      const health = (await (await fetch(`${server.url}/health`)).json()) as {
        engines: Record<string, { engine: string }>;
      };
      // Keyed by engine type (v4.5.1's `custom`); with the core the engine is "llama-cpp-native".
      expect(Object.keys(health.engines)).toEqual(["custom"]);
      expect(health.engines.custom!.engine).toBe("llama-cpp");
      const res = await fetch(`${server.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: "gpt-oss-tiny",
          messages: [{ role: "user", content: "Hi" }],
          max_tokens: 4,
        }),
      });
      expect(res.status).toBe(200);
      expect(server.output()).toMatch(
        /--core native: the native core is not built \(\/nonexistent\/gptoss_core\.node/,
      );
    } finally {
      await server.stop();
    }
  });
});
