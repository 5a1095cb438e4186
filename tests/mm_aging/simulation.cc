#include "simulation.h"

#include <array>
#include <cstring>
#include <memory>
#include <random>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "aging_map.h"
#include "mm/access_set.h"
#include "mm/aging_walk.h"
#include "mm/dirty_log.h"
#include "mm/entry_check.h"
#include "mm/ept_walk.h"
#include "mm/fault_resolver.h"
#include "mm/fault_walk.h"
#include "mm/live_split.h"
#include "mm/test_caps.h"  // tests/mm
#include "mm/tlb_model.h"  // tests/mm
#include "mm/working_set.h"
#include "reference_model.h"

namespace mm::test {
namespace {

using arch::EptEntry;
using arch::EptLevel;
using arch::Gpa;
using arch::Hpa;
using mm_test::HostTableMemory;

constexpr uint64_t k4K = arch::kPageSize4K;

// Every table reachable from the root, compared with a shadow copy after each operation:
// entries that changed must pass check_entry (unchanged ones passed when they were last
// written).
class TableAudit {
 public:
  std::string audit(HostTableMemory& memory, Hpa root, const arch::EptCapabilities& caps) {
    std::string error;
    visit(memory, root, EptLevel::kPml4e, caps, error);
    return error;
  }

 private:
  struct Shadow {
    std::array<uint64_t, mm::kTableEntries> raw{};
    std::vector<unsigned> links;
  };

  void visit(HostTableMemory& memory, Hpa table, EptLevel level, const arch::EptCapabilities& caps,
             std::string& error) {
    const uint64_t* t = memory.table(table);
    auto [it, fresh] = shadow_.try_emplace(table.value());
    Shadow& s = it->second;
    if (fresh || std::memcmp(s.raw.data(), t, mm::kTableBytes) != 0) {
      s.links.clear();
      for (unsigned i = 0; i < mm::kTableEntries; ++i) {
        const EptEntry e(t[i]);
        if ((fresh || s.raw[i] != t[i]) && error.empty()) {
          const auto r = mm::check_entry(e, level, caps);
          if (!r.ok()) {
            std::ostringstream out;
            out << "entry " << std::hex << e.raw() << " at level " << static_cast<int>(level)
                << " index " << std::dec << i << " fails " << r.name();
            error = out.str();
          }
        }
        if (mm::is_hw_present(e) && !e.is_leaf(level))
          s.links.push_back(i);
        s.raw[i] = t[i];
      }
    }
    for (unsigned i : s.links)
      visit(memory, EptEntry(s.raw[i]).address(), mm::child_level(level), caps, error);
  }

  std::unordered_map<uint64_t, Shadow> shadow_;
};

class Simulation {
 public:
  explicit Simulation(const SimulationConfig& c)
      : c_(c),
        rng_(c.seed),
        map_(build_aging_map(c.caps, c.ram_state)),
        tlb_(c.cpus, c.caps),
        model_(kRamFrames, {0, 512}, initially_present(c), initially_present(c) && !ad(c),
               c.start_cold ? mm::WorkingSet::kNeverSeen : 0),
        walk_(Gpa(kRamStart), Gpa(kRamEnd), mode_for(c.caps), c.caps),
        ages_(kRamFrames),
        ws_(Gpa(kRamStart), kRamFrames, ages_.data()),
        pending_(Log::bitmap_words(kRamFrames)),
        bits_(pending_.size()),
        log_(Gpa(kRamStart), kRamFrames, pending_.data(), mode_for(c.caps), c.caps),
        visits_(kRamFrames, 0) {
    policy_.split_large_for_write = c.split_large_for_write;
    ws_.reset(c.start_cold ? mm::WorkingSet::kNeverSeen : 0);
  }

  SimulationResult run() {
    if (c_.granularity == mm::TrackingGranularity::k4K)
      split_all();
    check_state("initial");
    for (r_.operations = 0; r_.operations < c_.operations && r_.mismatches == 0; ++r_.operations) {
      one_operation();
      check_state("after operation");
    }
    return r_;
  }

 private:
  using Log = mm::DirtyLog<HostTableMemory>;

  static bool ad(const SimulationConfig& c) { return c.caps.ad_enabled; }
  static bool initially_present(const SimulationConfig& c) {
    return !ad(c) && c.ram_state == mm::RamInitialState::kPresent;
  }

  void mismatch(const std::string& what) {
    if (r_.mismatches++ == 0) {
      std::ostringstream out;
      out << "op " << r_.operations << " (seed " << c_.seed << "): " << what;
      r_.first_mismatch = out.str();
    }
  }

