// The native sampler alone, as a decode step uses it: T threads draw one token from each of R rows
// of gpt-oss-sized logits (201,088 floats, a fresh row for every draw, as the GPU's logits arrive each
// step), temperature 1, top_p 1 (the full-distribution path). Prints the mean time per row and the
// aggregate rows a second. Built by bench/sampler/run.sh against this tree's sampler and another
// revision's, so that the two are compared on the same machine. Built with -DBLOCK_MASSES: the host's
// part of a draw from the GPU's block statistics (draw_from_block_masses: 128 masses and one block of
// the row read), the masses made beforehand as the GPU makes them (not timed).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "sampler.h"

int main(int argc, char **argv) {
  const int n_vocab = 201088;
  const int rows = argc > 1 ? std::atoi(argv[1]) : 256;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 1;
  const int rounds = argc > 3 ? std::atoi(argv[3]) : 5;
  // Logits like a model's: normal, sd 3, and a few banned tokens.
  std::vector<std::vector<float>> logits(static_cast<size_t>(rows), std::vector<float>(n_vocab));
  std::mt19937 gen(1);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (auto &row : logits) {
    for (auto &x : row) x = normal(gen);
    row[200002] = -INFINITY;
  }
  gptoss::SamplingConfig cfg;
#ifdef BLOCK_MASSES
  const int blocks = 128;
  std::vector<std::vector<float>> masses(static_cast<size_t>(rows), std::vector<float>(blocks));
  for (int r = 0; r < rows; ++r) {
    const auto &row = logits[static_cast<size_t>(r)];
    float top = -INFINITY;
    for (float x : row) top = x > top ? x : top;
    double total = 0.0;
    std::vector<double> sums(blocks, 0.0);
    for (int i = 0; i < n_vocab; ++i) sums[static_cast<size_t>(i / (n_vocab / blocks))] += std::exp(double(row[i] - top));
    for (double s : sums) total += s;
    for (int b = 0; b < blocks; ++b) masses[static_cast<size_t>(r)][static_cast<size_t>(b)] = float(sums[static_cast<size_t>(b)] / total);
  }
#endif
  std::vector<gptoss::SamplerScratch> scratch(static_cast<size_t>(threads));
  std::vector<std::mt19937_64> rng(static_cast<size_t>(threads));
  long checksum = 0;
  double best = 1e30;
  for (int round = 0; round < rounds; ++round) {
    std::vector<long> sums(static_cast<size_t>(threads), 0);
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        for (int r = t; r < rows; r += threads) {
#ifdef BLOCK_MASSES
          sums[static_cast<size_t>(t)] += gptoss::draw_from_block_masses(
              logits[static_cast<size_t>(r)].data(), n_vocab, 1.0f, masses[static_cast<size_t>(r)].data(), blocks,
              rng[static_cast<size_t>(t)]);
#else
          sums[static_cast<size_t>(t)] += gptoss::draw_token(logits[static_cast<size_t>(r)].data(), n_vocab, cfg,
                                                             rng[static_cast<size_t>(t)], scratch[static_cast<size_t>(t)]);
#endif
        }
      });
    }
    for (auto &th : pool) th.join();
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    best = ms < best ? ms : best;
    for (long s : sums) checksum += s;
  }
  std::printf("rows %d threads %d: best of %d rounds %.2f ms a step, %.3f ms a row per thread, %.0f rows/s (checksum %ld)\n",
              rows, threads, rounds, best, best * threads / rows, rows * 1000.0 / best, checksum);
  return 0;
}
