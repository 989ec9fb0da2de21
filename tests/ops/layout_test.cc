#include "ops/layout.h"

#include <numeric>
#include <random>

#include "tests/ops/test_util.h"

namespace facelib::ops {
namespace {

using facelib::testing::ForEachTarget;
using facelib::testing::RandomVector;

int64_t Numel(const std::vector<int64_t>& s) {
  return std::accumulate(s.begin(), s.end(), int64_t{1}, std::multiplies<int64_t>());
}

// Data movement must be exact; NaN-filled outputs also catch unwritten cells.
void ExpectExact(const char* op, const std::vector<float>& got, const std::vector<float>& ref) {
  for (float v : ref) ASSERT_FALSE(std::isnan(v)) << op << ": reference left a cell unwritten";
  EXPECT_SIMD_MATCHES_REF(op, got, ref, 1e-5);
  for (size_t i = 0; i < ref.size(); ++i) ASSERT_EQ(got[i], ref[i]) << op << " i=" << i;
}

// Random shape of the given rank: mostly small dims, some 1s, and sometimes a
// long last dim so that vector paths and tails are exercised.
std::vector<int64_t> RandomShape(std::mt19937& rng, int rank, int max_elems = 4000) {
  std::uniform_int_distribution<int> dim(1, 5), coin(0, 3);
  std::vector<int64_t> s(rank);
  for (auto& d : s) d = coin(rng) == 0 ? 1 : dim(rng);
  if (rank > 0 && coin(rng) == 0) s.back() = std::uniform_int_distribution<int>(6, 40)(rng);
  while (Numel(s) > max_elems) {
    for (auto& d : s) d = std::max<int64_t>(1, d / 2);
  }
  return s;
}

TEST(ConcatTest, SimdMatchesReference) {
  ForEachTarget([](const char*) {
    std::mt19937 rng(11);
    auto rnd = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    for (int it = 0; it < 60; ++it) {
      ConcatParams p;
      p.outer = rnd(1, 4);
      const int inner_choices[] = {1, 3, 5, 17, 33, 64};
      p.inner = inner_choices[rnd(0, 5)];
      const int num = rnd(1, 4);
      std::vector<std::vector<float>> in(num);
      std::vector<const float*> ptrs(num);
      for (int i = 0; i < num; ++i) {
        p.axis_sizes.push_back(rnd(i == 0 ? 1 : 0, 5));  // an empty input is allowed
        in[i] = RandomVector(p.outer * p.axis_sizes[i] * p.inner, it * 10 + i);
        ptrs[i] = in[i].data();
      }
      const int64_t total = std::accumulate(p.axis_sizes.begin(), p.axis_sizes.end(), int64_t{0});
      std::vector<float> ref(p.outer * total * p.inner, NAN), got(ref.size(), NAN);
      ConcatRef(p, ptrs.data(), ref.data());
      Concat(ExecContext{1 + it % 2}, p, ptrs.data(), got.data());
      ExpectExact("Concat", got, ref);
    }
    // Large enough to run in parallel.
    ConcatParams p;
    p.outer = 8;
    p.inner = 1000;
    p.axis_sizes = {3, 5};
    const auto a = RandomVector(8 * 3 * 1000, 1), b = RandomVector(8 * 5 * 1000, 2);
    const float* ptrs[] = {a.data(), b.data()};
    std::vector<float> ref(8 * 8 * 1000, NAN), got(ref.size(), NAN);
    ConcatRef(p, ptrs, ref.data());
    Concat(ExecContext{2}, p, ptrs, got.data());
    ExpectExact("Concat", got, ref);
    // Channel concats of many pixels: runs shorter than, equal to and longer
    // than a vector, and the 9 pieces of a YOLO head (runs of 1 and 2 floats).
    const std::vector<std::vector<int64_t>> pieces = {
        {16, 16}, {20, 33, 1}, {2, 2, 1, 2, 2, 2, 2, 2, 1}, {64, 64}, {5, 10, 1}};
    for (size_t k = 0; k < pieces.size(); ++k) {
      ConcatParams q;
      q.outer = 1200 + static_cast<int64_t>(k);
      q.inner = 1;
      q.axis_sizes = pieces[k];
      std::vector<std::vector<float>> in(q.axis_sizes.size());
      std::vector<const float*> in_ptrs;
      int64_t total = 0;
      for (size_t i = 0; i < in.size(); ++i) {
        in[i] = RandomVector(q.outer * q.axis_sizes[i], 100 + static_cast<uint32_t>(10 * k + i));
        in_ptrs.push_back(in[i].data());
        total += q.axis_sizes[i];
      }
      std::vector<float> want(q.outer * total, NAN), have(want.size(), NAN);
      ConcatRef(q, in_ptrs.data(), want.data());
      Concat(ExecContext{1 + static_cast<int>(k % 2)}, q, in_ptrs.data(), have.data());
      ExpectExact("Concat", have, want);
    }
  });
}

TEST(ConcatTest, KnownValues) {
  // [2, 1] ++ [2, 2] along axis 1.
  const std::vector<float> a = {1, 2}, b = {3, 4, 5, 6};
  const float* ptrs[] = {a.data(), b.data()};
  ConcatParams p;
  p.outer = 2;
  p.inner = 1;
  p.axis_sizes = {1, 2};
  std::vector<float> y(6);
  Concat(ExecContext{1}, p, ptrs, y.data());
  EXPECT_EQ(y, (std::vector<float>{1, 3, 4, 2, 5, 6}));
}

TEST(SliceTest, SimdMatchesReference) {
  ForEachTarget([](const char*) {
    std::mt19937 rng(22);
    auto rnd = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    for (int rank = 1; rank <= 6; ++rank) {
      for (int it = 0; it < 40; ++it) {
        SliceParams p;
        p.in_shape = RandomShape(rng, rank);
        for (int d = 0; d < rank; ++d) {
          const int64_t n = p.in_shape[d];
          int64_t b, st, out;
          switch (rnd(0, 3)) {
            case 0:  // the whole dim: lets the kernel merge dims
              b = 0, st = 1, out = n;
              break;
            case 1:  // reversed whole dim
              b = n - 1, st = -1, out = n;
              break;
            default: {
              const int steps[] = {-3, -2, -1, 1, 2, 3};
              st = steps[rnd(0, 5)];
              b = rnd(0, static_cast<int>(n - 1));
              const int64_t max_out = st > 0 ? (n - b + st - 1) / st : b / -st + 1;
              out = rnd(1, static_cast<int>(max_out));
            }
          }
          p.begin.push_back(b);
          p.step.push_back(st);
          p.out_shape.push_back(out);
        }
        const auto x = RandomVector(Numel(p.in_shape), rank * 100 + it);
        std::vector<float> ref(Numel(p.out_shape), NAN), got(ref.size(), NAN);
        SliceRef(p, x.data(), ref.data());
        Slice(ExecContext{1 + it % 2}, p, x.data(), got.data());
        ExpectExact("Slice", got, ref);
      }
    }
    // Large reversed slice in parallel: [64, 1000] -> rows 60..1 step -2, cols reversed.
    SliceParams p{{64, 1000}, {60, 999}, {-2, -1}, {30, 1000}};
    const auto x = RandomVector(64000, 3);
    std::vector<float> ref(30000, NAN), got(30000, NAN);
    SliceRef(p, x.data(), ref.data());
    Slice(ExecContext{2}, p, x.data(), got.data());
    ExpectExact("Slice", got, ref);
  });
}

TEST(SliceTest, KnownValues) {
  std::vector<float> x(10);
  std::iota(x.begin(), x.end(), 0.0f);
  std::vector<float> y(3);
  Slice(ExecContext{1}, SliceParams{{10}, {8}, {-3}, {3}}, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{8, 5, 2}));
  // 2x5, rows reversed, columns 1..3.
  std::vector<float> y2(6);
  Slice(ExecContext{1}, SliceParams{{2, 5}, {1, 1}, {-1, 1}, {2, 3}}, x.data(), y2.data());
  EXPECT_EQ(y2, (std::vector<float>{6, 7, 8, 1, 2, 3}));
  // Long reversed run (vector path).
  std::vector<float> x40(40), y40(40);
  std::iota(x40.begin(), x40.end(), 0.0f);
  Slice(ExecContext{1}, SliceParams{{40}, {39}, {-1}, {40}}, x40.data(), y40.data());
  for (int i = 0; i < 40; ++i) EXPECT_EQ(y40[i], 39 - i);
}

TEST(PadTest, SimdMatchesReference) {
  ForEachTarget([](const char*) {
    std::mt19937 rng(33);
    auto rnd = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    for (PadMode mode : {PadMode::kConstant, PadMode::kReflect, PadMode::kEdge}) {
      for (int rank = 1; rank <= 6; ++rank) {
        for (int it = 0; it < 15; ++it) {
          PadParams p;
          p.mode = mode;
          p.value = 0.5f;
          p.in_shape = RandomShape(rng, rank, 1500);
          for (int d = 0; d < rank; ++d) {
            // Unpadded dims on some axes, so that trailing dims form blocks.
            const bool padded = rnd(0, 2) != 0;
            p.pad_begin.push_back(padded ? rnd(0, 3) : 0);
            p.pad_end.push_back(padded ? rnd(0, 3) : 0);
          }
          std::vector<int64_t> out_shape(rank);
          for (int d = 0; d < rank; ++d) out_shape[d] = p.in_shape[d] + p.pad_begin[d] + p.pad_end[d];
          const auto x = RandomVector(Numel(p.in_shape), rank * 50 + it);
          std::vector<float> ref(Numel(out_shape), NAN), got(ref.size(), NAN);
          PadRef(p, x.data(), ref.data());
          Pad(ExecContext{1 + it % 2}, p, x.data(), got.data());
          ExpectExact("Pad", got, ref);
        }
      }
      // NHWC spatial padding of a larger tensor, in parallel.
      PadParams p{mode, -1.0f, {2, 30, 30, 19}, {0, 2, 1, 0}, {0, 1, 2, 0}};
      const auto x = RandomVector(2 * 30 * 30 * 19, 4);
      std::vector<float> ref(2 * 33 * 33 * 19, NAN), got(ref.size(), NAN);
      PadRef(p, x.data(), ref.data());
      Pad(ExecContext{2}, p, x.data(), got.data());
      ExpectExact("Pad", got, ref);
    }
  });
}

TEST(PadTest, KnownValues) {
  const std::vector<float> x = {1, 2, 3};
  std::vector<float> y(7);
  Pad(ExecContext{1}, PadParams{PadMode::kReflect, 0, {3}, {2}, {2}}, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{3, 2, 1, 2, 3, 2, 1}));
  Pad(ExecContext{1}, PadParams{PadMode::kEdge, 0, {3}, {2}, {2}}, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{1, 1, 1, 2, 3, 3, 3}));
  Pad(ExecContext{1}, PadParams{PadMode::kConstant, 9, {3}, {1}, {3}}, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{9, 1, 2, 3, 9, 9, 9}));
  // Reflect beyond n - 1 keeps mirroring: [1,2] padded by 3 on the left.
  std::vector<float> y5(5);
  Pad(ExecContext{1}, PadParams{PadMode::kReflect, 0, {2}, {3}, {0}}, x.data(), y5.data());
  EXPECT_EQ(y5, (std::vector<float>{2, 1, 2, 1, 2}));
  // 2-D reflect of [[1,2],[3,4]] by one row on top and one column on the right.
  const std::vector<float> x2 = {1, 2, 3, 4};
  std::vector<float> y9(9);
  Pad(ExecContext{1}, PadParams{PadMode::kReflect, 0, {2, 2}, {1, 0}, {0, 1}}, x2.data(), y9.data());
  EXPECT_EQ(y9, (std::vector<float>{3, 4, 3, 1, 2, 1, 3, 4, 3}));
}