  void flush(mm::FlushRequest f, unsigned source) {
    if (!f.needed())
      return;
    if (c_.drop & source) {
      ++r_.dropped_flushes;
      return;
    }
    ++r_.flushes;
    tlb_.apply(f);
  }

  uint64_t pick_frame() {
    // Half the accesses go to a few hot frames (inside both large leaves and the 4 KiB
    // tail), so passes see both accessed and idle leaves.
    static constexpr uint64_t kHot[] = {3, 4, 300, 600, 1000, 1030, 1031, 1087};
    if (rng_() % 2)
      return kHot[rng_() % std::size(kHot)];
    return rng_() % kRamFrames;
  }

  void one_operation() {
    const unsigned dice = static_cast<unsigned>(rng_() % 1000);
    if (dice < 700)
      access();
    else if (dice < 850)
      aging_step(1 + rng_() % 48);
    else if (dice < 870)
      aging_step(~uint64_t{0});
    else if (dice < 900)
      tlb_.apply(mm::FlushRequest::all_contexts());  // an INVEPT for some other reason
    else if (dice < 960)
      model_.logging() ? harvest() : start_logging();
    else if (dice < 965)
      stop_logging();
    else if (dice < 975)
      split_one();
    else
      access();
  }

  void access() {
    ++r_.accesses;
    const size_t cpu = rng_() % c_.cpus;
    const uint64_t frame = pick_frame();
    const unsigned kind = static_cast<unsigned>(rng_() % 10);
    const mm::AccessSet set(kind < 6, kind >= 6 && kind < 9, kind == 9);
    const Gpa gpa(kRamStart + frame * k4K);
    model_.touch(frame);
    for (int attempt = 0; attempt < 6; ++attempt) {
      const auto w = mm::walk(map_->memory, map_->map.root, gpa).value();
      uint64_t& slot = map_->memory.table(w.table)[w.index];
      if (tlb_.access(cpu, frame, slot, set) != TlbModel::Access::kViolation) {
        if (set.write())
          model_.wrote(frame);
        return;
      }
      ++r_.faults;
      const auto res =
          mm::resolve_fault_at(map_->memory, map_->map.root, gpa, set, c_.caps, policy_);
      if (!res.ok() || res.value().last.has(mm::FaultResolution::kViolation) ||
          res.value().fell_back) {
        mismatch("unresolvable fault: " +
                 std::string(res.ok() ? mm::violation_name(res.value().last.violation)
                                      : arch::error_name(res.error())));
        return;
      }
      tlb_.apply(mm::FaultResolution::flush());
      if (res.value().splits) {
        r_.splits += res.value().splits;
        model_.split(frame);
      }
      flush(res.value().flush, SimulationConfig::kDropSplit);
    }
    mismatch("access never completed");
  }

  void aging_step(uint64_t budget) {
    ++r_.steps;
    mm::AgingTotals totals;
    mm::AgingTotals reported;  // summed from the per-leaf reports
    const auto done =
        walk_.step(map_->memory, map_->map.root, budget, totals,
                   [&](Gpa base, uint64_t pages, bool accessed, bool dirty) {
                     const uint64_t first = (base.value() - kRamStart) / k4K;
                     const ReferenceModel::Leaf leaf = model_.leaf_of(first);
                     if (leaf.first != first || leaf.count != pages) {
                       mismatch("walk reported a leaf the model does not have at frame " +
                                std::to_string(first));
                       return;
                     }
                     const ReferenceModel::Aged expected = model_.age(leaf);
                     if (expected.accessed != accessed || expected.dirty != dirty) {
                       std::ostringstream out;
                       out << "leaf at frame " << first << " (" << pages
                           << " pages): walk says accessed " << accessed << " dirty " << dirty
                           << ", model " << expected.accessed << " " << expected.dirty;
                       mismatch(out.str());
                     }
                     for (uint64_t f = first; f < first + pages; ++f)
                       ++visits_[f];
                     reported.leaves += 1;
                     reported.tracked_pages += pages;
                     reported.accessed_pages += accessed ? pages : 0;
                     reported.dirty_pages += dirty ? pages : 0;
                     ws_.observe(base, pages, accessed);
                     log_.note(base, pages, dirty);
                   });
    if (!done.ok()) {
      mismatch("aging step failed");
      return;
    }
    if (totals.contended || totals.invalid)
      mismatch("aging step reported contention or an invalid entry");
    if (totals.leaves != reported.leaves || totals.tracked_pages != reported.tracked_pages ||
        totals.accessed_pages != reported.accessed_pages ||
        totals.dirty_pages != reported.dirty_pages)
      mismatch("aging totals disagree with the per-leaf reports");
    flush(totals.flush, SimulationConfig::kDropAging);
    check_accessed_bitmap();
    if (done.value()) {
      ++r_.passes;
      for (uint64_t f = 0; f < kRamFrames; ++f) {
        if (visits_[f] != 1) {
          mismatch("a pass visited frame " + std::to_string(f) + " " + std::to_string(visits_[f]) +
                   " times");
          break;
        }
      }
      visits_.assign(kRamFrames, 0);
    }
  }

