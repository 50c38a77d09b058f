/**
 * The native sampler (`sampleForTest`, the exact code the decode loop runs) against the reference
 * (reference-sampler.ts): many seeded draws per case, a chi-square goodness-of-fit test on them, and
 * a check that no token the reference gives probability 0 (outside the nucleus, banned) is ever
 * drawn. Seeds are fixed, so each verdict is deterministic; the threshold is strict enough that a
 * correct sampler passes and a wrong distribution fails (the negative controls show the latter).
 *
 * Needs the addon (`node scripts/build-native.mjs`); CI always builds it, so a missing addon fails
 * here rather than skipping.
 */
import { describe, expect, it } from "vitest";
import { seededRandom } from "./tiny-engine-support.ts";
import type { NativeSampling } from "./native-core.ts";
import { requireCore } from "./real-core-for-test.ts";
import { referenceProbabilities } from "./reference-sampler.ts";

/**
 * The verdict threshold: a correct sampler fails a case for one seed in 10,000; the distortions of
 * the negative controls below land many orders of magnitude under it.
 */
const P_THRESHOLD = 1e-4;
/** Pearson's rule of thumb: the chi-square approximation needs expected counts of 5 or more. */
const MIN_EXPECTED = 5;
/** gpt-oss's vocabulary size: exercises the sampler's large-vocabulary paths. */
const GPT_OSS_VOCAB = 201_088;

// --- seeded test data --------------------------------------------------------------------------

/** `count` draws from N(0, sd²) by Box-Muller. */
function normalLogits(count: number, seed: number, sd: number): Float32Array {
  const random = seededRandom(seed);
  const logits = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const u1 = 1 - random(); // in (0, 1]: log(0) would be -Infinity
    const u2 = random();
    logits[i] = sd * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  return logits;
}

// --- chi-square --------------------------------------------------------------------------------

/**
 * ln Γ(a) for a positive multiple of 1/2, which is all a chi-square needs (a = df / 2): by the
 * recurrence Γ(a + 1) = a Γ(a) from Γ(1) = 1 or Γ(1/2) = √π, exact up to rounding.
 */
function logGammaHalfInteger(a: number): number {
  if (a <= 0 || !Number.isInteger(2 * a))
    throw new Error(`logGammaHalfInteger(${a}): not a positive multiple of 1/2`);
  let result = Number.isInteger(a) ? 0 : 0.5 * Math.log(Math.PI);
  for (let k = Number.isInteger(a) ? 1 : 0.5; k < a; k++) result += Math.log(k);
  return result;
}

/**
 * Q(a, x) = Γ(a, x) / Γ(a), the regularized upper incomplete gamma function: the power series for
 * P = 1 - Q where it converges fast (x < a + 1), else Lentz's continued fraction for Q (Numerical
 * Recipes §6.2), so small tail probabilities keep their relative precision.
 */
function upperIncompleteGamma(a: number, x: number): number {
  if (x <= 0) return 1;
  const prefactor = Math.exp(-x + a * Math.log(x) - logGammaHalfInteger(a));
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 100_000 && Math.abs(term) > Math.abs(sum) * 1e-16; n++) {
      term *= x / (a + n);
      sum += term;
    }
    return 1 - sum * prefactor;
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 100_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return prefactor * h;
}

/** P(X >= statistic) for X ~ chi-square with `df` degrees of freedom. */
function chiSquareSurvival(statistic: number, df: number): number {
  return upperIncompleteGamma(df / 2, statistic / 2);
}

interface Fit {
  statistic: number;
  degreesOfFreedom: number;
  pValue: number;
  /** Drawn tokens that the reference gives probability 0, or out of the vocabulary. */
  impossible: number[];
}

/**
 * Pearson's chi-square of the draws against the reference. Tokens are taken by descending
 * probability; each starts a cell, and a cell takes further tokens until its expected count reaches
 * MIN_EXPECTED, so small tokens are merged with their neighbours in probability (which keeps the
 * test's power against a distorted tail, as a wrong temperature gives). Tokens in `setAside` are
 * left out on both sides: their draws are not counted, and the rest of the reference is
 * renormalised over the other tokens.
 */
