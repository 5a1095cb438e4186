// The reference model of mm, part 3: what every 4 KiB frame's accessed, dirty and idle state
// must be after any sequence of guest accesses, aging steps, splits, dirty-log starts and
// harvests. Deliberately simple and independent of mm/: plain per-frame flags, no EPT entry,
// no transform, no flush (a test that drops a flush makes mm/ disagree with it).
//
// The rules, per frame:
//  - an access marks it accessed; a completed write marks it written since the last pass and
//    since the last harvest;
//  - a leaf (as currently mapped: a large leaf, or a 4 KiB page) is reported accessed
//    (dirty) by a pass when any of its frames is; the pass then clears accessed and
//    written-since-pass on all of them and ages their idle counts (0 if accessed, else + 1,
//    saturating at 255);
//  - a split copies the large leaf's state to every child (each child frame gets the OR of
//    the leaf's frames);
//  - dirty logging: start clears both written flags; a harvest reports every frame of every
//    leaf with a frame written since the last harvest, then clears both written flags (the
//    harvest and the pass take the same bit, so a pass reports writes since the later of the
//    previous pass and the previous harvest).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mm::test {

class ReferenceModel {
 public:
  static constexpr uint64_t kLargeFrames = 512;

  // `frames` frames; the ones in `large_blocks` (first frame of each 512-frame leaf) start
  // mapped by large leaves. `present` / `written`: the initial flags of every frame.
  ReferenceModel(uint64_t frames, const std::vector<uint64_t>& large_blocks, bool present,
                 bool written, uint8_t idle)
      : frames_(frames),
        large_(frames, false),
        accessed_(frames, present),
        written_pass_(frames, written),
        written_harvest_(frames, false),
        idle_(frames, idle) {
    for (uint64_t first : large_blocks)
      large_[first] = true;
  }

  struct Leaf {
    uint64_t first = 0;
    uint64_t count = 1;
  };

  // The leaf frame `f` is in now.
  Leaf leaf_of(uint64_t f) const {
    const uint64_t block = f - f % kLargeFrames;
    if (block < frames_ && large_[block])
      return {block, kLargeFrames};
    return {f, 1};
  }
  bool is_large(uint64_t f) const { return leaf_of(f).count > 1; }

  void touch(uint64_t f) { accessed_[f] = true; }
  void wrote(uint64_t f) {
    written_pass_[f] = true;
    written_harvest_[f] = true;
  }

  void split(uint64_t f) {
    const Leaf l = leaf_of(f);
    if (l.count == 1)
      return;
    spread(accessed_, l);
    spread(written_pass_, l);
    spread(written_harvest_, l);
    large_[l.first] = false;
  }

  struct Aged {
    bool accessed = false;
    bool dirty = false;
  };

  // A pass visits the leaf [first, first + count): the report it must make.
  Aged age(Leaf l) {
    Aged a{any(accessed_, l), any(written_pass_, l)};
    for (uint64_t f = l.first; f < l.first + l.count; ++f) {
      accessed_[f] = false;
      written_pass_[f] = false;
      idle_[f] = a.accessed ? 0 : static_cast<uint8_t>(idle_[f] == 255 ? 255 : idle_[f] + 1);
    }
    return a;
  }

  void start_logging() {
    logging_ = true;
    clear_written();
  }
  void stop_logging() { logging_ = false; }
  bool logging() const { return logging_; }

  std::vector<bool> harvest() {
    std::vector<bool> dirty(frames_, false);
    for (uint64_t f = 0; f < frames_;) {
      const Leaf l = leaf_of(f);
      const bool d = any(written_harvest_, l);
      for (uint64_t i = l.first; i < l.first + l.count; ++i)
        dirty[i] = d;
      f = l.first + l.count;
    }
    clear_written();
    return dirty;
  }

  uint8_t idle(uint64_t f) const { return idle_[f]; }
  uint64_t frames() const { return frames_; }

 private:
  static bool any(const std::vector<bool>& v, Leaf l) {
    for (uint64_t f = l.first; f < l.first + l.count; ++f)
      if (v[f])
        return true;
    return false;
  }
  static void spread(std::vector<bool>& v, Leaf l) {
    const bool value = any(v, l);
    for (uint64_t f = l.first; f < l.first + l.count; ++f)
      v[f] = value;
  }
  void clear_written() {
    written_pass_.assign(frames_, false);
    written_harvest_.assign(frames_, false);
  }

  uint64_t frames_;
  std::vector<bool> large_;  // indexed by the first frame of a 512-frame block
  std::vector<bool> accessed_;
  std::vector<bool> written_pass_;
  std::vector<bool> written_harvest_;
  std::vector<uint8_t> idle_;
  bool logging_ = false;
};

}  // namespace mm::test
