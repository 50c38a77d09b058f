import { describe, expect, it } from "vitest";
import { parseUpstreamSpec, upstreamSpecProblem } from "./upstream-spec.ts";

describe("parseUpstreamSpec", () => {
  it("takes a bare URL as is, without a trailing slash", () => {
    expect(parseUpstreamSpec("http://10.0.0.5:8000/")).toEqual({ url: "http://10.0.0.5:8000" });
  });

  it("reads every per-upstream setting from the fragment, which never reaches the server", () => {
    const spec = parseUpstreamSpec(
      "https://a.example:8443/base#weight=2.5&parallel=32&timeout=60000&dialect=sglang&key-file=/run/k",
    );
    expect(spec).toEqual({
      url: "https://a.example:8443/base",
      weight: 2.5,
      parallel: 32,
      timeoutMs: 60000,
      dialect: "sglang",
      keyFile: "/run/k",
    });
  });

  it.each([
    ["http://a:1#weight=0", /weight must be a positive number/],
    ["http://a:1#parallel=1.5", /parallel must be a positive integer/],
    ["http://a:1#timeout=-3", /timeout must be a positive integer/],
    ["http://a:1#dialect=tgi", /dialect must be one of vllm, sglang, llama-server, openai-chat/],
    ["http://a:1#key=secret", /unknown setting "key"/],
    ["http://a:1#key-file=", /key-file needs a path/],
    ["ftp://a:1", /only http and https/],
  ])("refuses %s, naming what is wrong", (raw, message) => {
    expect(upstreamSpecProblem(raw)).toMatch(message);
  });
});