function goodnessOfFit(draws: Int32Array, probabilities: Float64Array, setAside = new Set<number>()): Fit {
  const vocab = probabilities.length;
  const observed = new Float64Array(vocab);
  const impossible = new Set<number>();
  let counted = 0;
  for (const token of draws) {
    if (setAside.has(token)) continue;
    if (token >= 0 && token < vocab && probabilities[token]! > 0) {
      observed[token]!++;
      counted++;
    } else impossible.add(token);
  }

  const possible: number[] = [];
  let mass = 0;
  for (let token = 0; token < vocab; token++) {
    if (probabilities[token]! > 0 && !setAside.has(token)) {
      possible.push(token);
      mass += probabilities[token]!;
    }
  }
  possible.sort((a, b) => probabilities[b]! - probabilities[a]!);

  const cells: { expected: number; observed: number }[] = [];
  let open = { expected: 0, observed: 0 };
  for (const token of possible) {
    open.expected += (counted * probabilities[token]!) / mass;
    open.observed += observed[token]!;
    if (open.expected >= MIN_EXPECTED) {
      cells.push(open);
      open = { expected: 0, observed: 0 };
    }
  }
  const last = cells.at(-1);
  if (last === undefined) cells.push(open);
  else {
    last.expected += open.expected;
    last.observed += open.observed;
  }

  let statistic = 0;
  for (const cell of cells) statistic += (cell.observed - cell.expected) ** 2 / cell.expected;
  const degreesOfFreedom = cells.length - 1;
  const pValue = degreesOfFreedom > 0 ? chiSquareSurvival(statistic, degreesOfFreedom) : 1;
  return { statistic, degreesOfFreedom, pValue, impossible: [...impossible] };
}

// --- cases -------------------------------------------------------------------------------------

function sampling(overrides: Partial<NativeSampling> = {}): NativeSampling {
  return {
    temperature: 1,
    topP: 1,
    seed: 1234,
    presencePenalty: 0,
    frequencyPenalty: 0,
    biasTokens: new Int32Array(),
    biasValues: new Float32Array(),
    ...overrides,
  };
}

function bias(entries: [token: number, value: number][]): Pick<NativeSampling, "biasTokens" | "biasValues"> {
  return {
    biasTokens: Int32Array.from(entries.map(([token]) => token)),
    biasValues: Float32Array.from(entries.map(([, value]) => value)),
  };
}

interface Case {
  logits: Float32Array;
  sampling: NativeSampling;
  previous: Int32Array;
  draws: number;
  /** > 1: the decode loop's split path (the vocabulary shared across this many threads). */
  threads?: number;
  /** The split path's pool spinning between draws (as on a GPU host) instead of sleeping. */
  spinMicros?: number;
}

/**
 * The tokens whose place in the nucleus is down to rounding: those a top_p lower by a relative 1e-5
 * would drop or higher by 1e-5 would add. The addon takes top_p as a float32 and sums float32
 * weights, so where the nucleus ends inside a dense tail a few tokens of mass ~1e-6 each may fall
 * either side; the fit sets them aside. Where they carry enough mass to be drawn, top_p sits on the
 * boundary of a token that matters and the case itself is ill-posed: refused.
 */
function roundingBand(c: Case): Set<number> {
  const band = new Set<number>();
  const { topP, temperature } = c.sampling;
  if (topP >= 1 || temperature === 0) return band;
  const narrower = referenceProbabilities(c.logits, { ...c.sampling, topP: topP * (1 - 1e-5) }, c.previous);
  const wider = referenceProbabilities(
    c.logits,
    { ...c.sampling, topP: Math.min(1, topP * (1 + 1e-5)) },
    c.previous,
  );
  let mass = 0;
  wider.forEach((p, token) => {
    if (p > 0 && narrower[token] === 0) {
      band.add(token);
      mass += p;
    }
  });
  expect(mass * c.draws, "expected draws of tokens on the nucleus boundary").toBeLessThan(0.5);
  return band;
}

/** Native draws for the case, checked against the reference. */
function expectMatchesReference(c: Case): void {
  const core = requireCore();
  const band = roundingBand(c);
  const probabilities = referenceProbabilities(c.logits, c.sampling, c.previous);
  const draws = core.sampleForTest(
    c.logits,
    c.sampling,
    c.previous,
    c.draws,
    c.threads ?? 1,
    c.spinMicros ?? 0,
  );
  expect(draws).toBeInstanceOf(Int32Array);
  expect(draws.length).toBe(c.draws);
  const fit = goodnessOfFit(draws, probabilities, band);
  expect(fit.impossible, "drew tokens the reference gives probability 0").toEqual([]);
  expect(fit.pValue, `chi² = ${fit.statistic.toFixed(1)} on ${fit.degreesOfFreedom} df`).toBeGreaterThan(
    P_THRESHOLD,
  );
}

