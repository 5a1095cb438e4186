// The one way software changes an EPT entry the processor (or another CPU) may be using.
// Hardware sets A/D with locked read-modify-writes and other CPUs age or restore the same
// entry without a lock, so a plain store could erase their work (KVM lost A/D and W bits
// that way). Every change is a compare-and-swap or an exchange, and whatever the caller
// concludes about A/D/W comes from the old value these return, never from an earlier read.
#pragma once

#include <atomic>
#include <concepts>
#include <cstdint>
#include <type_traits>

#include "arch/ept_entry.h"

namespace mm {

class LiveEntry {
 public:
  explicit LiveEntry(uint64_t& slot) : ref_(slot) {}

  arch::EptEntry load() const { return arch::EptEntry(ref_.load(std::memory_order_acquire)); }

  // Installs `desired` if the entry still holds `expected`. On failure `expected` is
  // refreshed with the value found, so the caller recomputes from fresh state.
  [[nodiscard]] bool compare_exchange(arch::EptEntry& expected, arch::EptEntry desired) {
    uint64_t raw = expected.raw();
    const bool done = ref_.compare_exchange_strong(raw, desired.raw(), std::memory_order_acq_rel,
                                                   std::memory_order_acquire);
    expected = arch::EptEntry(raw);
    return done;
  }

  // Installs `desired` whatever the entry held, and returns what it held.
  [[nodiscard]] arch::EptEntry exchange(arch::EptEntry desired) {
    return arch::EptEntry(ref_.exchange(desired.raw(), std::memory_order_acq_rel));
  }

 private:
  std::atomic_ref<uint64_t> ref_;
};

// What the lockless algorithms need from an entry: LiveEntry on target and in race tests; a
// stateful fake that loses compare-and-swaps on purpose in the retry tests.
template <typename T>
concept EntrySlot = requires(T& slot, arch::EptEntry& expected, arch::EptEntry desired) {
  { slot.load() } -> std::same_as<arch::EptEntry>;
  { slot.compare_exchange(expected, desired) } -> std::same_as<bool>;
  { slot.exchange(desired) } -> std::same_as<arch::EptEntry>;
};

// A slot passed by value, reference or as a temporary (`resolve_fault(LiveEntry(e), ...)`).
template <typename T>
concept EntrySlotRef = EntrySlot<std::remove_cvref_t<T>>;

static_assert(EntrySlot<LiveEntry>);
static_assert(std::atomic_ref<uint64_t>::required_alignment == alignof(uint64_t),
              "EPT tables are arrays of naturally aligned 64-bit entries");
static_assert(std::atomic_ref<uint64_t>::is_always_lock_free);

}  // namespace mm
