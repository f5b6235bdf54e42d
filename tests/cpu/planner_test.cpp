// Activation memory planner: cases whose optimal arena is known, in-place rules, alignment, a
// property test over random interval sets, and the plan of the real models.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "slimrt/builder/onnx_importer.h"
#include "slimrt/memory_plan.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

BufferRequest buf(int64_t size, int32_t first, int32_t last, int32_t in_place_of = -1) {
  BufferRequest r;
  r.size = size;
  r.first_use = first;
  r.last_use = last;
  r.in_place_of = in_place_of;
  return r;
}

PlannerOptions unaligned(Placement placement = Placement::kBestFit, bool try_orders = true) {
  PlannerOptions o;
  o.alignment = 1;
  o.placement = placement;
  o.try_orders = try_orders;
  return o;
}

MemoryPlan plan_of(const std::vector<BufferRequest>& rs, PlannerOptions options = unaligned()) {
  MemoryPlanner p(options);
  for (const BufferRequest& r : rs) p.add_buffer(r);
  Result<MemoryPlan> plan = p.plan();
  EXPECT_TRUE(plan.ok()) << plan.status().to_string();
  return plan.ok() ? std::move(plan).value() : MemoryPlan{};
}

// Buffers alive at a common op must not share bytes, unless one reuses the other in place.
void expect_valid(const std::vector<BufferRequest>& rs, const MemoryPlan& p, int64_t alignment) {
  ASSERT_EQ(p.offsets.size(), rs.size());
  auto same_group = [&](size_t a, size_t b) {
    auto root = [&](size_t i) {
      while (p.in_place_of[i] >= 0) i = static_cast<size_t>(p.in_place_of[i]);
      return i;
    };
    return root(a) == root(b);
  };
  for (size_t i = 0; i < rs.size(); ++i) {
    if (rs[i].size == 0) continue;
    const int64_t align = rs[i].alignment ? rs[i].alignment : alignment;
    EXPECT_EQ(p.offsets[i] % align, 0) << "buffer " << i;
    EXPECT_LE(p.offsets[i] + rs[i].size, p.arena_bytes) << "buffer " << i;
    for (size_t j = i + 1; j < rs.size(); ++j) {
      if (rs[j].size == 0 || same_group(i, j)) continue;
      const bool coexist = rs[i].first_use <= rs[j].last_use && rs[j].first_use <= rs[i].last_use;
      const bool disjoint = p.offsets[i] + rs[i].size <= p.offsets[j] ||
                            p.offsets[j] + rs[j].size <= p.offsets[i];
      EXPECT_TRUE(!coexist || disjoint) << "buffers " << i << " and " << j << " overlap";
    }
  }
  EXPECT_GE(p.arena_bytes, p.lower_bound_bytes);
}

TEST(PlannerTest, DisjointLifetimesShareOneBuffer) {
  std::vector<BufferRequest> rs;
  for (int i = 0; i < 10; ++i) rs.push_back(buf(1000, 2 * i, 2 * i + 1));
  MemoryPlan p = plan_of(rs);
  expect_valid(rs, p, 1);
  EXPECT_EQ(p.arena_bytes, 1000);
  EXPECT_EQ(p.lower_bound_bytes, 1000);
  EXPECT_EQ(p.sum_bytes, 10000);
  for (int64_t off : p.offsets) EXPECT_EQ(off, 0);
}

TEST(PlannerTest, AllOverlappingNeedTheSum) {
  std::vector<BufferRequest> rs = {buf(100, 0, 5), buf(300, 1, 4), buf(50, 2, 3), buf(7, 3, 3)};
  MemoryPlan p = plan_of(rs);
  expect_valid(rs, p, 1);
  EXPECT_EQ(p.arena_bytes, 457);
  EXPECT_EQ(p.lower_bound_bytes, 457);
  EXPECT_EQ(p.lower_bound_op, 3);
  EXPECT_EQ(p.sum_bytes, 457);
}