const none = new Int32Array();
/** Generated tokens for the penalty cases: `fifty`'s top token 38 four times, 41 twice. */
const generated = Int32Array.from([38, 38, 38, 18, 41, 41, 5, 38]);

// Small vocabularies: hand-picked (with a tie at the top, ids 2 and 4) and seeded normal.
const eight = Float32Array.from([1.2, -0.3, 2.5, 0.1, 2.5, -1.7, 0.9, -4]);
const fifty = normalLogits(50, 7, 1.5);
// gpt-oss-sized: a N(0, 2²) tail with four dominant tokens, two at the ends of the vocabulary. At
// temperature 1 the tail holds ~9% of the mass; at 2 it holds most of it, and the nucleus at
// top_p 0.1 / 0.5 / 0.9 is ~1.7k / ~31k / ~122k tokens, so every growth step of the native partial
// selection is exercised.
const large = normalLogits(GPT_OSS_VOCAB, 42, 2);
large[200_000] = 16;
large[17] = 15;
large[123_456] = 14.5;
large[GPT_OSS_VOCAB - 1] = 13;

const SMALL_DRAWS = 20_000;
const temperatures = [0.5, 1, 2];
const topPs = [1, 0.9, 0.5, 0.1];

describe("chiSquareSurvival", () => {
  // Reference values from scipy.stats.chi2.sf (and standard tables).
  const table: [statistic: number, df: number, p: number][] = [
    [3.841458820694124, 1, 0.05],
    [10.828, 1, 0.0009997657195830916],
    [7.815, 3, 0.049993902974883875],
    [20.515, 5, 0.0010000024510678572],
    [18.307, 10, 0.05000058909139812],
    [2.558, 10, 0.9900032922377676],
    [59.703, 30, 0.0010000178641901792],
    [124.342, 100, 0.05000071576997178],
    [149.449, 100, 0.0010000462217732505],
    [1074.679, 1000, 0.05000098659539485],
    [8000, 8000, 0.4978973866463206],
    [8400, 8000, 0.0009156555871932195],
    [200, 10, 1.6139305336977317e-37],
  ];
  it.each(table)("chi² = %d on %d df has p = %d", (statistic, df, p) => {
    expect(Math.abs(chiSquareSurvival(statistic, df) / p - 1)).toBeLessThan(1e-9);
  });

  it("matches the closed forms for 2 and 4 degrees of freedom", () => {
    for (const x of [0.1, 1, 5, 30, 100]) {
      expect(chiSquareSurvival(x, 2) / Math.exp(-x / 2) - 1).toBeCloseTo(0, 12);
      expect(chiSquareSurvival(x, 4) / (Math.exp(-x / 2) * (1 + x / 2)) - 1).toBeCloseTo(0, 12);
    }
  });

  it("is 1 at 0 and decreasing", () => {
    expect(chiSquareSurvival(0, 7)).toBe(1);
    let previous = 1;
    for (let x = 0.5; x < 60; x += 0.5) {
      const p = chiSquareSurvival(x, 7);
      expect(p).toBeLessThan(previous);
      previous = p;
    }
  });
});

describe("goodnessOfFit", () => {
  it("gives chi² 0 and p 1 for counts exactly as expected", () => {
    // 10 draws of token 0, 30 of token 2: exactly 1/4 and 3/4 of 40.
    const draws = Int32Array.from([...Array<number>(10).fill(0), ...Array<number>(30).fill(2)]);
    const fit = goodnessOfFit(draws, Float64Array.from([0.25, 0, 0.75]));
    expect(fit).toEqual({ statistic: 0, degreesOfFreedom: 1, pValue: 1, impossible: [] });
  });

  it("reports tokens of probability 0 and out of the vocabulary", () => {
    const fit = goodnessOfFit(Int32Array.from([0, 1, 0, -1, 3]), Float64Array.from([0.5, 0, 0.5]));
    expect(fit.impossible.sort()).toEqual([-1, 1, 3]);
  });

  it("merges tokens of small expected count into cells of at least 5", () => {
    // 64 draws: tokens 0 and 1 expect 24 each, alone; tokens 2..17 expect 1 each and form cells of
    // 5, 5 and 6 (the leftover token joins the last cell). All 16 small draws are of token 2.
    const probabilities = Float64Array.from([0.375, 0.375, ...Array<number>(16).fill(1 / 64)]);
    const draws = Int32Array.from([
      ...Array<number>(24).fill(0),
      ...Array<number>(24).fill(1),
      ...Array<number>(16).fill(2),
    ]);
    const fit = goodnessOfFit(draws, probabilities);
    expect(fit.degreesOfFreedom).toBe(5 - 1);
    expect(fit.statistic).toBeCloseTo((16 - 5) ** 2 / 5 + 5 + 6, 9);
  });

  it("sets tokens aside on both sides and renormalises the rest", () => {
    const draws = Int32Array.from([0, 0, 1, 1, 2]);
    const fit = goodnessOfFit(draws, Float64Array.from([0.25, 0.25, 0.5]), new Set([2]));
    expect(fit).toMatchObject({ statistic: 0, impossible: [] });
  });
});

