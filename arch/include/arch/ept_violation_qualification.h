// Exit qualification of an EPT violation. [SDM 3C "Exit Qualification for EPT Violations"]
#pragma once

#include <cstdint>

#include "arch/bits.h"

namespace arch {

struct EptViolationQualification {
  // The access that faulted (bits 2:0).
  bool read = false;
  bool write = false;
  bool fetch = false;
  // What the EPT entries allowed (bits 5:3, ANDed over the walk). With mode-based execute
  // control bit 5 is supervisor-mode execute and bit 6 user-mode execute.
  bool readable = false;
  bool writable = false;
  bool executable = false;
  bool user_executable = false;  // bit 6, only meaningful with mode_based_execute
  bool mode_based_execute = false;
  // Bit 7: the guest-linear-address field is valid.
  bool guest_linear_valid = false;
  // Bit 8 (only when bit 7 is set): true for an access to the translation of a linear
  // address, false for an access to a guest paging structure.
  bool linear_translation = false;
  // Bits 11:9, only with advanced VM-exit information for EPT violations and bits 7 and 8
  // set (IA32_VMX_EPT_VPID_CAP bit 22).
  bool advanced_info_valid = false;
  bool user_mode_linear = false;  // bit 9
  bool writable_linear = false;   // bit 10: the guest paging entries allowed writes
  bool nx_linear = false;         // bit 11: the guest paging entries forbade execution
  // Bit 12: the violation happened while IRET unblocked NMIs; the handler must set
  // "blocking by NMI" again before resuming. [SDM 3C "Information for VM Exits Due to ..."]
  bool nmi_unblocking_due_to_iret = false;
  bool shadow_stack_access = false;  // bit 13

  static constexpr EptViolationQualification from_raw(uint64_t raw, bool mode_based_execute,
                                                      bool advanced_exit_info) {
    EptViolationQualification q;
    q.read = test_bit(raw, 0);
    q.write = test_bit(raw, 1);
    q.fetch = test_bit(raw, 2);
    q.readable = test_bit(raw, 3);
    q.writable = test_bit(raw, 4);
    q.executable = test_bit(raw, 5);
    q.mode_based_execute = mode_based_execute;
    q.user_executable = mode_based_execute && test_bit(raw, 6);
    q.guest_linear_valid = test_bit(raw, 7);
    q.linear_translation = q.guest_linear_valid && test_bit(raw, 8);
    q.advanced_info_valid = advanced_exit_info && q.linear_translation;
    q.user_mode_linear = q.advanced_info_valid && test_bit(raw, 9);
    q.writable_linear = q.advanced_info_valid && test_bit(raw, 10);
    q.nx_linear = q.advanced_info_valid && test_bit(raw, 11);
    q.nmi_unblocking_due_to_iret = test_bit(raw, 12);
    q.shadow_stack_access = test_bit(raw, 13);
    return q;
  }

  // The EPT entries allowed nothing: not present (for agevisor: possibly access-tracked).
  constexpr bool not_present() const {
    return !readable && !writable && !executable && !user_executable;
  }
};

}  // namespace arch
