// Patch 0007's CUDA kernel (mul_mat_id_mxfp4_grouped) run on the CPU: its own source, cut from the
// patched mmid-grouped.cu into kernel.inc by test/mmid-grouped-kernel.test.ts, compiled as C++ with the
// CUDA keywords defined away, each warp run by 32 threads. Test doubles, named as such: the tensor-core
// instruction (mmid_grouped_mma, mma.m16n8k32 .s8 from PTX's fragment layout: A row g in a0/a2 and row
// g+8 in a1/a3, k 4t..4t+3 in a0/a1 and 16+4t.. in a2/a3; B token g, k the same in b0/b1; D rows g and
// g+8, tokens 2t and 2t+1) and ggml's device helpers it calls (the nibble table, the E8M0 scale). The
// outputs are compared with a direct sum over the dequantised weights and activations, for row counts
// that leave a partial tile, tokens past a pass of 8 or 16, activations broadcast over the slots or one
// a slot, and every (rows, tokens) tile shape the kernel has. Not covered: the real mma's inline asm
// (replaced here) and the host code that launches the kernel.
// Usage: mmid-grouped-emu  (exit 0 when every output matches)
#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>
#include <vector>
using std::min;
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define WARP_SIZE 32
#define AMPERE_MMA_AVAILABLE
struct dim3i { int x, y; };
thread_local dim3i threadIdx, blockIdx;
struct half2f { float lo, hi; };
static float __low2float(half2f h) { return h.lo; }
struct block_mxfp4 { uint8_t e; uint8_t qs[16]; };
struct block_q8_1 { half2f ds; int8_t qs[32]; };
static const int8_t kvalues_mxfp4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
struct int2 { int x, y; };
static int get_int_b1(const void * x, const int & i32) {
  const uint8_t * x8 = (const uint8_t *) x;
  return x8[4*i32] | x8[4*i32 + 1] << 8 | x8[4*i32 + 2] << 16 | x8[4*i32 + 3] << 24;
}
static int2 get_int_from_table_16(const int & q4, const int8_t * table) {
  int8_t lo[4], hi[4];
  for (int i = 0; i < 4; ++i) { int b = (q4 >> (8*i)) & 0xFF; lo[i] = table[b & 15]; hi[i] = table[b >> 4]; }
  int2 r; memcpy(&r.x, lo, 4); memcpy(&r.y, hi, 4); return r;
}
static float ggml_cuda_e8m0_to_fp32(uint8_t x) {
  uint32_t bits = x == 0 ? 0x00400000 : (uint32_t) x << 23; float f; memcpy(&f, &bits, 4); return f;
}
static constexpr int mmid_grouped_nwarps = 4;
// the warp's shared registers for the emulated mma
static int regA[32][4], regB[32][2];
static std::barrier<> * warp_barrier;
static int8_t byte_of(int v, int i) { return (int8_t) ((v >> (8*i)) & 0xFF); }
static void mmid_grouped_mma(int (&c)[4], int a0, int a1, int a2, int a3, int b0, int b1) {
  const int lane = threadIdx.x;
  regA[lane][0] = a0; regA[lane][1] = a1; regA[lane][2] = a2; regA[lane][3] = a3;
  regB[lane][0] = b0; regB[lane][1] = b1;
  warp_barrier->arrive_and_wait();
  auto A = [](int r, int k) { int kk = k % 16; return byte_of(regA[(r % 8)*4 + kk/4][(k < 16 ? 0 : 2) + r/8], kk % 4); };
  auto B = [](int k, int n) { int kk = k % 16; return byte_of(regB[n*4 + kk/4][k < 16 ? 0 : 1], kk % 4); };
  const int g = lane / 4, t = lane % 4;
  const int rows[4] = {g, g, g + 8, g + 8}, cols[4] = {2*t, 2*t + 1, 2*t, 2*t + 1};
  for (int i = 0; i < 4; ++i) { int s = 0; for (int k = 0; k < 32; ++k) s += A(rows[i], k)*B(k, cols[i]); c[i] = s; }
  warp_barrier->arrive_and_wait();
}
#include "kernel.inc"

