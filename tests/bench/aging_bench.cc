// Aging-pass cost per entry over 1M and 16M 4 KiB leaves, in both tracking modes, with 0%,
// 10% and 100% of the entries accessed since the previous pass, beside two baselines over
// the same number of words in the same binary: a plain streaming read-modify-write (the
// memory limit) and one compare-and-swap per word (the atomic limit). The run ends with a
// table of ratios (docs/performance.md has the numbers and the command). aging_pass_ws adds
// the WorkingSet bookkeeping hv/ does for every report.
//
//   build/host/tests/bench/mm_aging_bench [--benchmark_filter=/1M]
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "arch/ept_capabilities.h"
#include "arch/ept_entry.h"
#include "arch/result.h"
#include "mm/access_tracking.h"
#include "mm/aging_walk.h"
#include "mm/ept_sw_bits.h"
#include "mm/table_memory.h"
#include "mm/working_set.h"

namespace {

using arch::EptEntry;
using arch::Gpa;
using arch::Hpa;

// Tables in one page-aligned block, handed out in order, so the page tables of a build are
// contiguous (as a pool's would be after boot).
class FlatTables {
 public:
  static constexpr uint64_t kBase = 0x1'0000'0000;

  explicit FlatTables(uint64_t tables)
      : count_(tables),
        storage_(static_cast<uint64_t*>(std::aligned_alloc(4096, tables * mm::kTableBytes))) {}

  uint64_t* table(Hpa hpa) { return storage_.get() + (hpa.value() - kBase) / sizeof(uint64_t); }

  arch::Result<Hpa> allocate_table() {
    if (next_ == count_)
      return arch::Error::kNoMemory;
    const Hpa hpa(kBase + next_++ * mm::kTableBytes);
    uint64_t* t = table(hpa);
    for (uint64_t i = 0; i < mm::kTableEntries; ++i)
      t[i] = 0;
    return hpa;
  }

 private:
  struct Free {
    void operator()(uint64_t* p) const { std::free(p); }
  };
  uint64_t count_;
  uint64_t next_ = 0;
  std::unique_ptr<uint64_t, Free> storage_;
};

arch::EptCapabilities caps_for(mm::TrackingMode mode) {
  arch::EptCapabilities c = arch::EptCapabilities::from_msr(arch::kBochsHaswellEptVpidCap, 39);
  c.ad_enabled = mode == mm::TrackingMode::kAccessedBit;
  return c;
}

// An EPT mapping [0, entries * 4 KiB) with 4 KiB RAM leaves (entries: a multiple of 512,
// at most 512 * 512 * 512).
struct Ept {
  Ept(uint64_t entries, mm::TrackingMode m)
      : n(entries), mode(m), caps(caps_for(m)), memory(2 + (n / 512 + 511) / 512 + n / 512) {
    root = memory.allocate_table().value();
    const Hpa pdpt = memory.allocate_table().value();
    memory.table(root)[0] = link(pdpt);
    const uint64_t pts = n / 512;
    for (uint64_t pd = 0; pd < (pts + 511) / 512; ++pd)
      memory.table(pdpt)[pd] = link(memory.allocate_table().value());
    for (uint64_t pt = 0; pt < pts; ++pt) {
      const Hpa table = memory.allocate_table().value();
      const Hpa pd = EptEntry(memory.table(pdpt)[pt / 512]).address();
      memory.table(pd)[pt % 512] = link(table);
      first_pt = pt == 0 ? table : first_pt;
      for (uint64_t i = 0; i < 512; ++i) {
        EptEntry e;
        e.set_rwx(0b111).set_memory_type(arch::MemoryType::kWriteBack);
        e.set_address(Hpa((pt * 512 + i) * arch::kPageSize4K));
        memory.table(table)[i] = e.raw() | mm::EptSwBits::kPolicyWritable;
      }
    }
  }

  static uint64_t link(Hpa table) {
    EptEntry e;
    e.set_rwx(0b111).set_address(table);
    return e.raw();
  }

