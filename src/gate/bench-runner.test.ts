import { describe, expect, it } from "vitest";
import { benchBody } from "./bench-runner.ts";
import type { BenchTarget } from "./bench-runner.ts";

const target = { model: "m" } as BenchTarget;
const request = { prompt: "hello", maxTokens: 7 };

describe("benchBody", () => {
  it("sends the server's sampling defaults unless told otherwise", () => {
    const body = benchBody(target, request, { fixedOutput: true });
    expect(body).toMatchObject({ model: "m", max_tokens: 7, stream: true, ignore_eos: true });
    expect(body).not.toHaveProperty("temperature");
    expect(body).not.toHaveProperty("top_p");
  });

  it("sends temperature and top_p when given (0 included), and no ignore_eos without fixed output", () => {
    const body = benchBody(target, request, { fixedOutput: false, temperature: 0, topP: 1 });
    expect(body).toMatchObject({ temperature: 0, top_p: 1 });
    expect(body).not.toHaveProperty("ignore_eos");
  });
});