TEST(PlannerTest, InPlaceChainIsOneBuffer) {
  // conv -> relu -> add(., bias) -> sigmoid: every element-wise op writes over its dying input.
  std::vector<BufferRequest> rs = {buf(4096, 0, 1), buf(4096, 1, 2, 0), buf(4096, 2, 3, 1),
                                   buf(4096, 3, 4, 2)};
  MemoryPlan p = plan_of(rs);
  expect_valid(rs, p, 1);
  EXPECT_EQ(p.arena_bytes, 4096);
  EXPECT_EQ(p.lower_bound_bytes, 4096);
  EXPECT_EQ(p.refused_in_place, 0);
  EXPECT_EQ(p.in_place_of, (std::vector<int32_t>{-1, 0, 1, 2}));
  // Without the in-place requests two buffers ping-pong: input and output of each op coexist.
  for (BufferRequest& r : rs) r.in_place_of = -1;
  MemoryPlan q = plan_of(rs);
  EXPECT_EQ(q.arena_bytes, 8192);
  EXPECT_EQ(q.lower_bound_bytes, 8192);
}

TEST(PlannerTest, InPlaceWithSkipConnectionNeedsTwoBuffers) {
  // x = conv(0); y = relu(x) in place (1); z = add(y, x_skip)... x_skip lives on, so only relu's
  // own input chain is reused: a residual block takes two buffers.
  std::vector<BufferRequest> rs = {buf(512, 0, 3),      // block input, used again by the add
                                   buf(512, 1, 2),      // conv output
                                   buf(512, 2, 3, 1),   // relu in place of the conv output
                                   buf(512, 3, 4, 2)};  // add in place of the relu output
  MemoryPlan p = plan_of(rs);
  expect_valid(rs, p, 1);
  EXPECT_EQ(p.arena_bytes, 1024);
  EXPECT_EQ(p.lower_bound_bytes, 1024);
}

TEST(PlannerTest, InvalidInPlaceRequestsAreIgnored) {
  std::vector<BufferRequest> rs = {
      buf(256, 0, 3),       // 0: still read at op 3: cannot be overwritten at op 1
      buf(256, 1, 2, 0),    // 1: asks for 0, which does not die at op 1 -> refused
      buf(512, 2, 3, 1),    // 2: asks for 1 (dies at 2) but the sizes differ -> refused
      buf(256, 2, 4, 1),    // 3: asks for 1: valid, honoured
      buf(256, 2, 4, 1),    // 4: asks for 1 too, already taken by 3 -> refused
      buf(256, 4, 5, 5),    // 5: asks for itself -> refused
      buf(256, 5, 6, 99),   // 6: no such buffer -> refused
      buf(0, 6, 7),         // 7: zero size
      buf(0, 7, 8, 7),      // 8: zero size asks for 7 -> refused (nothing to share)
  };
  MemoryPlan p = plan_of(rs);
  expect_valid(rs, p, 1);
  EXPECT_EQ(p.in_place_of, (std::vector<int32_t>{-1, -1, -1, 1, -1, -1, -1, -1, -1}));
  EXPECT_EQ(p.refused_in_place, 6);
  EXPECT_EQ(p.offsets[3], p.offsets[1]);
}

TEST(PlannerTest, InPlaceNeverLoops) {
  // Two buffers born and dead at the same op asking for each other: neither is older, so both
  // requests are refused instead of forming a cycle.
  std::vector<BufferRequest> rs = {buf(64, 3, 3, 1), buf(64, 3, 3, 0)};
  MemoryPlan p = plan_of(rs);
  EXPECT_EQ(p.refused_in_place, 2);
  EXPECT_EQ(p.arena_bytes, 128);
}

TEST(PlannerTest, ZeroSizeBuffersTakeNoSpace) {
  std::vector<BufferRequest> rs = {buf(0, 0, 9), buf(100, 0, 1), buf(0, 1, 1), buf(100, 2, 3)};
  MemoryPlan p = plan_of(rs, PlannerOptions{});
  expect_valid(rs, p, kDefaultPlanAlignment);
  EXPECT_EQ(p.arena_bytes, 256);
  EXPECT_EQ(p.lower_bound_bytes, 256);
  EXPECT_EQ(p.offsets[0], 0);
  EXPECT_EQ(p.offsets[2], 0);
  MemoryPlan empty = plan_of({});
  EXPECT_EQ(empty.arena_bytes, 0);
  EXPECT_EQ(empty.lower_bound_bytes, 0);
  EXPECT_EQ(empty.ratio(), 1.0);
}

