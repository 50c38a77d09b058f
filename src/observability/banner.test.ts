import { describe, expect, it } from "vitest";
import { startBanner, type BannerInfo } from "./banner.ts";

const INFO: BannerInfo = {
  url: "http://127.0.0.1:8000",
  models: [
    {
      id: "gpt-oss-20b",
      engine: "custom",
      gpuMode: "pipeline",
      gpuCount: 2,
      contextSize: 8192,
      sequences: 16,
      randomWeights: false,
    },
    {
      id: "gpt-oss-tiny",
      engine: "custom",
      gpuMode: "cpu",
      gpuCount: 0,
      contextSize: 4096,
      sequences: 4,
      randomWeights: true,
    },
  ],
  profile: "latency_first",
  apiKeys: true,
  docs: "/opt/gpt-oss-server/docs/operations.md",
};

describe("startBanner", () => {
  it("says where the server answers, what it serves on what, and where to look next", () => {
    const text = startBanner(INFO, false);
    expect(text).toContain("gpt-oss-server is ready at http://127.0.0.1:8000");
    expect(text).toMatch(
      /model +gpt-oss-20b · engine custom · GPU pipeline ×2 · context 8192 × 16 sequences/,
    );
    expect(text).toMatch(/model +gpt-oss-tiny · engine custom · CPU · context 4096 × 4 sequences/);
    expect(text).toContain("⚠ RANDOM WEIGHTS: gpt-oss-tiny");
    expect(text).not.toContain("RANDOM WEIGHTS: gpt-oss-20b");
    expect(text).toMatch(/dashboard +http:\/\/127\.0\.0\.1:8000\/dashboard/);
    expect(text).toContain("Authorization: Bearer <key>");
    expect(text).toMatch(/docs +\/opt\/gpt-oss-server\/docs\/operations\.md/);
    expect(text).not.toContain("\u001b["); // no colours unless asked
  });

  it("colours the ready line and the warning on a terminal", () => {
    const text = startBanner(INFO, true);
    expect(text).toContain("\u001b[1mgpt-oss-server is ready");
    expect(text).toContain("\u001b[33m⚠ RANDOM WEIGHTS");
  });
});
