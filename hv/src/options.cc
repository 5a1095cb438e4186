#include "hv/options.h"

#include "arch/format.h"

namespace hv {
namespace {

// A token of the input: [begin, begin + length).
struct Token {
  const char* begin = nullptr;
  size_t length = 0;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool equals(const char* text, size_t length, const char* word) {
  size_t i = 0;
  for (; i < length; ++i)
    if (word[i] == '\0' || word[i] != text[i])
      return false;
  return word[i] == '\0';
}

bool parse_track(const char* value, size_t length, Options& options) {
  for (TrackingOverride o :
       {TrackingOverride::kAuto, TrackingOverride::kAccessedBit, TrackingOverride::kRwxStash}) {
    if (equals(value, length, tracking_override_name(o))) {
      options.track = o;
      return true;
    }
  }
  return false;
}

// `word_if_true` sets the flag, "none" clears it.
bool parse_flag(const char* value, size_t length, const char* word_if_true, bool& flag) {
  if (equals(value, length, "none")) {
    flag = false;
    return true;
  }
  if (equals(value, length, word_if_true)) {
    flag = true;
    return true;
  }
  return false;
}

bool parse_hide(const char* value, size_t length, Options& options) {
  return parse_flag(value, length, "cpuid", options.hide_hypervisor);
}

bool parse_debug(const char* value, size_t length, Options& options) {
  if (equals(value, length, "fail-last-cpu")) {
    options.corrupt_guest_state = false;
    options.fail_last_cpu = true;
    return true;
  }
  options.fail_last_cpu = false;
  return parse_flag(value, length, "corrupt-guest-state", options.corrupt_guest_state);
}

bool parse_cpus(const char* value, size_t length, Options& options) {
  if (equals(value, length, "all")) {
    options.boot_cpu_only = false;
    return true;
  }
  if (equals(value, length, "boot")) {
    options.boot_cpu_only = true;
    return true;
  }
  return false;
}

bool parse_period(const char* value, size_t length, Options& options) {
  if (length == 0 || length > 5)
    return false;
  uint32_t ms = 0;
  for (size_t i = 0; i < length; ++i) {
    if (value[i] < '0' || value[i] > '9')
      return false;
    ms = ms * 10 + static_cast<uint32_t>(value[i] - '0');
  }
  if (ms > 60000)
    return false;
  options.period_ms = ms;
  return true;
}

struct Key {
  const char* name;
  bool (*apply)(const char* value, size_t length, Options& options);
  const char* expected;  // for the error message
};

constexpr Key kKeys[] = {
    {"track", parse_track, "track=auto|accessed-bit|rwx-stash"},
    {"hide", parse_hide, "hide=none|cpuid"},
    {"debug", parse_debug, "debug=none|corrupt-guest-state|fail-last-cpu"},
    {"cpus", parse_cpus, "cpus=all|boot"},
    {"period", parse_period, "period=0..60000 (milliseconds, 0 = off)"},
};

constexpr const char* kKnownKeys =
    "a known key: track, hide, debug, period, cpus";  // keep in step with kKeys

constexpr int kTokenEcho = 48;  // longest part of a bad token the message repeats

arch::Error fail(OptionsError* error, const char* input, Token t, const char* what,
                 const char* expected) {
  if (error != nullptr) {
    int shown =
        t.length < static_cast<size_t>(kTokenEcho) ? static_cast<int>(t.length) : kTokenEcho;
    arch::format(error->message, sizeof error->message, "%s \"%.*s%s\"%s%s", what, shown, t.begin,
                 t.length > static_cast<size_t>(kTokenEcho) ? "..." : "",
                 expected[0] != '\0' ? "; expected " : "", expected);
    error->offset = static_cast<size_t>(t.begin - input);
  }
  return arch::Error::kInvalidArgument;
}

arch::Result<void> apply_token(const char* input, Token t, Options& options, OptionsError* error) {
  size_t eq = 0;
  while (eq < t.length && t.begin[eq] != '=')
    ++eq;
  if (eq == t.length || eq == 0)
    return fail(error, input, t, "option is not key=value:", "");
  for (const Key& key : kKeys) {
    if (!equals(t.begin, eq, key.name))
      continue;
    if (key.apply(t.begin + eq + 1, t.length - eq - 1, options))
      return {};
    return fail(error, input, t, "bad value in option", key.expected);
  }
  return fail(error, input, t, "unknown option", kKnownKeys);
}

}  // namespace

arch::Result<Options> parse_options(const char* ascii, OptionsError* error) {
  Options options;
  if (ascii == nullptr)
    return options;
  bool first = true;
  for (const char* p = ascii; *p != '\0';) {
    if (is_space(*p)) {
      ++p;
      continue;
    }
    Token t{p, 0};
    while (p[t.length] != '\0' && !is_space(p[t.length]))
      ++t.length;
    p += t.length;
    bool has_equals = false;
    for (size_t i = 0; i < t.length; ++i)
      has_equals = has_equals || t.begin[i] == '=';
    if (equals(t.begin, t.length, "--")) {
      while (is_space(*p))
        ++p;
      if (*p == '\0')
        return fail(error, ascii, t, "nothing after", "an EFI image path to start");
      options.chain_path = p;
      while (p[options.chain_path_length] != '\0' && !is_space(p[options.chain_path_length]))
        ++options.chain_path_length;
      const char* rest = p + options.chain_path_length;
      while (is_space(*rest))
        ++rest;
      options.chain_options = rest;
      return options;
    }
    bool image_path = first && !has_equals;
    first = false;
    if (image_path)
      continue;
    if (arch::Result<void> r = apply_token(ascii, t, options, error); !r.ok())
      return r.error();
  }
  return options;
}

}  // namespace hv
