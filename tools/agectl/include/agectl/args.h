// agectl's command line, parsed without the firmware so host tests can check it.
//   agectl.efi [rounds=N] [mib=N]
//              [report | hostile | log | ebs | bench | mp | flush | nmi | faults]
// rounds: how many touch-age-report rounds (1-16, default 3); mib: the buffer the rounds
// touch (1-1024 MiB, default 8); `report`: no touching, one aging pass and the report;
// `hostile`: reads and writes the firmware's runtime memory, where agevisor lives, and
// checks that agevisor's data never shows and its memory is never written; `log`: prints
// agevisor's log ring (the log hypercall); `ebs`: exits boot services, overwrites all the
// memory an OS may reuse and checks agevisor survived (never returns); `bench`: cycle
// ratios of agevisor's paths measured from the guest (exits, tracking faults, passes); `mp`:
// `rounds` rounds on every processor through MP services (APIC IDs, per-CPU exit counts,
// a flush on every CPU after each round); `flush`: the same rounds on the boot processor
// only, without waking the others (Bochs 2.7 cannot wake a CPU under VMX again), so the
// flushes still reach every CPU; `nmi`: `rounds` rounds of NMIs to the boot processor, which
// must all reach agectl's own NMI handler (agevisor injects the guest's NMIs back);
// `faults`: `rounds` rounds of a #UD right after an aging pass, into a handler whose code
// the pass aged away, each of which must reach the handler once and come back.
#pragma once

#include <cstdint>

namespace agectl {

enum class Mode {
  kRounds,
  kReport,
  kHostile,
  kLog,
  kExitBootServices,
  kBench,
  kMp,
  kFlush,
  kNmi,
  kFaults,
};

struct Args {
  unsigned rounds = 3;
  unsigned mib = 8;
  Mode mode = Mode::kRounds;
};

struct ArgsResult {
  bool ok = false;
  Args args;
  const char* error = nullptr;  // what was wrong, when !ok
};

namespace args_detail {

constexpr bool starts_with(const char* s, const char* prefix, const char** rest) {
  while (*prefix != '\0') {
    if (*s != *prefix)
      return false;
    ++s;
    ++prefix;
  }
  *rest = s;
  return true;
}

// A decimal number that ends at a space or the end of the text; false on anything else.
constexpr bool parse_number(const char* s, unsigned max, unsigned* out, const char** end) {
  uint64_t value = 0;
  const char* p = s;
  while (*p >= '0' && *p <= '9') {
    value = value * 10 + static_cast<unsigned>(*p - '0');
    if (value > max)
      return false;
    ++p;
  }
  if (p == s || (*p != '\0' && *p != ' '))
    return false;
  *out = static_cast<unsigned>(value);
  *end = p;
  return true;
}

// A mode word ("report", "hostile", "log", ...) at `s`, or Mode::kRounds if there is none.
constexpr Mode mode_word(const char* s, const char** rest) {
  struct Word {
    const char* text;
    Mode mode;
  };
  constexpr Word kWords[] = {
      {"report", Mode::kReport},        {"hostile", Mode::kHostile}, {"log", Mode::kLog},
      {"ebs", Mode::kExitBootServices}, {"bench", Mode::kBench},     {"mp", Mode::kMp},
      {"flush", Mode::kFlush},          {"nmi", Mode::kNmi},         {"faults", Mode::kFaults},
  };
  for (const Word& w : kWords) {
    if (starts_with(s, w.text, rest) && (**rest == '\0' || **rest == ' '))
      return w.mode;
  }
  return Mode::kRounds;
}

}  // namespace args_detail

inline constexpr unsigned kMaxRounds = 16;
inline constexpr unsigned kMaxMib = 1024;

constexpr ArgsResult parse_args(const char* text) {
  using namespace args_detail;
  ArgsResult result;
  const char* p = text;
  for (;;) {
    while (*p == ' ')
      ++p;
    if (*p == '\0')
      break;
    const char* rest = nullptr;
    unsigned value = 0;
    if (starts_with(p, "rounds=", &rest)) {
      if (!parse_number(rest, kMaxRounds, &value, &p) || value == 0) {
        result.error = "rounds= takes a number from 1 to 16";
        return result;
      }
      result.args.rounds = value;
    } else if (starts_with(p, "mib=", &rest)) {
      if (!parse_number(rest, kMaxMib, &value, &p) || value == 0) {
        result.error = "mib= takes a number from 1 to 1024";
        return result;
      }
      result.args.mib = value;
    } else if (const Mode m = mode_word(p, &rest); m != Mode::kRounds) {
      if (result.args.mode != Mode::kRounds) {
        result.error = "report, hostile, log, ebs, bench, mp, flush and nmi cannot be combined";
        return result;
      }
      result.args.mode = m;
      p = rest;
    } else {
      result.error =
          "unknown argument (usage: agectl.efi [rounds=N] [mib=N] "
          "[report | hostile | log | ebs | bench | mp | flush | nmi])";
      return result;
    }
  }
  result.ok = true;
  return result;
}

// The bytes round `round` (1-based) writes: the whole buffer, then half of it, a quarter...,
// never less than one 4 KiB page. What the previous round touched and this one does not
// must show up as idle in the next report.
constexpr uint64_t round_bytes(const Args& args, unsigned round) {
  uint64_t bytes = uint64_t{args.mib} << 20;
  for (unsigned r = 1; r < round && bytes > 4096; ++r)
    bytes /= 2;
  return bytes < 4096 ? 4096 : bytes;
}

}  // namespace agectl
