// Greedy-by-size, best-fit offset assignment for buffers with known lifetimes. The algorithm and
// why it is near-optimal are explained at the top of include/slimrt/memory_plan.h.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "slimrt/memory_plan.h"

namespace slimrt {
namespace {

bool is_power_of_two(int64_t a) { return a > 0 && (a & (a - 1)) == 0; }

// Rounds up to a multiple of the power of two `align`; false on overflow.
bool round_up(int64_t v, int64_t align, int64_t* out) {
  int64_t bumped = 0;
  if (__builtin_add_overflow(v, align - 1, &bumped)) return false;
  *out = bumped & ~(align - 1);
  return true;
}

// Buffers joined by honoured in-place requests: placed as one.
struct Group {
  int64_t bytes = 0;  // rounded size
  int64_t align = 1;
  int32_t first = 0;
  int32_t last = 0;
  int64_t offset = 0;
  int32_t index = 0;  // lowest buffer index in it, for deterministic tie-breaking
};

// Picks the offset of `g` given the placed groups that coexist with it, sorted by offset.
int64_t choose_offset(const Group& g, const std::vector<const Group*>& live, Placement placement) {
  int64_t cursor = 0;  // lowest byte not covered by the placed groups seen so far
  int64_t best_offset = -1;
  int64_t best_hole = std::numeric_limits<int64_t>::max();
  for (const Group* h : live) {
    if (h->offset > cursor) {
      int64_t candidate = 0;
      // Overflow cannot happen: offsets stay below the checked sum of sizes.
      round_up(cursor, g.align, &candidate);
      if (candidate + g.bytes <= h->offset) {
        const int64_t hole = h->offset - cursor;
        if (placement == Placement::kFirstFit) return candidate;
        if (hole < best_hole) {
          best_hole = hole;
          best_offset = candidate;
        }
      }
    }
    cursor = std::max(cursor, h->offset + h->bytes);
  }
  if (best_offset >= 0) return best_offset;
  int64_t top = 0;
  round_up(cursor, g.align, &top);
  return top;
}

enum class Order {
  kSize,     // largest first
  kBreadth,  // groups touching the busiest ops first (the op's total live bytes), then by size
  kArea,     // size * lifetime length
  kLength,   // longest lifetime first
  kTime,     // by first use: what an allocator running the ops in order would see
  kJittered, // by size times a random factor near 1 (refinement rounds)
};
constexpr Order kOrders[] = {Order::kSize, Order::kBreadth, Order::kArea, Order::kLength,
                             Order::kTime};

// Fills `breadth`: for each group, the largest total live bytes at any op of its lifetime.
std::vector<int64_t> group_breadth(const std::vector<Group>& groups) {
  std::vector<int32_t> times;
  for (const Group& g : groups) {
    times.push_back(g.first);
    times.push_back(g.last);
  }
  std::sort(times.begin(), times.end());
  times.erase(std::unique(times.begin(), times.end()), times.end());
  auto slot = [&](int32_t t) {
    return static_cast<size_t>(std::lower_bound(times.begin(), times.end(), t) - times.begin());
  };
  // Loads are only needed at lifetime endpoints: the load is maximal at some group's first use.
  std::vector<int64_t> load(times.size() + 1, 0);
  for (const Group& g : groups) {
    load[slot(g.first)] += g.bytes;
    load[slot(g.last) + 1] -= g.bytes;
  }
  for (size_t t = 1; t < load.size(); ++t) load[t] += load[t - 1];
  // Range maxima from a sparse table: O(T log T) to build, O(1) per group (scanning each
  // lifetime was O(n^2) when many groups live long).
  std::vector<std::vector<int64_t>> table = {load};
  for (size_t w = 1; 2 * w <= load.size(); w *= 2) {
    const std::vector<int64_t>& prev = table.back();
    std::vector<int64_t> next(prev.size() - w);
    for (size_t t = 0; t < next.size(); ++t) next[t] = std::max(prev[t], prev[t + w]);
    table.push_back(std::move(next));
  }
  std::vector<int64_t> breadth(groups.size(), 0);
  for (size_t i = 0; i < groups.size(); ++i) {
    const size_t lo = slot(groups[i].first), hi = slot(groups[i].last) + 1;  // [lo, hi)
    const size_t level = static_cast<size_t>(std::bit_width(hi - lo) - 1);
    breadth[i] = std::max(table[level][lo], table[level][hi - (size_t{1} << level)]);
  }
  return breadth;
}

// The placed groups indexed by lifetime, so that a group finds the placed groups it coexists
// with in O(log T + k) (k of them) instead of scanning every placed group: O(n^2) per greedy
// pass on a long graph. A placed group h intersects [f, l] iff it contains f (a stab of the
// segment tree, whose canonical nodes store each group's lifetime) or it starts in (f, l] (the
// nodes covering (f, l] list the groups starting inside them). Reused across passes.
class LiveIndex {
 public:
  explicit LiveIndex(int32_t horizon) {
    while (size_ < static_cast<size_t>(horizon) + 1) size_ *= 2;
    covers_.resize(2 * size_);
    starts_.resize(2 * size_);
  }