  // The page tables are contiguous: entry i of the range.
  uint64_t& leaf(uint64_t i) { return memory.table(first_pt)[i]; }

  // What the guest would have done since the previous pass: every `stride`-th entry used.
  void access_every(uint64_t stride) {
    for (uint64_t i = 0; i < n; i += stride) {
      const EptEntry e(leaf(i));
      leaf(i) = mode == mm::TrackingMode::kAccessedBit ? EptEntry(e).set_accessed(true).raw()
                                                       : mm::restore_access(e).raw();
    }
  }

  // One whole pass; with `ws`, every report also goes to the working set (as hv/ does).
  mm::AgingTotals pass(mm::WorkingSet* ws = nullptr) {
    mm::AgingWalk<FlatTables> walk(Gpa(0), Gpa(n * arch::kPageSize4K), mode, caps);
    mm::AgingTotals totals;
    uint64_t reported = 0;
    const auto done = walk.step(memory, root, ~uint64_t{0}, totals,
                                [&](Gpa base, uint64_t pages, bool accessed, bool) {
                                  reported += accessed;
                                  if (ws)
                                    ws->observe(base, pages, accessed);
                                });
    if (!done.ok() || !done.value() || totals.leaves != n)
      std::abort();
    benchmark::DoNotOptimize(reported);
    return totals;
  }

  uint64_t n;
  mm::TrackingMode mode;
  arch::EptCapabilities caps;
  FlatTables memory;
  Hpa root;
  Hpa first_pt;
};

// Built once per (entries, mode) and reused by every run of that configuration.
Ept& ept(uint64_t entries, mm::TrackingMode mode) {
  static std::map<std::pair<uint64_t, int>, std::unique_ptr<Ept>> cache;
  auto& slot = cache[{entries, static_cast<int>(mode)}];
  if (!slot)
    slot = std::make_unique<Ept>(entries, mode);
  return *slot;
}

void per_entry(benchmark::State& state, uint64_t n) {
  state.counters["entries"] = static_cast<double>(n);
  state.counters["per_entry"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate |
                                                     benchmark::Counter::kInvert);
}

void aging_pass(benchmark::State& state, uint64_t n, mm::TrackingMode mode, unsigned percent,
                bool working_set) {
  Ept& e = ept(n, mode);
  std::vector<uint8_t> ages(working_set ? n : 0);
  mm::WorkingSet ws(Gpa(0), ages.size(), ages.data());
  mm::WorkingSet* feed = working_set ? &ws : nullptr;
  e.pass(feed);  // steady state: everything aged
  const uint64_t stride = percent == 0 ? 0 : 100 / percent;
  for (auto _ : state) {
    if (stride) {
      state.PauseTiming();
      e.access_every(stride);
      state.ResumeTiming();
    }
    const mm::AgingTotals t = e.pass(feed);
    if (t.accessed_pages != (stride ? (n + stride - 1) / stride : 0))
      state.SkipWithError("wrong accessed count");
  }
  per_entry(state, n);
}

std::vector<uint64_t>& words(uint64_t n) {
  static std::map<uint64_t, std::vector<uint64_t>> cache;
  auto& w = cache[n];
  w.assign(n, 0x37 | mm::EptSwBits::kPolicyWritable);
  return w;
}

void stream_rmw(benchmark::State& state, uint64_t n) {
  std::vector<uint64_t>& w = words(n);
  for (auto _ : state) {
    uint64_t* p = w.data();
    for (uint64_t i = 0; i < n; ++i)
      p[i] ^= uint64_t{1} << arch::EptEntry::kAccessedBit;
    benchmark::ClobberMemory();
  }
  per_entry(state, n);
}

void cas_per_word(benchmark::State& state, uint64_t n) {
  std::vector<uint64_t>& w = words(n);
  for (auto _ : state) {
    for (uint64_t i = 0; i < n; ++i) {
      std::atomic_ref<uint64_t> ref(w[i]);
      uint64_t expected = ref.load(std::memory_order_relaxed);
      benchmark::DoNotOptimize(ref.compare_exchange_strong(
          expected, expected ^ (uint64_t{1} << arch::EptEntry::kAccessedBit)));
    }
  }
  per_entry(state, n);
}

// Console output as usual, then ns per entry and the ratios to the baselines of the same size.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      // One figure per benchmark: the median when repeated, else the single run.
      const bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
      if (r.error_occurred || !(median || r.run_type == Run::RT_Iteration) ||
          !r.counters.count("entries"))
        continue;
      const std::string name = r.run_name.str();
      // CPU time: the machines are shared, and a descheduled thread is not the walk's cost.
      const double seconds = r.GetAdjustedCPUTime() / benchmark::GetTimeUnitMultiplier(r.time_unit);
      if (!ns_per_entry_.count(name))
        order_.push_back(name);
      if (median || !medians_.count(name))
        ns_per_entry_[name] = seconds * 1e9 / r.counters.at("entries").value;
      if (median)
        medians_[name] = true;
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    std::printf("\n%-36s %10s %14s %14s\n", "aging pass", "ns/entry", "x stream RMW", "x CAS/word");
    for (const std::string& name : order_) {
      if (name.rfind("aging_pass", 0) != 0)
        continue;
      // aging_pass[_ws]/<mode>/<size>/<percent>
      const size_t mode_end = name.find('/', name.find('/') + 1);
      const std::string size = name.substr(mode_end + 1, name.rfind('/') - mode_end - 1);
      const double rmw = lookup("stream_rmw/" + size);
      const double cas = lookup("cas_per_word/" + size);
      std::printf("%-36s %10.2f %14.2f %14.2f\n", name.c_str(), ns_per_entry_[name],
                  rmw > 0 ? ns_per_entry_[name] / rmw : 0.0,
                  cas > 0 ? ns_per_entry_[name] / cas : 0.0);
    }
    for (const char* base : {"stream_rmw/", "cas_per_word/"})
      for (const char* size : {"1M", "16M"})
        if (lookup(std::string(base) + size) > 0)
          std::printf("%-36s %10.2f\n", (std::string(base) + size).c_str(),
                      lookup(std::string(base) + size));
  }

 private:
  double lookup(const std::string& name) const {
    const auto it = ns_per_entry_.find(name);
    return it == ns_per_entry_.end() ? 0.0 : it->second;
  }
  std::map<std::string, double> ns_per_entry_;
  std::map<std::string, bool> medians_;
  std::vector<std::string> order_;
};