TEST(TransposeTest, SimdMatchesReference) {
  ForEachTarget([](const char*) {
    std::mt19937 rng(44);
    for (int rank = 1; rank <= 6; ++rank) {
      for (int it = 0; it < 30; ++it) {
        TransposeParams p;
        p.in_shape = RandomShape(rng, rank);
        p.perm.resize(rank);
        std::iota(p.perm.begin(), p.perm.end(), 0);
        std::shuffle(p.perm.begin(), p.perm.end(), rng);
        const auto x = RandomVector(Numel(p.in_shape), rank * 70 + it);
        std::vector<float> ref(x.size(), NAN), got(x.size(), NAN);
        TransposeRef(p, x.data(), ref.data());
        Transpose(ExecContext{1 + it % 2}, p, x.data(), got.data());
        ExpectExact("Transpose", got, ref);
      }
    }
    // NHWC <-> NCHW with odd sizes (tile tails) and sizes large enough for threads.
    const std::vector<TransposeParams> cases = {
        {{2, 13, 11, 19}, {0, 3, 1, 2}}, {{2, 19, 13, 11}, {0, 2, 3, 1}},
        {{1, 56, 56, 64}, {0, 3, 1, 2}}, {{1, 3, 112, 112}, {0, 2, 3, 1}},
        {{70, 45}, {1, 0}},              {{3, 4, 5, 6, 7, 8}, {5, 4, 3, 2, 1, 0}},
        {{4, 1, 33, 1, 9}, {4, 1, 2, 3, 0}}};
    for (int threads : {1, 2}) {
      for (const auto& p : cases) {
        const auto x = RandomVector(Numel(p.in_shape), 5);
        std::vector<float> ref(x.size(), NAN), got(x.size(), NAN);
        TransposeRef(p, x.data(), ref.data());
        Transpose(ExecContext{threads}, p, x.data(), got.data());
        ExpectExact("Transpose", got, ref);
      }
    }
  });
}

