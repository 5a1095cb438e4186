#include "hv/guest_state_checker.h"

#include "arch/bits.h"

namespace hv {
namespace {

using arch::bit;
using arch::bit_range;
using arch::test_bit;

constexpr uint64_t kCr0Pe = bit(0);
constexpr uint64_t kCr0Wp = bit(16);
constexpr uint64_t kCr0Pg = bit(31);
constexpr uint64_t kCr4Pae = bit(5);
constexpr uint64_t kCr4Pcide = bit(17);
constexpr uint64_t kCr4Cet = bit(23);
constexpr uint64_t kEferLme = bit(8);
constexpr uint64_t kEferLma = bit(10);
constexpr uint64_t kRflagsTf = bit(8);
constexpr uint64_t kRflagsIf = bit(9);
constexpr uint64_t kRflagsVm = bit(17);
constexpr uint64_t kDebugCtlBtf = bit(1);

// A linear address is canonical when bits 63:N-1 all equal bit N-1.
constexpr bool canonical(uint64_t address, unsigned width) {
  const uint64_t high = address >> (width - 1);
  return high == 0 || high == (~uint64_t{0} >> (width - 1));
}

bool same(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) {
    ++a;
    ++b;
  }
  return *a == *b;
}

void check_control_registers(const GuestState& s, const GuestCheckContext& c, GuestStateReport& r) {
  uint64_t must_be_one = c.cr0_fixed0;
  // Unrestricted guest lifts the PE and PG requirements [SDM 3C "Checks on Guest Control
  // Registers, Debug Registers, and MSRs"].
  if (c.unrestricted_guest)
    must_be_one &= ~(kCr0Pe | kCr0Pg);
  if ((s.cr0 & must_be_one) != must_be_one)
    r.add("CR0", "a bit fixed to 1 is 0");
  if ((s.cr0 & ~c.cr0_fixed1) != 0)
    r.add("CR0", "a bit fixed to 0 is 1");
  if ((s.cr0 & kCr0Pg) != 0 && (s.cr0 & kCr0Pe) == 0)
    r.add("CR0", "PG set without PE");
  if ((s.cr4 & c.cr4_fixed0) != c.cr4_fixed0)
    r.add("CR4", "a bit fixed to 1 is 0");
  if ((s.cr4 & ~c.cr4_fixed1) != 0)
    r.add("CR4", "a bit fixed to 0 is 1");
  if ((s.cr4 & kCr4Cet) != 0 && (s.cr0 & kCr0Wp) == 0)
    r.add("CR0", "CR4.CET set without WP");
  if (c.ia32e_mode_guest) {
    if ((s.cr0 & kCr0Pg) == 0)
      r.add("CR0", "IA-32e mode guest requires PG");
    if ((s.cr4 & kCr4Pae) == 0)
      r.add("CR4", "IA-32e mode guest requires PAE");
  } else if ((s.cr4 & kCr4Pcide) != 0) {
    r.add("CR4", "PCIDE set outside IA-32e mode");
  }
  if ((s.cr3 & ~bit_range(c.max_phys_addr - 1u, 0)) != 0) {
    r.add("CR3", "bits at or above MAXPHYADDR set");
  }
}

void check_msrs(const GuestState& s, const GuestCheckContext& c, GuestStateReport& r) {
  if (c.load_debug_controls) {
    // IA32_DEBUGCTL bits 5:2 and 63:16 are reserved.
    if ((s.debugctl & (bit_range(5, 2) | bit_range(63, 16))) != 0) {
      r.add("IA32_DEBUGCTL", "reserved bit set");
    }
    if ((s.dr7 >> 32) != 0)
      r.add("DR7", "bits 63:32 set");
  }
  if (!canonical(s.sysenter_esp, c.linear_address_bits)) {
    r.add("IA32_SYSENTER_ESP", "not canonical");
  }
  if (!canonical(s.sysenter_eip, c.linear_address_bits)) {
    r.add("IA32_SYSENTER_EIP", "not canonical");
  }
  if (c.load_pat) {
    for (unsigned i = 0; i < 8; ++i) {
      const uint64_t type = (s.pat >> (8 * i)) & 0xFF;
      if (type == 2 || type == 3 || type > 7)
        r.add("IA32_PAT", "entry with an invalid type");
    }
  }
  if (c.load_efer) {
    // Defined EFER bits on Intel: SCE(0), LME(8), LMA(10), NXE(11).
    if ((s.efer & ~(bit(0) | kEferLme | kEferLma | bit(11))) != 0) {
      r.add("IA32_EFER", "reserved bit set");
    }
    if (((s.efer & kEferLma) != 0) != c.ia32e_mode_guest) {
      r.add("IA32_EFER", "LMA differs from the IA-32e mode guest control");
    }
    if ((s.cr0 & kCr0Pg) != 0 && ((s.efer & kEferLme) != 0) != c.ia32e_mode_guest) {
      r.add("IA32_EFER", "LME differs from the IA-32e mode guest control while CR0.PG is set");
    }
  }
}

// Granularity must agree with the limit: G = 0 if any of bits 11:0 is 0, G = 1 if any of
// bits 31:20 is 1.
bool limit_matches_granularity(const Segment& seg) {
  if ((seg.limit & 0xFFFu) != 0xFFFu && seg.g())
    return false;
  if ((seg.limit & 0xFFF0'0000u) != 0 && !seg.g())
    return false;
  return true;
}

bool reserved_access_bits_clear(const Segment& seg) {
  return (seg.access_rights & (0xF00u | 0xFFFE'0000u)) == 0;
}

void check_v86_segment(const Segment& seg, const char* name, GuestStateReport& r) {
  if (seg.base != uint64_t{seg.selector} << 4)
    r.add(name, "virtual-8086: base != selector*16");
  if (seg.limit != 0xFFFF)
    r.add(name, "virtual-8086: limit != 0xFFFF");
  if (seg.access_rights != 0xF3)
    r.add(name, "virtual-8086: access rights != 0xF3");
}

void check_code_segment(const GuestState& s, const GuestCheckContext& c, GuestStateReport& r) {
  const Segment& cs = s.cs;
  const unsigned type = cs.type();
  const bool accessed_code = type == 9 || type == 11 || type == 13 || type == 15;
  if (!accessed_code && !(c.unrestricted_guest && type == 3))
    r.add("CS", "invalid type");
  if (!cs.s())
    r.add("CS", "S (descriptor type) is 0");
  if (type == 3 && cs.dpl() != 0)
    r.add("CS", "DPL must be 0 for a data-type CS");
  if ((type == 9 || type == 11) && cs.dpl() != s.ss.dpl()) {
    r.add("CS", "non-conforming: DPL != SS.DPL");
  }
  if ((type == 13 || type == 15) && cs.dpl() > s.ss.dpl()) {
    r.add("CS", "conforming: DPL > SS.DPL");
  }
  if (!cs.present())
    r.add("CS", "not present");
  if (!reserved_access_bits_clear(cs))
    r.add("CS", "reserved access-rights bit set");
  if (c.ia32e_mode_guest && cs.l() && cs.db())
    r.add("CS", "L and D/B both set");
  if (!limit_matches_granularity(cs))
    r.add("CS", "limit and G disagree");
  if ((cs.base >> 32) != 0)
    r.add("CS", "base bits 63:32 set");
}

void check_stack_segment(const GuestState& s, const GuestCheckContext& c, GuestStateReport& r) {
  const Segment& ss = s.ss;
  if (!c.unrestricted_guest && ss.rpl() != s.cs.rpl())
    r.add("SS", "RPL != CS.RPL");
  if (!c.unrestricted_guest && ss.dpl() != ss.rpl())
    r.add("SS", "DPL != RPL");
  if ((s.cs.type() == 3 || (s.cr0 & kCr0Pe) == 0) && ss.dpl() != 0) {
    r.add("SS", "DPL must be 0 in real mode or with a data-type CS");
  }
  if (ss.unusable())
    return;
  if (ss.type() != 3 && ss.type() != 7)
    r.add("SS", "type must be read/write data, accessed");
  if (!ss.s())
    r.add("SS", "S (descriptor type) is 0");
  if (!ss.present())
    r.add("SS", "not present");
  if (!reserved_access_bits_clear(ss))
    r.add("SS", "reserved access-rights bit set");
  if (!limit_matches_granularity(ss))
    r.add("SS", "limit and G disagree");
  if ((ss.base >> 32) != 0)
    r.add("SS", "base bits 63:32 set");
}

void check_data_segment(const Segment& seg, const char* name, bool base_may_be_64bit,
                        const GuestCheckContext& c, GuestStateReport& r) {
  if (seg.unusable())
    return;
  const unsigned type = seg.type();
  if ((type & 1u) == 0)
    r.add(name, "type not accessed");
  if ((type & 8u) != 0 && (type & 2u) == 0)
    r.add(name, "code segment not readable");
  if (!seg.s())
    r.add(name, "S (descriptor type) is 0");
  // Data and non-conforming code: DPL cannot be below RPL.
  if (!c.unrestricted_guest && type <= 11 && seg.dpl() < seg.rpl())
    r.add(name, "DPL < RPL");
  if (!seg.present())
    r.add(name, "not present");
  if (!reserved_access_bits_clear(seg))
    r.add(name, "reserved access-rights bit set");
  if (!limit_matches_granularity(seg))
    r.add(name, "limit and G disagree");
  if (!base_may_be_64bit && (seg.base >> 32) != 0)
    r.add(name, "base bits 63:32 set");
}

void check_system_segments(const GuestState& s, const GuestCheckContext& c, GuestStateReport& r) {
  const Segment& tr = s.tr;
  if (tr.ti())
    r.add("TR", "selector TI flag set");
  if (!canonical(tr.base, c.linear_address_bits))
    r.add("TR", "base not canonical");
  if (c.ia32e_mode_guest ? tr.type() != 11 : (tr.type() != 3 && tr.type() != 11)) {
    r.add("TR", "type must be a busy TSS (11, or 3 outside IA-32e mode)");
  }
  if (tr.s())
    r.add("TR", "S (descriptor type) is 1");
  if (!tr.present())
    r.add("TR", "not present");
  if (!reserved_access_bits_clear(tr))
    r.add("TR", "reserved access-rights bit set");
  if (!limit_matches_granularity(tr))
    r.add("TR", "limit and G disagree");
  if (tr.unusable())
    r.add("TR", "unusable");

  const Segment& ldtr = s.ldtr;
  if (ldtr.unusable())
    return;
  if (ldtr.ti())
    r.add("LDTR", "selector TI flag set");
  if (!canonical(ldtr.base, c.linear_address_bits))
    r.add("LDTR", "base not canonical");
  if (ldtr.type() != 2)
    r.add("LDTR", "type must be LDT (2)");
  if (ldtr.s())
    r.add("LDTR", "S (descriptor type) is 1");
  if (!ldtr.present())
    r.add("LDTR", "not present");
  if (!reserved_access_bits_clear(ldtr))
    r.add("LDTR", "reserved access-rights bit set");
  if (!limit_matches_granularity(ldtr))
    r.add("LDTR", "limit and G disagree");
}

void check_segments(const GuestState& s, const GuestCheckContext& c, GuestStateReport& r) {
  if ((s.rflags & kRflagsVm) != 0) {
    const Segment* segs[] = {&s.cs, &s.ss, &s.ds, &s.es, &s.fs, &s.gs};
    const char* names[] = {"CS", "SS", "DS", "ES", "FS", "GS"};
    for (int i = 0; i < 6; ++i)
      check_v86_segment(*segs[i], names[i], r);
  } else {
    check_code_segment(s, c, r);
    check_stack_segment(s, c, r);
    check_data_segment(s.ds, "DS", false, c, r);
    check_data_segment(s.es, "ES", false, c, r);
    check_data_segment(s.fs, "FS", true, c, r);
    check_data_segment(s.gs, "GS", true, c, r);
  }
  if (!canonical(s.fs.base, c.linear_address_bits))
    r.add("FS", "base not canonical");
  if (!canonical(s.gs.base, c.linear_address_bits))
    r.add("GS", "base not canonical");
  check_system_segments(s, c, r);
}

void check_descriptor_tables(const GuestState& s, const GuestCheckContext& c, GuestStateReport& r) {
  if (!canonical(s.gdtr.base, c.linear_address_bits))
    r.add("GDTR", "base not canonical");
  if (!canonical(s.idtr.base, c.linear_address_bits))
    r.add("IDTR", "base not canonical");
  if ((s.gdtr.limit >> 16) != 0)
    r.add("GDTR", "limit bits 31:16 set");
  if ((s.idtr.limit >> 16) != 0)
    r.add("IDTR", "limit bits 31:16 set");
}

void check_rip_rflags(const GuestState& s, const GuestCheckContext& c, GuestStateReport& r) {
  const bool long_code = c.ia32e_mode_guest && s.cs.l();
  if (!long_code && (s.rip >> 32) != 0)
    r.add("RIP", "bits 63:32 set outside 64-bit code");
  if (long_code && !canonical(s.rip, c.linear_address_bits))
    r.add("RIP", "not canonical");
  const uint64_t reserved = bit_range(63, 22) | bit(15) | bit(5) | bit(3);
  if ((s.rflags & reserved) != 0)
    r.add("RFLAGS", "reserved bit set");
  if ((s.rflags & bit(1)) == 0)
    r.add("RFLAGS", "bit 1 is 0");
  if ((c.ia32e_mode_guest || (s.cr0 & kCr0Pe) == 0) && (s.rflags & kRflagsVm) != 0) {
    r.add("RFLAGS", "VM set in IA-32e mode or real mode");
  }
  if (c.injecting && c.injection_type == 0 && (s.rflags & kRflagsIf) == 0) {
    r.add("RFLAGS", "IF clear while injecting an external interrupt");
  }
}

void check_activity_and_interruptibility(const GuestState& s, const GuestCheckContext& c,
                                         GuestStateReport& r) {
  const auto activity = static_cast<uint32_t>(s.activity);
  const uint32_t blocking = s.interruptibility;
  const bool sti_or_movss = (blocking & (kBlockingBySti | kBlockingByMovSs)) != 0;
  if (activity > 3)
    r.add("activity state", "not 0-3");
  if (s.activity == ActivityState::kHlt && s.ss.dpl() != 0)
    r.add("activity state", "HLT with SS.DPL != 0");
  if (sti_or_movss && s.activity != ActivityState::kActive) {
    r.add("activity state", "not active while blocking by STI or MOV SS");
  }
  if ((blocking & ~uint32_t{0x1F}) != 0)
    r.add("interruptibility", "reserved bit set");
  if ((blocking & kBlockingBySti) != 0 && (blocking & kBlockingByMovSs) != 0) {
    r.add("interruptibility", "blocking by STI and by MOV SS both set");
  }
  if ((s.rflags & kRflagsIf) == 0 && (blocking & kBlockingBySti) != 0) {
    r.add("interruptibility", "blocking by STI with RFLAGS.IF clear");
  }
  if (c.injecting && (c.injection_type == 0 || c.injection_type == 2) && sti_or_movss) {
    r.add("interruptibility", "blocking by STI/MOV SS while injecting an interrupt or NMI");
  }
  if (!c.entry_to_smm && (blocking & kBlockingBySmi) != 0) {
    r.add("interruptibility", "blocking by SMI outside SMM");
  }
  if (c.injecting && c.injection_type == 2 && (blocking & kBlockingByNmi) != 0) {
    r.add("interruptibility", "blocking by NMI while injecting an NMI");
  }
}

void check_pending_debug_and_link(const GuestState& s, const GuestCheckContext& c,
                                  GuestStateReport& r) {
  const uint64_t pde = s.pending_debug_exceptions;
  if ((pde & (bit_range(11, 4) | bit(13) | bit_range(63, 17))) != 0) {
    r.add("pending debug exceptions", "reserved bit set");
  }
  const bool sti_or_movss = (s.interruptibility & (kBlockingBySti | kBlockingByMovSs)) != 0;
  if (sti_or_movss || s.activity == ActivityState::kHlt) {
    const bool single_step = (s.rflags & kRflagsTf) != 0 && (s.debugctl & kDebugCtlBtf) == 0;
    if (single_step && !test_bit(pde, 14)) {
      r.add("pending debug exceptions", "BS clear while single-stepping");
    }
    if (!single_step && test_bit(pde, 14)) {
      r.add("pending debug exceptions", "BS set while not single-stepping");
    }
  }
  const uint64_t link = s.vmcs_link_pointer;
  if (link != ~uint64_t{0}) {
    if ((link & 0xFFF) != 0)
      r.add("VMCS link pointer", "not 4 KiB aligned");
    if ((link >> c.max_phys_addr) != 0)
      r.add("VMCS link pointer", "beyond MAXPHYADDR");
  }
}

}  // namespace

bool GuestStateReport::has(const char* field) const {
  const int recorded = count < kMaxRecorded ? count : kMaxRecorded;
  for (int i = 0; i < recorded; ++i) {
    if (same(violations[i].field, field))
      return true;
  }
  return false;
}

GuestStateReport check_guest_state(const GuestState& state, const GuestCheckContext& context) {
  GuestStateReport report;
  check_control_registers(state, context, report);
  check_msrs(state, context, report);
  check_rip_rflags(state, context, report);  // RFLAGS.VM decides how segments are checked
  check_segments(state, context, report);
  check_descriptor_tables(state, context, report);
  check_activity_and_interruptibility(state, context, report);
  check_pending_debug_and_link(state, context, report);
  return report;
}

}  // namespace hv