void register_all() {
  const std::pair<const char*, uint64_t> sizes[] = {{"1M", uint64_t{1} << 20},
                                                    {"16M", uint64_t{1} << 24}};
  for (const auto& [label, n] : sizes) {
    const std::string size = label;
    benchmark::RegisterBenchmark(("stream_rmw/" + size).c_str(), stream_rmw, n)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("cas_per_word/" + size).c_str(), cas_per_word, n)
        ->Unit(benchmark::kMillisecond);
    for (mm::TrackingMode mode : {mm::TrackingMode::kAccessedBit, mm::TrackingMode::kRwxStash}) {
      for (unsigned percent : {0u, 10u, 100u}) {
        const std::string name = std::string("aging_pass/") + mm::tracking_mode_name(mode) + "/" +
                                 size + "/" + std::to_string(percent) + "pct";
        benchmark::RegisterBenchmark(name.c_str(), aging_pass, n, mode, percent, false)
            ->Unit(benchmark::kMillisecond);
      }
      // The same pass feeding a WorkingSet, at the 10% point.
      const std::string ws_name =
          std::string("aging_pass_ws/") + mm::tracking_mode_name(mode) + "/" + size + "/10pct";
      benchmark::RegisterBenchmark(ws_name.c_str(), aging_pass, n, mode, 10u, true)
          ->Unit(benchmark::kMillisecond);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv))
    return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