  // WorkingSet's range query against the model: accessed by the last pass = idle 0.
  void check_accessed_bitmap() {
    std::array<uint64_t, (kRamFrames + 63) / 64> bits{};
    const uint64_t first = rng_() % kRamFrames;
    const uint64_t count = 1 + rng_() % (kRamFrames - first);
    ws_.accessed_bitmap(Gpa(kRamStart + first * k4K), count, bits.data());
    for (uint64_t i = 0; i < count; ++i) {
      if (((bits[i / 64] >> (i % 64)) & 1) != (model_.idle(first + i) == 0)) {
        mismatch("accessed bitmap disagrees at frame " + std::to_string(first + i));
        return;
      }
    }
  }

  void start_logging() {
    const auto r = log_.start(map_->memory, map_->map.root, c_.granularity);
    if (!r.ok()) {
      mismatch("dirty log start failed");
      return;
    }
    if (c_.granularity == mm::TrackingGranularity::k4K)
      model_split_all();
    model_.start_logging();
    flush(r.value().flush, SimulationConfig::kDropLogStart);
  }

  void stop_logging() {
    log_.stop();
    model_.stop_logging();
  }

  void harvest() {
    ++r_.harvests;
    const auto r = log_.harvest(map_->memory, map_->map.root, bits_.data());
    if (!r.ok()) {
      mismatch("harvest failed");
      return;
    }
    flush(r.value().flush, SimulationConfig::kDropHarvest);
    const std::vector<bool> expected = model_.harvest();
    for (uint64_t f = 0; f < kRamFrames; ++f) {
      const bool got = (bits_[f / 64] >> (f % 64)) & 1;
      if (got != expected[f]) {
        mismatch("harvest: frame " + std::to_string(f) + (got ? " reported" : " missing"));
        return;
      }
    }
  }

  void split_one() {
    const uint64_t frame = (rng_() % 2) * ReferenceModel::kLargeFrames;
    if (!model_.is_large(frame))
      return;
    const auto w = mm::walk(map_->memory, map_->map.root, Gpa(kRamStart + frame * k4K)).value();
    const auto split = mm::split_live_leaf(
        map_->memory, mm::LiveEntry(map_->memory.table(w.table)[w.index]), w.level, c_.caps);
    if (!split.ok() || split.value().kind != mm::SplitReport::Kind::kSplit) {
      mismatch("explicit split failed");
      return;
    }
    ++r_.splits;
    model_.split(frame);
    flush(split.value().flush, SimulationConfig::kDropSplit);
  }

  void split_all() {
    const auto r =
        mm::split_range_to_4k(map_->memory, map_->map.root, Gpa(kRamStart), Gpa(kRamEnd), c_.caps);
    if (!r.ok()) {
      mismatch("split_range_to_4k failed");
      return;
    }
    r_.splits += r.value().splits;
    model_split_all();
    flush(r.value().flush, SimulationConfig::kDropSplit);
  }

  void model_split_all() {
    model_.split(0);
    model_.split(ReferenceModel::kLargeFrames);
  }

  void check_state(const char* when) {
    const std::string bad = audit_.audit(map_->memory, map_->map.root, c_.caps);
    if (!bad.empty())
      mismatch(std::string(when) + ": " + bad);
    for (uint64_t f = 0; f < kRamFrames; ++f) {
      if (ages_[f] != model_.idle(f)) {
        mismatch(std::string(when) + ": idle age of frame " + std::to_string(f) + " is " +
                 std::to_string(ages_[f]) + ", model " + std::to_string(model_.idle(f)));
        return;
      }
    }
  }

  SimulationConfig c_;
  std::mt19937_64 rng_;
  std::unique_ptr<AgingMap> map_;
  TlbModel tlb_;
  ReferenceModel model_;
  mm::AgingWalk<HostTableMemory> walk_;
  std::vector<uint8_t> ages_;
  mm::WorkingSet ws_;
  std::vector<uint64_t> pending_;
  std::vector<uint64_t> bits_;
  Log log_;
  mm::ResolverPolicy policy_;
  std::vector<unsigned> visits_;
  TableAudit audit_;
  SimulationResult r_;
};

}  // namespace

SimulationResult run_simulation(const SimulationConfig& config) { return Simulation(config).run(); }

}  // namespace mm::test