TEST(PlannerTest, AlignmentRoundsSizesAndOffsets) {
  std::vector<BufferRequest> rs = {buf(1, 0, 2), buf(257, 1, 2), buf(300, 2, 2)};
  MemoryPlan p = plan_of(rs, PlannerOptions{});  // 256-byte default
  expect_valid(rs, p, 256);
  EXPECT_EQ(p.sum_bytes, 256 + 512 + 512);
  EXPECT_EQ(p.lower_bound_bytes, 1280);
  EXPECT_EQ(p.arena_bytes, 1280);
  for (int64_t off : p.offsets) EXPECT_EQ(off % 256, 0);

  // A per-buffer alignment overrides the default.
  rs[2].alignment = 4096;
  PlannerOptions o;
  o.alignment = 64;
  MemoryPlan q = plan_of(rs, o);
  expect_valid(rs, q, 64);
  EXPECT_EQ(q.offsets[2] % 4096, 0);
  EXPECT_EQ(q.lower_bound_bytes, 64 + 320 + 4096);

  o.alignment = 48;
  MemoryPlanner bad(o);
  bad.add_buffer(buf(1, 0, 0));
  Result<MemoryPlan> r = bad.plan();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("alignment 48 is not a power of two"), std::string::npos);
}

TEST(PlannerTest, InvalidRequestsAreErrors) {
  for (const BufferRequest& r : {buf(-1, 0, 0), buf(1, 3, 2), buf(1, -1, 0)}) {
    MemoryPlanner p;
    p.add_buffer(buf(8, 0, 0));
    p.add_buffer(r);
    Result<MemoryPlan> plan = p.plan();
    ASSERT_FALSE(plan.ok());
    EXPECT_EQ(plan.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(plan.status().message().find("buffer 1"), std::string::npos)
        << plan.status().message();
  }
}

// An allocator that runs the ops in order, frees buffers after their last use and puts each new
// buffer in the lowest hole that fits: what a naive runtime does.
int64_t online_first_fit(const std::vector<BufferRequest>& rs) {
  std::vector<size_t> order(rs.size());
  for (size_t i = 0; i < rs.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return rs[a].first_use < rs[b].first_use; });
  std::vector<std::pair<int64_t, size_t>> live;  // (offset, buffer)
  int64_t arena = 0;
  for (size_t i : order) {
    std::erase_if(live, [&](const auto& e) { return rs[e.second].last_use < rs[i].first_use; });
    std::sort(live.begin(), live.end());
    int64_t cursor = 0;
    for (const auto& [off, j] : live) {
      if (off - cursor >= rs[i].size) break;
      cursor = std::max(cursor, off + rs[j].size);
    }
    live.emplace_back(cursor, i);
    arena = std::max(arena, cursor + rs[i].size);
  }
  return arena;
}

TEST(PlannerTest, FragmentationBeatsNaiveOnlineAllocator) {
  // A (1) and B (1) at op 0; A dies; C (2) at op 1 finds only A's 1-byte hole and goes on top of
  // B: 4 bytes. Placing C first lets A sit below it and B above: 3 = the lower bound.
  std::vector<BufferRequest> rs = {buf(1, 0, 0), buf(1, 0, 1), buf(2, 1, 1)};
  EXPECT_EQ(online_first_fit(rs), 4);
  MemoryPlan p = plan_of(rs);
  expect_valid(rs, p, 1);
  EXPECT_EQ(p.lower_bound_bytes, 3);
  EXPECT_EQ(p.arena_bytes, 3);

  // The same pattern repeated: a ladder of small long-lived buffers and growing short ones.
  std::vector<BufferRequest> ladder;
  for (int k = 0; k < 6; ++k) {
    ladder.push_back(buf(10, 2 * k, 2 * k));          // dies at once, leaves a 10-byte hole
    ladder.push_back(buf(10, 2 * k, 2 * k + 1));      // lives into the next op
    ladder.push_back(buf(20 + 10 * k, 2 * k + 1, 2 * k + 1));
  }
  MemoryPlan lp = plan_of(ladder);
  expect_valid(ladder, lp, 1);
  EXPECT_GT(online_first_fit(ladder), lp.arena_bytes);
  EXPECT_EQ(lp.arena_bytes, lp.lower_bound_bytes);
}

