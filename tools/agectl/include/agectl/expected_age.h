// What agevisor must report as the idle age of each frame of agectl's buffer after a round.
// Pure, so host tests check the expectation itself.
//
// Round r writes the first round_bytes(r) bytes of a 2 MiB-aligned buffer, then an aging
// pass runs. A frame last touched in round L has idle age r - L after round r's pass.
// agevisor tracks at the granularity of its leaves (4 KiB, or 2 MiB where a RAM leaf is not
// split), and a 2 MiB leaf counts as accessed when any of its frames is. Frames whose
// expected age differs between the two granularities are not checked; every other frame
// must match exactly.
#pragma once

#include <cstdint>

#include "agectl/args.h"

namespace agectl {

inline constexpr uint64_t kFramesPer2M = 512;

// The last round in [1, round] that touched a frame range starting at byte `offset` of the
// buffer (a frame, or a whole 2 MiB leaf), or 0 if none did.
constexpr unsigned last_touch(const Args& args, unsigned round, uint64_t offset) {
  unsigned last = 0;
  for (unsigned r = 1; r <= round; ++r) {
    if (offset < round_bytes(args, r))
      last = r;
  }
  return last;
}

// The idle age frame `frame` must have after round `round`, or -1 when it depends on the
// tracking granularity.
constexpr int expected_age(const Args& args, unsigned round, uint64_t frame) {
  const unsigned at_4k = last_touch(args, round, frame * 4096);
  const uint64_t leaf_start = frame / kFramesPer2M * kFramesPer2M;
  // A 2 MiB leaf is accessed when its first frame is (rounds touch prefixes of the buffer).
  const unsigned at_2m = last_touch(args, round, leaf_start * 4096);
  if (at_4k != at_2m || at_4k == 0)
    return -1;
  return static_cast<int>(round - at_4k);
}

struct AgeCheck {
  uint64_t checked = 0;     // frames whose age does not depend on the granularity
  uint64_t idle = 0;        // ... of which expected idle >= 1
  uint64_t mismatches = 0;  // ... whose reported age differs
  uint64_t first_bad = 0;
  unsigned first_bad_age = 0;
  unsigned first_bad_expected = 0;
};

constexpr AgeCheck check_frame_ages(const Args& args, unsigned round, const uint8_t* ages,
                                    uint64_t frames) {
  AgeCheck check;
  for (uint64_t f = 0; f < frames; ++f) {
    const int expected = expected_age(args, round, f);
    if (expected < 0)
      continue;
    ++check.checked;
    if (expected > 0)
      ++check.idle;
    if (ages[f] != expected) {
      if (check.mismatches == 0) {
        check.first_bad = f;
        check.first_bad_age = ages[f];
        check.first_bad_expected = static_cast<unsigned>(expected);
      }
      ++check.mismatches;
    }
  }
  return check;
}

}  // namespace agectl