describe("native sampler against the reference", () => {
  describe.each([
    ["8 tokens", eight],
    ["50 tokens", fifty],
  ])("%s", (_name, logits) => {
    const grid = temperatures.flatMap((temperature) => topPs.map((topP) => [temperature, topP] as const));
    it.each(grid.map(([temperature, topP], index) => [temperature, topP, 100 + index]))(
      "temperature %d, top_p %d (seed %d)",
      (temperature, topP, seed) => {
        const c = {
          logits,
          sampling: sampling({ temperature, topP, seed }),
          previous: none,
          draws: SMALL_DRAWS,
        };
        expectMatchesReference(c);
      },
    );
  });

  it("keeps the lowest ids when the nucleus cuts through tied logits", () => {
    // Ten tokens tied below one higher token: top_p 0.5 / 0.3 keep the top one and the tied ids 1..5
    // / 1..3 only, whatever order the sampler met them in.
    const logits = Float32Array.from([0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -2, -3]);
    for (const topP of [0.5, 0.3]) {
      expectMatchesReference({ logits, sampling: sampling({ topP }), previous: none, draws: SMALL_DRAWS });
    }
  });

  // `fifty`'s most probable tokens are 38, 18, 41, 16, 48 (10%, 10%, 8%, 6%, 5% at temperature 1):
  // the penalties and biases below move real mass.
  it.each([
    ["presence and frequency penalties", { presencePenalty: 0.8, frequencyPenalty: 0.5 }],
    ["negative penalties (encourage repetition)", { presencePenalty: -1, frequencyPenalty: -0.4 }],
    ["penalties under a nucleus", { presencePenalty: 0.5, frequencyPenalty: 0.7, topP: 0.5 }],
    [
      "positive and negative logit_bias",
      bias([
        [20, 3],
        [38, -2.5],
        [33, 1.25],
      ]),
    ],
    [
      "bans (-100 and below) among biases",
      {
        topP: 0.9,
        ...bias([
          [20, 2],
          [18, -100],
          [40, -150],
          [12, -50],
        ]),
      },
    ],
    [
      "penalties, biases and a ban on a penalised token",
      {
        temperature: 0.7,
        presencePenalty: 0.3,
        frequencyPenalty: 0.2,
        ...bias([
          [38, -100],
          [41, 1.5],
        ]),
      },
    ],
  ] as [string, Partial<NativeSampling>][])("%s", (_name, overrides) => {
    expectMatchesReference({
      logits: fifty,
      sampling: sampling(overrides),
      previous: generated,
      draws: SMALL_DRAWS,
    });
  });

  describe(`${GPT_OSS_VOCAB} tokens`, () => {
    const penalties = { presencePenalty: 1, frequencyPenalty: 0.5 };
    const biases: [number, number][] = [
      [200_000, -100],
      [5, 8],
      [GPT_OSS_VOCAB - 1, 1.5],
    ];
    const largeGenerated = Int32Array.from([17, 17, 123_456, 200_000]);
    // (Temperature 1, top_p 1 is among the negative controls, which check it passes as well.)
    // Draw counts are set by cost: every draw redoes the O(vocabulary) work, and a nucleus deep in
    // the tail costs a partial selection (up to a full sort at top_p 0.9, temperature 2) per draw.
    it.each([
      [0.5, 1, 1000],
      [2, 1, 1000],
      [1, 0.9, 600],
      [2, 0.1, 150],
      [2, 0.5, 60],
      [2, 0.9, 30],
    ])("temperature %d, top_p %d (%d draws)", (temperature, topP, draws) => {
      expectMatchesReference({
        logits: large,
        sampling: sampling({ temperature, topP }),
        previous: none,
        draws,
      });
    });

    it("with the dominant token banned, penalties and biases, at top_p 1", () => {
      expectMatchesReference({
        logits: large,
        sampling: sampling({ ...penalties, ...bias(biases) }),
        previous: largeGenerated,
        draws: 1000,
      });
    });

    it("with a nucleus cutting between two tokens tied after penalties", () => {
      // After the penalties 17 (15 - 2) and 123,456 (14.5 - 1.5) tie at 13; the last token, biased to
      // 14.5, holds ~46%, so top_p 0.5 takes one of the pair: 17, the lower id.
      const c = {
        logits: large,
        sampling: sampling({ topP: 0.5, ...penalties, ...bias(biases) }),
        previous: largeGenerated,
      };
      const probabilities = referenceProbabilities(c.logits, c.sampling, c.previous);
      const support = [...probabilities.keys()].filter((token) => probabilities[token]! > 0);
      expect(support).toEqual([17, GPT_OSS_VOCAB - 1]);
      expectMatchesReference({ ...c, draws: 600 });
    });
  });
});