  void clear() {
    for (auto& c : covers_) c.clear();
    for (auto& s : starts_) s.clear();
  }

  void insert(const Group* g) {
    for (size_t lo = static_cast<size_t>(g->first) + size_, hi = static_cast<size_t>(g->last) + 1 + size_; lo < hi;
         lo /= 2, hi /= 2) {
      if (lo & 1) covers_[lo++].push_back(g);
      if (hi & 1) covers_[--hi].push_back(g);
    }
    for (size_t i = static_cast<size_t>(g->first) + size_; i >= 1; i /= 2) starts_[i].push_back(g);
  }

  // Appends the placed groups whose lifetimes intersect [first, last] to `out`.
  void intersecting(int32_t first, int32_t last, std::vector<const Group*>* out) const {
    for (size_t i = static_cast<size_t>(first) + size_; i >= 1; i /= 2) {
      out->insert(out->end(), covers_[i].begin(), covers_[i].end());
    }
    for (size_t lo = static_cast<size_t>(first) + 1 + size_, hi = static_cast<size_t>(last) + 1 + size_; lo < hi;
         lo /= 2, hi /= 2) {
      if (lo & 1) {
        out->insert(out->end(), starts_[lo].begin(), starts_[lo].end());
        ++lo;
      }
      if (hi & 1) {
        --hi;
        out->insert(out->end(), starts_[hi].begin(), starts_[hi].end());
      }
    }
  }