TEST(PlannerTest, BestFitKeepsLargeHolesForLaterBuffers) {
  // By size: P (8, op 1) at 0, Q (8, ops 1-3) at 8, R (7, ops 0-2) at 16, S (7, ops 1-3) at 23.
  // T (7, op 3) coexists with Q and S only: holes [0, 8) and [16, 23). First fit takes [0, 7)
  // and U (5, ops 2-3), which coexists with Q, R, S and T, no longer fits anywhere below 30: 35.
  // Best fit puts T in the exact 7-byte hole and U in [0, 5): 30 = the lower bound.
  std::vector<BufferRequest> rs = {
      buf(7, 1, 3),  // S
      buf(7, 3, 3),  // T
      buf(7, 0, 2),  // R
      buf(8, 1, 1),  // P
      buf(8, 1, 3),  // Q
      buf(5, 2, 3),  // U
  };
  MemoryPlan best = plan_of(rs, unaligned(Placement::kBestFit, false));
  MemoryPlan first = plan_of(rs, unaligned(Placement::kFirstFit, false));
  expect_valid(rs, best, 1);
  expect_valid(rs, first, 1);
  EXPECT_EQ(best.lower_bound_bytes, 30);
  EXPECT_EQ(best.arena_bytes, 30);
  EXPECT_EQ(best.offsets[1], 16);
  EXPECT_EQ(best.offsets[5], 0);
  EXPECT_EQ(first.arena_bytes, 35);
}

// Random lifetimes shaped like network activations: each op makes one buffer that is read by the
// next few ops, some skip connections live longer, sizes spread over four decades.
std::vector<BufferRequest> random_network(std::mt19937_64& rng, int n) {
  std::geometric_distribution<int> hop(0.5);
  std::uniform_real_distribution<double> log_size(std::log(1024.0), std::log(4.0 * (1 << 20)));
  std::vector<BufferRequest> rs;
  for (int i = 0; i < n; ++i) {
    int len = 1 + hop(rng);
    if (rng() % 10 == 0) len += static_cast<int>(rng() % 20);
    rs.push_back(buf(static_cast<int64_t>(std::exp(log_size(rng))), i, i + len));
  }
  return rs;
}

// Plans 240 random sets (n = 8 .. 300), checks every plan is valid, returns the worst ratio.
double worst_random_ratio(std::mt19937_64& rng, double* mean) {
  double worst = 1.0;
  double total = 0.0;
  int count = 0;
  for (int n : {8, 30, 100, 300}) {
    for (int trial = 0; trial < 60; ++trial) {
      std::vector<BufferRequest> rs = random_network(rng, n);
      MemoryPlan p = plan_of(rs, PlannerOptions{});
      expect_valid(rs, p, kDefaultPlanAlignment);
      worst = std::max(worst, p.ratio());
      total += p.ratio();
      ++count;
    }
  }
  *mean = total / count;
  return worst;
}