describe("native sampler, vocabulary split across threads (steps with few sequences)", () => {
  // Each thread weighs its part relative to its own maximum; the parts are rescaled at the draw.
  const fiveThousand = normalLogits(5000, 11, 3);
  it.each([
    [0.5, 3],
    [1, 4],
    [2, 7],
  ])("5,000 tokens, temperature %d, %d threads", (temperature, threads) => {
    expectMatchesReference({
      logits: fiveThousand,
      sampling: sampling({ temperature }),
      previous: none,
      draws: 20_000,
      threads,
    });
  });

  it(`${GPT_OSS_VOCAB} tokens with bans, penalties and biases, 4 threads`, () => {
    expectMatchesReference({
      logits: large,
      sampling: sampling({
        presencePenalty: 0.5,
        frequencyPenalty: 0.25,
        ...bias([
          [3, -100],
          [77, 4],
        ]),
      }),
      previous: Int32Array.from([3, 3, 5, 9]),
      draws: 1000,
      threads: 4,
    });
  });

  it("a dominant token in one part and everything else banned in another", () => {
    const logits = normalLogits(5000, 12, 1);
    logits[4900] = 6;
    const bans = bias(Array.from({ length: 2500 }, (_, i): [number, number] => [i, -100]));
    expectMatchesReference({ logits, sampling: sampling(bans), previous: none, draws: 20_000, threads: 4 });
  });

  it("with the pool spinning between draws instead of sleeping", () => {
    expectMatchesReference({
      logits: fiveThousand,
      sampling: sampling(),
      previous: none,
      draws: 20_000,
      threads: 2,
      spinMicros: 200,
    });
  });

  it("is reproducible for a seed, like the serial path", () => {
    const core = requireCore();
    const seeded = sampling({ seed: 1234 });
    expect(core.sampleForTest(large, seeded, none, 40, 4)).toEqual(
      core.sampleForTest(large, seeded, none, 40, 4),
    );
  });
});

describe("negative controls: the test rejects a wrong distribution", () => {
  it("temperature 1 draws against the temperature 1.3 reference", () => {
    const draws = requireCore().sampleForTest(eight, sampling(), none, SMALL_DRAWS);
    expect(goodnessOfFit(draws, referenceProbabilities(eight, sampling(), none)).pValue).toBeGreaterThan(
      P_THRESHOLD,
    );
    const wrong = goodnessOfFit(draws, referenceProbabilities(eight, sampling({ temperature: 1.3 }), none));
    expect(wrong.pValue).toBeLessThan(P_THRESHOLD);
  });

  it(`temperature 1 draws against the temperature 1.1 reference, ${GPT_OSS_VOCAB} tokens`, () => {
    const draws = requireCore().sampleForTest(large, sampling(), none, 1500);
    expect(goodnessOfFit(draws, referenceProbabilities(large, sampling(), none)).pValue).toBeGreaterThan(
      P_THRESHOLD,
    );
    const wrong = goodnessOfFit(draws, referenceProbabilities(large, sampling({ temperature: 1.1 }), none));
    expect(wrong.pValue).toBeLessThan(P_THRESHOLD);
  });

  it("a nucleus ignored, or applied where none was asked", () => {
    const core = requireCore();
    const full = core.sampleForTest(fifty, sampling(), none, SMALL_DRAWS);
    const nucleus = referenceProbabilities(fifty, sampling({ topP: 0.9 }), none);
    expect(goodnessOfFit(full, nucleus).impossible.length).toBeGreaterThan(0);
    const cut = core.sampleForTest(fifty, sampling({ topP: 0.9 }), none, SMALL_DRAWS);
    expect(goodnessOfFit(cut, referenceProbabilities(fifty, sampling(), none)).pValue).toBeLessThan(
      P_THRESHOLD,
    );
  });

  it("penalties ignored", () => {
    const penalised = sampling({ presencePenalty: 0.5, frequencyPenalty: 0.2 });
    const draws = requireCore().sampleForTest(fifty, penalised, generated, SMALL_DRAWS);
    expect(goodnessOfFit(draws, referenceProbabilities(fifty, sampling(), none)).pValue).toBeLessThan(
      P_THRESHOLD,
    );
  });
});

