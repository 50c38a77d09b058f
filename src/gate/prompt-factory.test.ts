import { describe, expect, it } from "vitest";
import { seededRandom } from "./arrival-schedule.ts";
import { PromptFactory } from "./prompt-factory.ts";

// One instance: loading the tokenizer takes seconds.
const factory = new PromptFactory();

describe("PromptFactory", () => {
  it("builds prompts of exactly the asked token count in the gpt-oss tokenizer", () => {
    const random = seededRandom(5);
    for (const n of [1, 2, 17, 512]) {
      const text = factory.prompt(n, random);
      expect(factory.count(text)).toBe(n);
    }
    expect(factory.prompt(0, random)).toBe("");
  });

  it("is reproducible from the seed and varies between seeds", () => {
    expect(factory.prompt(64, seededRandom(1))).toBe(factory.prompt(64, seededRandom(1)));
    expect(factory.prompt(64, seededRandom(1))).not.toBe(factory.prompt(64, seededRandom(2)));
  });
});