TEST(TransposeTest, KnownValues) {
  ForEachTarget([](const char*) {
    const std::vector<float> x = {1, 2, 3, 4, 5, 6};  // 2x3
    std::vector<float> y(6);
    Transpose(ExecContext{1}, TransposeParams{{2, 3}, {1, 0}}, x.data(), y.data());
    EXPECT_EQ(y, (std::vector<float>{1, 4, 2, 5, 3, 6}));
    // 8x8 goes through the 4x4 register tiles: y[j][i] = x[i][j] = 8i + j.
    std::vector<float> x64(64), y64(64);
    std::iota(x64.begin(), x64.end(), 0.0f);
    Transpose(ExecContext{1}, TransposeParams{{8, 8}, {1, 0}}, x64.data(), y64.data());
    for (int i = 0; i < 8; ++i) {
      for (int j = 0; j < 8; ++j) ASSERT_EQ(y64[j * 8 + i], 8 * i + j);
    }
    // NHWC [1, 1, 2, 3] -> NCHW [1, 3, 1, 2].
    Transpose(ExecContext{1}, TransposeParams{{1, 1, 2, 3}, {0, 3, 1, 2}}, x.data(), y.data());
    EXPECT_EQ(y, (std::vector<float>{1, 4, 2, 5, 3, 6}));
  });
}

