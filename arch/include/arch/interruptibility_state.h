// Guest interruptibility state (VMCS 4824H) and pending debug exceptions (6822H) bits.
// [SDM 3C "Guest Non-Register State"]
#pragma once

#include <cstdint>

namespace arch::interruptibility {

inline constexpr uint32_t kBlockingBySti = 1u << 0;
inline constexpr uint32_t kBlockingByMovSs = 1u << 1;
inline constexpr uint32_t kBlockingBySmi = 1u << 2;
inline constexpr uint32_t kBlockingByNmi = 1u << 3;
inline constexpr uint32_t kEnclaveInterruption = 1u << 4;

}  // namespace arch::interruptibility

namespace arch::pending_debug {

inline constexpr uint64_t kB0ToB3 = 0xF;  // breakpoint conditions met
inline constexpr uint64_t kEnabledBreakpoint = 1u << 12;
inline constexpr uint64_t kBs = 1u << 14;  // single-step trap pending
inline constexpr uint64_t kRtm = 1u << 16;

}  // namespace arch::pending_debug

namespace arch::rflags {

inline constexpr uint64_t kTf = 1u << 8;
inline constexpr uint64_t kIf = 1u << 9;
inline constexpr uint64_t kVm = 1u << 17;
inline constexpr uint64_t kReserved1 = 1u << 1;  // always 1

}  // namespace arch::rflags