static int run(int E, int U, int T, bool bcast, int rows, int K, int mt, int nt, unsigned seed) {
  std::mt19937 rng(seed);
  const int nb = K/32, ne11 = bcast ? 1 : U;
  std::vector<block_mxfp4> W((size_t) E*rows*nb);
  for (auto & b : W) { b.e = 120 + rng() % 10; for (auto & q : b.qs) q = rng() & 0xFF; }
  std::vector<float> X((size_t) T*ne11*K);
  for (auto & v : X) v = std::uniform_real_distribution<float>(-1, 1)(rng);
  // q8_1 activations, [K, ne11, T]
  std::vector<block_q8_1> Y((size_t) T*ne11*nb);
  for (size_t c = 0; c < (size_t) T*ne11; ++c) for (int b = 0; b < nb; ++b) {
    const float * x = &X[c*K + 32*b]; float amax = 0; for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax/127; block_q8_1 & q = Y[c*nb + b]; q.ds = {d, 0};
    for (int i = 0; i < 32; ++i) q.qs[i] = (int8_t) std::lround(d ? x[i]/d : 0);
  }
  // ids: each token uses U distinct experts
  std::vector<int> ids((size_t) T*U);
  for (int t = 0; t < T; ++t) { std::vector<int> p(E); for (int e = 0; e < E; ++e) p[e] = e; std::shuffle(p.begin(), p.end(), rng); for (int s = 0; s < U; ++s) ids[t*U + s] = p[s]; }
  // the pairs sorted by expert, as mm_ids_helper sorts them
  std::vector<int> src1, dstc, bounds(E + 1);
  for (int e = 0; e < E; ++e) { bounds[e] = (int) src1.size();
    for (int t = 0; t < T; ++t) for (int s = 0; s < U; ++s) if (ids[t*U + s] == e) { src1.push_back(t*ne11 + s % ne11); dstc.push_back(t*U + s); } }
  bounds[E] = (int) src1.size();
  std::vector<float> D((size_t) T*U*rows, NAN);
  const int rpb = 16*mt*mmid_grouped_nwarps;
  for (int bx = 0; bx < (rows + rpb - 1)/rpb; ++bx) for (int by = 0; by < E; ++by) for (int w = 0; w < mmid_grouped_nwarps; ++w) {
    std::barrier<> bar(32); warp_barrier = &bar;
    std::vector<std::thread> th;
    for (int lane = 0; lane < 32; ++lane) th.emplace_back([&, lane] {
      threadIdx = {lane, w}; blockIdx = {bx, by};
      auto k = mt == 1 ? (nt == 1 ? mul_mat_id_mxfp4_grouped<1, 1> : mul_mat_id_mxfp4_grouped<1, 2>)
                       : (nt == 1 ? mul_mat_id_mxfp4_grouped<2, 1> : mul_mat_id_mxfp4_grouped<2, 2>);
      k((const char *) W.data(), Y.data(), src1.data(), dstc.data(), bounds.data(), D.data(), nb, rows,
        (int64_t) nb*sizeof(block_mxfp4), (int64_t) rows*nb*sizeof(block_mxfp4), nb, rows);
    });
    for (auto & x : th) x.join();
  }
  int bad = 0; double maxerr = 0;
  for (int t = 0; t < T; ++t) for (int s = 0; s < U; ++s) for (int r = 0; r < rows; ++r) {
    const int e = ids[t*U + s]; double ref = 0;
    for (int b = 0; b < nb; ++b) { const block_mxfp4 & wb = W[((size_t) e*rows + r)*nb + b]; const block_q8_1 & yb = Y[((size_t) t*ne11 + s % ne11)*nb + b];
      for (int i = 0; i < 32; ++i) { int nib = i < 16 ? wb.qs[i] & 15 : wb.qs[i - 16] >> 4;
        ref += (double) kvalues_mxfp4[nib]*0.5*ggml_cuda_e8m0_to_fp32(wb.e)*yb.qs[i]*yb.ds.lo; } }
    const double got = D[((size_t) t*U + s)*rows + r], err = std::fabs(got - ref)/(std::fabs(ref) + 0.05*K/32);
    maxerr = std::max(maxerr, std::isnan(got) ? 1e9 : err); if (!(err < 1e-4)) ++bad;
  }
  printf("E=%d U=%d T=%d bcast=%d rows=%d K=%d mtiles=%d ntiles=%d: %d bad of %d, max rel err %.2g\n", E, U, T, bcast, rows, K, mt, nt, bad, T*U*rows, maxerr);
  return bad;
}
int main() {
  int bad = 0;
  for (int mt : {1, 2}) for (int nt : {1, 2}) {
    bad += run(4, 4, 37, false, 40, 256, mt, nt, 1);
    bad += run(4, 4, 37, true, 40, 256, mt, nt, 2);
    bad += run(8, 2, 13, true, 100, 96, mt, nt, 3);
    bad += run(32, 4, 24, false, 64, 128, mt, nt, 4);
  }
  printf(bad ? "FAILED\n" : "all match\n");
  return bad != 0;
}
