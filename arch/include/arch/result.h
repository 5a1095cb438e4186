// Result<T>: a value or an Error, without exceptions (agevisor builds freestanding, with
// -fno-exceptions, on target). Modelled on SerenityOS ErrorOr.
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>

#include "arch/assert.h"

namespace arch {

enum class Error : uint8_t {
  kNone = 0,
  kNoMemory,            // an allocation (pool, firmware pages) failed
  kInvalidArgument,     // caller passed something outside the documented domain
  kUnsupported,         // the hardware or emulator lacks a required feature
  kDisabledByFirmware,  // e.g. IA32_FEATURE_CONTROL locked with VMX off
  kAlreadyRunning,      // another agevisor instance owns VMX
  kRetryLimit,          // a bounded lock-free retry loop gave up
  kNotFound,
  kOutOfRange,
  kVmxInstructionFailed,
  kFirmware,  // a UEFI service returned an error
};

constexpr const char* error_name(Error e) {
  switch (e) {
    case Error::kNone:
      return "none";
    case Error::kNoMemory:
      return "out of memory";
    case Error::kInvalidArgument:
      return "invalid argument";
    case Error::kUnsupported:
      return "unsupported";
    case Error::kDisabledByFirmware:
      return "disabled by firmware";
    case Error::kAlreadyRunning:
      return "already running";
    case Error::kRetryLimit:
      return "retry limit reached";
    case Error::kNotFound:
      return "not found";
    case Error::kOutOfRange:
      return "out of range";
    case Error::kVmxInstructionFailed:
      return "VMX instruction failed";
    case Error::kFirmware:
      return "firmware error";
  }
  return "unknown error";
}

template <typename T>
class [[nodiscard]] Result {
  static_assert(std::is_default_constructible_v<T>, "Result<T> keeps a T even on error");

 public:
  constexpr Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  constexpr Result(Error error) : error_(error) {          // NOLINT: implicit by design
    HV_ASSERT(error != Error::kNone);
  }

  constexpr bool ok() const { return error_ == Error::kNone; }
  constexpr Error error() const { return error_; }

  constexpr T& value() & {
    HV_ASSERT(ok());
    return value_;
  }
  constexpr const T& value() const& {
    HV_ASSERT(ok());
    return value_;
  }
  constexpr T&& value() && {
    HV_ASSERT(ok());
    return std::move(value_);
  }
  constexpr T value_or(T fallback) const { return ok() ? value_ : fallback; }

 private:
  T value_{};
  Error error_ = Error::kNone;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  constexpr Result() = default;
  constexpr Result(Error error) : error_(error) {}  // NOLINT: implicit by design

  constexpr bool ok() const { return error_ == Error::kNone; }
  constexpr Error error() const { return error_; }
  constexpr void value() const { HV_ASSERT(ok()); }

 private:
  Error error_ = Error::kNone;
};

}  // namespace arch

// Propagates an error to the caller, otherwise yields the value (GNU statement expression,
// as in SerenityOS TRY).
#define TRY(expression)                 \
  ({                                    \
    auto _try_result = (expression);    \
    if (!_try_result.ok()) [[unlikely]] \
      return _try_result.error();       \
    std::move(_try_result).value();     \
  })