TEST(PlannerTest, RandomIntervalSetsStayNearTheLowerBound) {
  // The bound is asserted on fixed sets: greedy heuristics have no worst-case guarantee, and
  // across many seeds a rare set reaches ~1.17 (docs/memory-planning.md).
  std::mt19937_64 fixed(20261123);
  double mean = 0.0;
  const double worst = worst_random_ratio(fixed, &mean);
  std::printf("fixed random interval sets: 240 sets, worst planned/lower bound %.4f, mean %.4f\n",
              worst, mean);
  EXPECT_LE(worst, 1.10);

  // Fresh sets (seeded from the test name or SLIMRT_TEST_SEED): validity and the lower bound.
  std::mt19937_64 rng = testing::make_rng();
  const double fresh = worst_random_ratio(rng, &mean);
  std::printf("fresh random interval sets: worst %.4f, mean %.4f\n", fresh, mean);
  EXPECT_LE(fresh, 1.25);
}

// The best arena over every placement order, each buffer at the lowest offset it fits: any
// packing can be pushed down until each buffer rests on 0 or on a coexisting buffer, so this
// enumerates an optimal one. Small n only (n! orders).
int64_t exact_optimum(const std::vector<BufferRequest>& rs) {
  std::vector<size_t> perm(rs.size());
  for (size_t i = 0; i < perm.size(); ++i) perm[i] = i;
  int64_t best = std::numeric_limits<int64_t>::max();
  std::vector<int64_t> off(rs.size());
  do {
    int64_t arena = 0;
    for (size_t k = 0; k < perm.size() && arena < best; ++k) {
      const size_t i = perm[k];
      std::vector<std::pair<int64_t, int64_t>> below;
      for (size_t q = 0; q < k; ++q) {
        const size_t j = perm[q];
        if (rs[i].first_use <= rs[j].last_use && rs[j].first_use <= rs[i].last_use) {
          below.emplace_back(off[j], off[j] + rs[j].size);
        }
      }
      std::sort(below.begin(), below.end());
      int64_t cursor = 0;
      for (const auto& [lo, hi] : below) {
        if (lo >= cursor + rs[i].size) break;
        cursor = std::max(cursor, hi);
      }
      off[i] = cursor;
      arena = std::max(arena, cursor + rs[i].size);
    }
    best = std::min(best, arena);
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

TEST(PlannerTest, SmallRandomSetsMatchTheExactOptimum) {
  std::mt19937_64 rng = testing::make_rng();
  int optimal = 0;
  double worst = 1.0;
  constexpr int kSets = 60;
  for (int t = 0; t < kSets; ++t) {
    std::vector<BufferRequest> rs = random_network(rng, 7);
    const MemoryPlan p = plan_of(rs);  // alignment 1: sizes as drawn
    const int64_t opt = exact_optimum(rs);
    ASSERT_GE(p.arena_bytes, opt);
    ASSERT_GE(opt, p.lower_bound_bytes);
    optimal += p.arena_bytes == opt;
    worst = std::max(worst, static_cast<double>(p.arena_bytes) / static_cast<double>(opt));
  }
  std::printf("7-buffer sets: %d/%d optimal, worst planned/optimum %.4f\n", optimal, kSets, worst);
  EXPECT_LE(worst, 1.10);
  EXPECT_GE(optimal, kSets * 9 / 10);
}

TEST(PlannerTest, RandomInPlaceChainsStayValid) {
  std::mt19937_64 rng = testing::make_rng();
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<BufferRequest> rs = random_network(rng, 60);
    for (size_t i = 1; i < rs.size(); ++i) {
      const int32_t src = static_cast<int32_t>(rng() % i);
      if (rng() % 2 == 0) {
        rs[i].in_place_of = src;  // often invalid: the planner must sort it out
        if (rng() % 2 == 0) {
          rs[i].size = rs[src].size;
          rs[i].first_use = std::max(rs[i].first_use, rs[src].last_use);
          rs[i].last_use = std::max(rs[i].last_use, rs[i].first_use);
          rs[src].last_use = rs[i].first_use;
        }
      }
    }
    MemoryPlan p = plan_of(rs, PlannerOptions{});
    expect_valid(rs, p, kDefaultPlanAlignment);
    for (size_t i = 0; i < rs.size(); ++i) {
      if (p.in_place_of[i] >= 0) {
        EXPECT_EQ(p.offsets[i], p.offsets[p.in_place_of[i]]);
      }
    }
  }
}

}  // namespace
}  // namespace slimrt
