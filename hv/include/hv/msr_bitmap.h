// The 4 KiB MSR bitmap: which RDMSR/WRMSR the guest executes natively and which exit.
// MSRs outside 0-0x1FFF and 0xC0000000-0xC0001FFF always exit.
// [SDM 3C "VM-Execution Controls", "MSR-Bitmap Address"]
#pragma once

#include <cstddef>
#include <cstdint>

namespace hv {

class MsrBitmap {
 public:
  static constexpr size_t kSize = 4096;

  // `page` is a zeroed 4 KiB page (all zeros: nothing in range exits).
  explicit MsrBitmap(uint8_t* page) : page_(page) {}

  // False if `msr` is outside the two ranges (such accesses exit regardless).
  bool intercept(uint32_t msr, bool read, bool write);
  bool exits_on_read(uint32_t msr) const { return exits(msr, false); }
  bool exits_on_write(uint32_t msr) const { return exits(msr, true); }

 private:
  // Byte offset of the read bit for `msr` in the bitmap, or -1 when out of range.
  static long read_offset(uint32_t msr);
  bool exits(uint32_t msr, bool write) const;

  uint8_t* page_;
};

struct MsrPolicy {
  uint8_t variable_mtrr_count = 0;  // IA32_MTRRCAP.VCNT
  bool fixed_mtrrs = false;         // IA32_MTRRCAP.FIX
};

// agevisor's interceptions: writes to every MTRR (the EPT memory types follow them), and
// reads and writes of the VMX capability MSRs (VMX is hidden from the guest, so they raise
// #GP as on a processor without VMX).
void configure_msr_bitmap(MsrBitmap& bitmap, const MsrPolicy& policy);

// True for the MSRs whose writes must retype the EPT.
bool is_mtrr_msr(uint32_t msr, const MsrPolicy& policy);

// True for IA32_VMX_BASIC .. IA32_VMX_PROCBASED_CTLS3 (and the reserved 0x493-0x49F).
constexpr bool is_vmx_capability_msr(uint32_t msr) { return msr >= 0x480 && msr <= 0x49F; }

}  // namespace hv