describe("native sampler seeds", () => {
  it("gives identical draws for the same seed", () => {
    const core = requireCore();
    for (const [logits, topP] of [
      [fifty, 1],
      [fifty, 0.5],
      [large, 0.9],
    ] as const) {
      const first = core.sampleForTest(logits, sampling({ topP, seed: 99 }), none, 60);
      const second = core.sampleForTest(logits, sampling({ topP, seed: 99 }), none, 60);
      expect(second).toEqual(first);
      expect(new Set(first).size, "the stream advances between draws").toBeGreaterThan(1);
    }
  });

  it("draws each token from one stream: fewer draws are a prefix of more", () => {
    const core = requireCore();
    const long = core.sampleForTest(fifty, sampling({ seed: 5 }), none, 100);
    expect(core.sampleForTest(fifty, sampling({ seed: 5 }), none, 10)).toEqual(long.subarray(0, 10));
  });

  it("gives different draws for different seeds", () => {
    // 100 draws over 50 tokens of similar probability: equal streams would be a ~1e-100 coincidence.
    const core = requireCore();
    const draws = [0, 1, 2, 2 ** 31, 2 ** 40].map((seed) =>
      core.sampleForTest(fifty, sampling({ seed }), none, 100),
    );
    for (let i = 0; i < draws.length; i++) {
      for (let j = i + 1; j < draws.length; j++) expect(draws[j]).not.toEqual(draws[i]);
    }
  });

  it("draws a fresh seed when none is given", () => {
    const core = requireCore();
    const unseeded = sampling({ seed: undefined });
    const first = core.sampleForTest(fifty, unseeded, none, 100);
    const second = core.sampleForTest(fifty, unseeded, none, 100);
    expect(second).not.toEqual(first);
  });
});

describe("native sampler at temperature 0", () => {
  const greedy = (
    logits: Float32Array,
    overrides: Partial<NativeSampling> = {},
    previous = none,
  ): Int32Array =>
    requireCore().sampleForTest(logits, sampling({ temperature: 0, ...overrides }), previous, 50);
  const always = (token: number): Int32Array => new Int32Array(50).fill(token);

  it("always draws the argmax, whatever top_p", () => {
    expect(greedy(large)).toEqual(always(200_000));
    expect(greedy(large, { topP: 0.1, seed: undefined })).toEqual(always(200_000));
    expect(greedy(fifty)).toEqual(always(38));
  });

  it("breaks ties with the lowest id", () => {
    expect(greedy(eight)).toEqual(always(2)); // ids 2 and 4 tie at 2.5
    expect(greedy(new Float32Array(16))).toEqual(always(0));
    const lateTie = large.slice();
    lateTie[GPT_OSS_VOCAB - 1] = 16; // ties with 200,000, which has the lower id
    lateTie[GPT_OSS_VOCAB - 2] = 16;
    expect(greedy(lateTie)).toEqual(always(200_000));
  });

  it("follows logit_bias, bans and penalties", () => {
    expect(greedy(large, bias([[17, 1.5]]))).toEqual(always(17)); // 15 + 1.5 > 16
    expect(greedy(large, bias([[17, 1]]))).toEqual(always(17)); // a tie at 16: 17 is the lower id
    expect(greedy(large, bias([[200_000, -100]]))).toEqual(always(17));
    expect(greedy(large, bias([[200_000, -0.5]]))).toEqual(always(200_000));
    expect(greedy(large, { presencePenalty: 2 }, Int32Array.from([200_000]))).toEqual(always(17));
    expect(greedy(large, { frequencyPenalty: 0.6 }, Int32Array.from([200_000, 200_000]))).toEqual(always(17));
    expect(greedy(eight, bias([[2, -100]]))).toEqual(always(4));
  });
});