TEST(GatherTest, SimdMatchesReference) {
  ForEachTarget([](const char*) {
    std::mt19937 rng(55);
    auto rnd = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    const int inner_choices[] = {1, 3, 5, 17, 33, 512};
    for (int it = 0; it < 60; ++it) {
      GatherParams p;
      p.outer = rnd(1, 3);
      p.axis_size = rnd(1, 6);
      p.inner = inner_choices[it % 6];
      const int k = rnd(0, 7);
      for (int i = 0; i < k; ++i) p.indices.push_back(rnd(0, static_cast<int>(p.axis_size - 1)));
      const auto x = RandomVector(p.outer * p.axis_size * p.inner, it);
      std::vector<float> ref(p.outer * k * p.inner, NAN), got(ref.size(), NAN);
      GatherRef(p, x.data(), ref.data());
      Gather(ExecContext{1 + it % 2}, p, x.data(), got.data());
      ExpectExact("Gather", got, ref);
    }
  });
}

TEST(GatherTest, KnownValues) {
  // [2, 3] gathered along axis 1 with indices {2, 0, 2}.
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};
  std::vector<float> y(6);
  Gather(ExecContext{1}, GatherParams{2, 3, 1, {2, 0, 2}}, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{3, 1, 3, 6, 4, 6}));
}

}  // namespace
}  // namespace facelib::ops
