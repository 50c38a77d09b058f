import { describe, expect, it } from "vitest";
import { SPECIAL_TOKENS } from "../harmony/special-tokens.ts";
import { RANDOM_WEIGHTS_STEER, steerRandomWeights } from "./random-weights-steering.ts";

describe("steerRandomWeights", () => {
  const client = new Map([
    [SPECIAL_TOKENS.end, -100],
    [42, 3],
  ]);

  it("leaves real models and unconstrained requests alone", () => {
    expect(steerRandomWeights(client, false, true)).toBe(client);
    expect(steerRandomWeights(client, true, false)).toBe(client);
  });

  it("adds the steering beneath the client's own bias, which wins token by token", () => {
    const steered = steerRandomWeights(client, true, true);
    expect(steered.get(SPECIAL_TOKENS.end)).toBe(-100);
    expect(steered.get(42)).toBe(3);
    expect(steered.get(SPECIAL_TOKENS.channel)).toBe(RANDOM_WEIGHTS_STEER.get(SPECIAL_TOKENS.channel));
    expect(steered.size).toBe(RANDOM_WEIGHTS_STEER.size + 1);
  });
});