 private:
  size_t size_ = 1;
  std::vector<std::vector<const Group*>> covers_;
  std::vector<std::vector<const Group*>> starts_;
};

// splitmix64: a tiny deterministic generator, so plans do not depend on the standard library.
uint64_t next_random(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Sizes scaled by random factors in [1/kJitter, kJitter]: the size order with nearby sizes
// shuffled, which is where greedy-by-size makes its mistakes.
std::vector<int64_t> jittered_sizes(const std::vector<Group>& groups, uint64_t seed) {
  constexpr double kJitter = 1.5;
  std::vector<int64_t> key(groups.size());
  for (size_t i = 0; i < groups.size(); ++i) {
    const double u = static_cast<double>(next_random(seed) >> 11) * 0x1.0p-53;  // [0, 1)
    const double scaled = static_cast<double>(groups[i].bytes) * std::pow(kJitter, 2.0 * u - 1.0);
    key[i] = scaled >= 0x1.0p62 ? (int64_t{1} << 62) : static_cast<int64_t>(scaled);
  }
  return key;
}

// Places every group of non-zero size in the order of decreasing `key` (the ordering's
// criterion; ties by size, then first use); returns the arena size.
int64_t place_groups(std::vector<Group>& groups, LiveIndex& index, Order order_kind, Placement placement,
                     uint64_t seed = 0) {
  std::vector<int64_t> key(groups.size(), 0);
  if (order_kind == Order::kBreadth) key = group_breadth(groups);
  if (order_kind == Order::kJittered) key = jittered_sizes(groups, seed);
  for (size_t i = 0; i < groups.size(); ++i) {
    const Group& g = groups[i];
    const int64_t length = static_cast<int64_t>(g.last) - g.first + 1;
    if (order_kind == Order::kArea && __builtin_mul_overflow(g.bytes, length, &key[i])) {
      key[i] = std::numeric_limits<int64_t>::max();  // saturates: only the order matters
    }
    if (order_kind == Order::kLength) key[i] = length;
    if (order_kind == Order::kTime) key[i] = -static_cast<int64_t>(g.first);
  }
  std::vector<size_t> order;
  for (size_t i = 0; i < groups.size(); ++i) {
    if (groups[i].bytes > 0) order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const Group& ga = groups[a];
    const Group& gb = groups[b];
    if (key[a] != key[b]) return key[a] > key[b];
    if (ga.bytes != gb.bytes) return ga.bytes > gb.bytes;
    if (ga.first != gb.first) return ga.first < gb.first;
    return ga.index < gb.index;
  });
  int64_t arena = 0;
  index.clear();
  std::vector<const Group*> live;
  for (size_t i : order) {
    Group& g = groups[i];
    live.clear();
    index.intersecting(g.first, g.last, &live);
    // Groups equal in offset and size are interchangeable here: the order among them does not
    // change the offset chosen.
    std::sort(live.begin(), live.end(), [](const Group* a, const Group* b) {
      return a->offset != b->offset ? a->offset < b->offset : a->bytes < b->bytes;
    });
    g.offset = choose_offset(g, live, placement);
    arena = std::max(arena, g.offset + g.bytes);
    index.insert(&g);
  }
  return arena;
}

}  // namespace

double MemoryPlan::ratio() const {
  if (lower_bound_bytes == 0) {
    return arena_bytes == 0 ? 1.0 : std::numeric_limits<double>::infinity();
  }
  return static_cast<double>(arena_bytes) / static_cast<double>(lower_bound_bytes);
}

int32_t MemoryPlanner::add_buffer(const BufferRequest& request) {
  requests_.push_back(request);
  return static_cast<int32_t>(requests_.size() - 1);
}

void MemoryPlanner::request_in_place(int32_t buffer, int32_t source) {
  if (buffer >= 0 && static_cast<size_t>(buffer) < requests_.size()) {
    requests_[buffer].in_place_of = source;
  }
}

Result<MemoryPlan> MemoryPlanner::plan() const {
  if (!is_power_of_two(options_.alignment)) {
    return invalid_argument(
        fmt::format("memory planner: alignment {} is not a power of two", options_.alignment));
  }
  const int32_t n = static_cast<int32_t>(requests_.size());
  MemoryPlan plan;
  plan.offsets.assign(n, 0);
  plan.in_place_of.assign(n, -1);

  // 1. Validate and round every buffer.
  std::vector<int64_t> align(n), rounded(n);
  for (int32_t i = 0; i < n; ++i) {
    const BufferRequest& r = requests_[i];
    const std::string what = fmt::format("memory planner: buffer {}", i);
    if (r.size < 0) return invalid_argument(fmt::format("{}: negative size {}", what, r.size));
    if (r.first_use < 0 || r.last_use < r.first_use) {
      return invalid_argument(fmt::format("{}: lifetime [{}, {}] is not a valid op range", what,
                                          r.first_use, r.last_use));
    }
    align[i] = r.alignment == 0 ? options_.alignment : r.alignment;
    if (!is_power_of_two(align[i])) {
      return invalid_argument(
          fmt::format("{}: alignment {} is not a power of two", what, r.alignment));
    }
    if (!round_up(r.size, align[i], &rounded[i]) ||
        __builtin_add_overflow(plan.sum_bytes, rounded[i], &plan.sum_bytes)) {
      return invalid_argument(fmt::format("{}: sizes overflow int64 ({} bytes)", what, r.size));
    }
  }

  // 2. Honour the safe in-place requests, in buffer order (first come, first served).
  std::vector<bool> taken(n, false);
  for (int32_t x = 0; x < n; ++x) {
    const int32_t y = requests_[x].in_place_of;
    if (y < 0) continue;
    const bool safe = y < n && y != x && requests_[x].size > 0 &&
                      requests_[x].size == requests_[y].size &&
                      requests_[y].last_use == requests_[x].first_use &&
                      requests_[y].first_use < requests_[x].first_use && !taken[y];
    if (!safe) {
      ++plan.refused_in_place;
      continue;
    }
    taken[y] = true;
    plan.in_place_of[x] = y;
  }

  // Chains X -> Y -> Z share one group, named by the chain's oldest buffer. first_use strictly
  // decreases along a chain, so walking it terminates. Each buffer's root is remembered, so a
  // walk stops at the first buffer already resolved: O(n) in all (walking every chain to its root
  // from every member was O(n^2) for a long in-place chain, a Relu chain for one).
  std::vector<int32_t> root_of(n, -1);
  std::vector<int32_t> path;
  for (int32_t i = 0; i < n; ++i) {
    int32_t r = i;
    path.clear();
    while (root_of[r] < 0 && plan.in_place_of[r] >= 0) {
      path.push_back(r);
      r = plan.in_place_of[r];
    }
    if (root_of[r] >= 0) r = root_of[r];
    root_of[r] = r;
    for (int32_t p : path) root_of[p] = r;
  }
  std::vector<int32_t> group_of(n, -1);
  std::vector<Group> groups;
  for (int32_t i = 0; i < n; ++i) {
    const int32_t root = root_of[i];
    if (group_of[root] < 0) {
      group_of[root] = static_cast<int32_t>(groups.size());
      Group g;
      g.first = requests_[root].first_use;
      g.last = requests_[root].last_use;
      g.index = root;
      groups.push_back(g);
    }
    group_of[i] = group_of[root];
    Group& g = groups[group_of[i]];
    g.bytes = std::max(g.bytes, rounded[i]);
    g.align = std::max(g.align, align[i]);
    g.first = std::min(g.first, requests_[i].first_use);
    g.last = std::max(g.last, requests_[i].last_use);
    g.index = std::min(g.index, i);
  }
  // A group's size may have grown with a member's larger alignment: keep it a multiple.
  for (Group& g : groups) round_up(g.bytes, g.align, &g.bytes);

  // 3. Lower bound: sweep the lifetimes, summing the bytes live at each op.
  std::vector<std::pair<int64_t, int64_t>> events;  // (op, +bytes at first / -bytes after last)
  events.reserve(groups.size() * 2);
  for (const Group& g : groups) {
    if (g.bytes == 0) continue;
    events.emplace_back(g.first, g.bytes);
    events.emplace_back(static_cast<int64_t>(g.last) + 1, -g.bytes);
  }
  std::sort(events.begin(), events.end());
  int64_t live = 0;
  for (size_t e = 0; e < events.size();) {
    const int64_t op = events[e].first;
    for (; e < events.size() && events[e].first == op; ++e) live += events[e].second;
    if (live > plan.lower_bound_bytes) {
      plan.lower_bound_bytes = live;
      plan.lower_bound_op = static_cast<int32_t>(op);
    }
  }

  // 4. Place the groups under each ordering; keep the smallest arena (the first ordering, by
  // size, wins ties). Stops as soon as an ordering reaches the lower bound: it is optimal.
  std::vector<int64_t> best_offsets;
  plan.arena_bytes = -1;
  int32_t horizon = 0;
  for (const Group& g : groups) horizon = std::max(horizon, g.last);
  LiveIndex index(horizon);
  const Placement placements[] = {options_.placement, options_.placement == Placement::kBestFit
                                                            ? Placement::kFirstFit
                                                            : Placement::kBestFit};
  bool done = false;
  for (Placement placement : placements) {
    for (Order order : kOrders) {
      const int64_t arena = place_groups(groups, index, order, placement);
      if (plan.arena_bytes < 0 || arena < plan.arena_bytes) {
        plan.arena_bytes = arena;
        best_offsets.clear();
        for (const Group& g : groups) best_offsets.push_back(g.offset);
      }
      done = plan.arena_bytes == plan.lower_bound_bytes || !options_.try_orders;
      if (done) break;
    }
    if (done) break;
  }
  // Refinement: greedy by size with nearby sizes randomly reordered, a fixed number of rounds
  // with fixed seeds (the plan is deterministic), until one reaches the lower bound.
  // Each round is a whole greedy pass, so the rounds are budgeted: all of them up to 16,384
  // groups, fewer beyond (at least 8), and planning stays near-linear in the graph's size.
  constexpr int64_t kRoundBudget = int64_t{64} * 16384;
  const int64_t rounds = std::min<int64_t>(
      options_.refine_rounds, std::max<int64_t>(8, kRoundBudget / std::max<int64_t>(1, static_cast<int64_t>(groups.size()))));
  for (int32_t round = 0; !done && round < rounds; ++round) {
    const Placement placement = placements[round % 2];
    const int64_t arena = place_groups(groups, index, Order::kJittered, placement,
                                       static_cast<uint64_t>(round) + 1);
    if (arena < plan.arena_bytes) {
      plan.arena_bytes = arena;
      for (size_t g = 0; g < groups.size(); ++g) best_offsets[g] = groups[g].offset;
    }
    done = plan.arena_bytes == plan.lower_bound_bytes;
  }
  for (size_t g = 0; g < groups.size(); ++g) groups[g].offset = best_offsets[g];

  // 5. Every buffer takes its group's offset (zero-size buffers: 0).
  for (int32_t i = 0; i < n; ++i) {
    plan.offsets[i] = groups[group_of[i]].bytes == 0 ? 0 : groups[group_of[i]].offset;
  }
  return plan;
}

}  // namespace slimrt
