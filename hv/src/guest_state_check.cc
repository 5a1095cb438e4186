#include "hv/guest_state_check.h"

#include "arch/bits.h"
#include "arch/interruptibility_state.h"
#include "arch/interruption_info.h"
#include "arch/vmx_controls.h"

namespace hv {
namespace {

constexpr uint64_t kCr4Pae = arch::bit(5);
constexpr uint64_t kCr4Pcide = arch::bit(17);
constexpr uint64_t kEferSce = arch::bit(0);
constexpr uint64_t kEferLme = arch::bit(8);
constexpr uint64_t kEferLma = arch::bit(10);
constexpr uint64_t kEferNxe = arch::bit(11);
constexpr uint64_t kRflagsReserved0 =
    ~uint64_t{0x3FFFFF} | arch::bit(15) | arch::bit(5) | arch::bit(3);
constexpr uint64_t kPendingDebugReserved =
    ~uint64_t{0x1FFFF} | arch::bit_range(11, 4) | arch::bit(13) | arch::bit(15);

// Checks run against one guest state and its context.
class Checker {
 public:
  Checker(const GuestState& g, const GuestCheckContext& c) : g_(g), c_(c) {}

  GuestStateCheck run() {
    control_registers();
    msrs();
    segments();
    code_and_stack_segments();
    descriptor_tables();
    rip_and_rflags();
    activity_and_interruptibility();
    pending_debug_and_link_pointer();
    return result_;
  }

 private:
  void expect(bool condition, const char* what) {
    if (!condition)
      result_.fail(what);
  }
  bool ia32e() const { return (c_.entry_controls & arch::entry_ctls::kIa32eModeGuest) != 0; }
  bool unrestricted() const {
    return (c_.proc2_controls & arch::proc_based2::kUnrestrictedGuest) != 0;
  }
  bool canonical(uint64_t v) const {
    uint64_t upper = v >> (c_.linear_width - 1);
    return upper == 0 || upper == (~uint64_t{0} >> (c_.linear_width - 1));
  }
  bool fits_phys(uint64_t v) const { return (v >> c_.max_phys_addr) == 0; }
  arch::InterruptionInfo injection() const {
    return arch::InterruptionInfo::from_raw(c_.entry_interruption_info);
  }

  void control_registers();
  void msrs();
  void segment(const SegmentState& s, const char* reserved, const char* granularity,
               const char* present, const char* s_flag);
  void segments();
  void code_and_stack_segments();
  void system_segments();
  void descriptor_tables();
  void rip_and_rflags();
  void activity_and_interruptibility();
  void pending_debug_and_link_pointer();

  const GuestState& g_;
  const GuestCheckContext& c_;
  GuestStateCheck result_;
};

void Checker::control_registers() {
  auto cr0 = arch::CrFixedBits::guest_cr0(c_.cr0_fixed0, c_.cr0_fixed1, unrestricted());
  expect(cr0.complies(g_.cr0), "CR0: bits fixed by IA32_VMX_CR0_FIXED0/1");
  expect(!arch::test_bit(g_.cr0, 31) || arch::test_bit(g_.cr0, 0), "CR0: PG set needs PE set");
  arch::CrFixedBits cr4{c_.cr4_fixed0, c_.cr4_fixed1};
  expect(cr4.complies(g_.cr4), "CR4: bits fixed by IA32_VMX_CR4_FIXED0/1");
  if (ia32e()) {
    expect(arch::test_bit(g_.cr0, 31), "IA-32e mode guest needs CR0.PG");
    expect((g_.cr4 & kCr4Pae) != 0, "IA-32e mode guest needs CR4.PAE");
  } else {
    expect((g_.cr4 & kCr4Pcide) == 0, "CR4.PCIDE needs IA-32e mode guest");
  }
  expect(fits_phys(g_.cr3), "CR3: bits beyond MAXPHYADDR");
  if ((c_.entry_controls & arch::entry_ctls::kLoadDebugControls) != 0)
    expect((g_.dr7 >> 32) == 0, "DR7: bits 63:32 must be 0");
}

void Checker::msrs() {
  expect(canonical(g_.sysenter_esp), "IA32_SYSENTER_ESP not canonical");
  expect(canonical(g_.sysenter_eip), "IA32_SYSENTER_EIP not canonical");
  if ((c_.entry_controls & arch::entry_ctls::kLoadPat) != 0) {
    bool valid = true;
    for (unsigned i = 0; i < 8; ++i) {
      uint64_t type = arch::extract(g_.pat, 8 * i + 7, 8 * i);
      valid = valid && (type == 0 || type == 1 || type == 4 || type == 5 || type == 6 || type == 7);
    }
    expect(valid, "IA32_PAT: an entry has a reserved memory type");
  }
  if ((c_.entry_controls & arch::entry_ctls::kLoadEfer) != 0) {
    expect((g_.efer & ~(kEferSce | kEferLme | kEferLma | kEferNxe)) == 0,
           "IA32_EFER: reserved bits set");
    expect(((g_.efer & kEferLma) != 0) == ia32e(), "IA32_EFER.LMA must equal IA-32e mode guest");
    if (arch::test_bit(g_.cr0, 31))
      expect(((g_.efer & kEferLma) != 0) == ((g_.efer & kEferLme) != 0),
             "IA32_EFER: LMA must equal LME while CR0.PG is set");
  }
}

// Limit/granularity consistency: low 12 limit bits not all ones needs G = 0, any of the
// top 12 set needs G = 1.
bool granularity_consistent(const SegmentState& s) {
  bool g = s.access_rights.granularity();
  if ((s.limit & 0xFFF) != 0xFFF && g)
    return false;
  if ((s.limit & 0xFFF00000) != 0 && !g)
    return false;
  return true;
}

void Checker::segment(const SegmentState& s, const char* reserved, const char* granularity,
                      const char* present, const char* s_flag) {
  expect(s.access_rights.reserved_clear(), reserved);
  expect(granularity_consistent(s), granularity);
  expect(s.access_rights.present(), present);
  expect(s.access_rights.code_or_data(), s_flag);
}

void Checker::segments() {
  struct Data {
    const SegmentState& s;
    const char* base;
    const char* type;
    const char* dpl;
    const char* reserved;
    const char* granularity;
    const char* present;
    const char* s_flag;
  };
  const Data data[] = {
      {g_.ds, "DS base bits 63:32", "DS type", "DS DPL < RPL", "DS access rights reserved bits",
       "DS limit/granularity", "DS not present", "DS S flag"},
      {g_.es, "ES base bits 63:32", "ES type", "ES DPL < RPL", "ES access rights reserved bits",
       "ES limit/granularity", "ES not present", "ES S flag"},
      {g_.fs, "FS base not canonical", "FS type", "FS DPL < RPL", "FS access rights reserved bits",
       "FS limit/granularity", "FS not present", "FS S flag"},
      {g_.gs, "GS base not canonical", "GS type", "GS DPL < RPL", "GS access rights reserved bits",
       "GS limit/granularity", "GS not present", "GS S flag"},
  };
  for (const Data& d : data) {
    bool fs_or_gs = &d.s == &g_.fs || &d.s == &g_.gs;
    if (fs_or_gs)
      expect(canonical(d.s.base), d.base);
    if (d.s.access_rights.unusable())
      continue;
    if (!fs_or_gs)
      expect((d.s.base >> 32) == 0, d.base);
    const arch::SegmentAccessRights& ar = d.s.access_rights;
    expect(ar.accessed() && (!ar.is_code() || ar.code_readable()), d.type);
    if (!unrestricted() && ar.type() <= 11)
      expect(ar.dpl() >= (d.s.selector & 3), d.dpl);
    segment(d.s, d.reserved, d.granularity, d.present, d.s_flag);
  }
  system_segments();
}

void Checker::code_and_stack_segments() {
  const arch::SegmentAccessRights& cs = g_.cs.access_rights;
  const arch::SegmentAccessRights& ss = g_.ss.access_rights;
  uint8_t type = cs.type();
  bool type_ok =
      type == 9 || type == 11 || type == 13 || type == 15 || (unrestricted() && type == 3);
  expect(type_ok, "CS type must be accessed code (or accessed data with unrestricted guest)");
  expect((g_.cs.base >> 32) == 0, "CS base bits 63:32");
  segment(g_.cs, "CS access rights reserved bits", "CS limit/granularity", "CS not present",
          "CS S flag");
  if (type == 3)
    expect(cs.dpl() == 0, "CS DPL must be 0 for a data-type CS");
  else if (type == 9 || type == 11)
    expect(cs.dpl() == ss.dpl(), "CS DPL must equal SS DPL (non-conforming code)");
  else if (type == 13 || type == 15)
    expect(cs.dpl() <= ss.dpl(), "CS DPL must not exceed SS DPL (conforming code)");
  if (ia32e() && cs.long_mode())
    expect(!cs.default_big(), "CS: L and D/B both set in IA-32e mode");
  if (!unrestricted()) {
    expect((g_.ss.selector & 3) == (g_.cs.selector & 3), "SS RPL must equal CS RPL");
    expect(ss.dpl() == (g_.ss.selector & 3), "SS DPL must equal SS RPL");
  }
  if (type == 3 || !arch::test_bit(g_.cr0, 0))
    expect(ss.dpl() == 0, "SS DPL must be 0 with a data-type CS or CR0.PE clear");
  if (ss.unusable())
    return;
  expect(ss.type() == 3 || ss.type() == 7, "SS type must be read/write accessed data");
  expect((g_.ss.base >> 32) == 0, "SS base bits 63:32");
  segment(g_.ss, "SS access rights reserved bits", "SS limit/granularity", "SS not present",
          "SS S flag");
}

void Checker::system_segments() {
  const arch::SegmentAccessRights& tr = g_.tr.access_rights;
  expect((g_.tr.selector & 4) == 0, "TR selector TI flag must be 0");
  expect(canonical(g_.tr.base), "TR base not canonical");
  expect(tr.type() == 11 || (!ia32e() && tr.type() == 3),
         "TR type must be a busy TSS (64-bit busy TSS in IA-32e mode)");
  expect(!tr.code_or_data(), "TR S flag must be 0");
  expect(tr.present(), "TR not present");
  expect(tr.reserved_clear(), "TR access rights reserved bits");
  expect(granularity_consistent(g_.tr), "TR limit/granularity");
  expect(!tr.unusable(), "TR must be usable");
  const arch::SegmentAccessRights& ldtr = g_.ldtr.access_rights;
  if (ldtr.unusable())
    return;
  expect((g_.ldtr.selector & 4) == 0, "LDTR selector TI flag must be 0");
  expect(canonical(g_.ldtr.base), "LDTR base not canonical");
  expect(ldtr.type() == 2, "LDTR type must be LDT");
  expect(!ldtr.code_or_data(), "LDTR S flag must be 0");
  expect(ldtr.present(), "LDTR not present");
  expect(ldtr.reserved_clear(), "LDTR access rights reserved bits");
  expect(granularity_consistent(g_.ldtr), "LDTR limit/granularity");
}

void Checker::descriptor_tables() {
  expect(canonical(g_.gdtr_base), "GDTR base not canonical");
  expect(canonical(g_.idtr_base), "IDTR base not canonical");
  expect((g_.gdtr_limit >> 16) == 0, "GDTR limit bits 31:16");
  expect((g_.idtr_limit >> 16) == 0, "IDTR limit bits 31:16");
}

void Checker::rip_and_rflags() {
  if (!ia32e() || !g_.cs.access_rights.long_mode())
    expect((g_.rip >> 32) == 0, "RIP bits 63:32 outside 64-bit code");
  else
    expect(canonical(g_.rip), "RIP not canonical");
  expect((g_.rflags & kRflagsReserved0) == 0, "RFLAGS reserved bits set");
  expect(arch::test_bit(g_.rflags, 1), "RFLAGS bit 1 must be 1");
  if (ia32e() || !arch::test_bit(g_.cr0, 0))
    expect(!arch::test_bit(g_.rflags, 17), "RFLAGS.VM in IA-32e mode or real mode");
  arch::InterruptionInfo event = injection();
  if (event.valid() && event.type() == arch::InterruptionType::kExternalInterrupt)
    expect(arch::test_bit(g_.rflags, 9), "RFLAGS.IF must be 1 to inject an external interrupt");
}

// Which injected events each activity state accepts. [SDM 3C "Checks on Guest
// Non-Register State"]
bool injection_allowed_in(uint32_t activity, arch::InterruptionInfo event) {
  using T = arch::InterruptionType;
  T type = event.type();
  uint8_t vector = event.vector();
  switch (activity) {
    case 1:  // HLT
      return type == T::kExternalInterrupt || type == T::kNmi ||
             (type == T::kHardwareException && (vector == 1 || vector == 18)) ||
             (type == T::kOtherEvent && vector == 0);
    case 2:  // shutdown
      return type == T::kNmi || (type == T::kHardwareException && vector == 18);
    case 3:  // wait-for-SIPI
      return false;
    default:
      return true;
  }
}

void Checker::activity_and_interruptibility() {
  namespace intr = arch::interruptibility;
  uint32_t activity = g_.activity_state;
  uint32_t blocking = g_.interruptibility;
  expect(activity == 0 || (activity <= 3 && arch::test_bit(c_.activity_states, activity - 1)),
         "activity state unsupported (IA32_VMX_MISC bits 8:6)");
  if (activity == 1)
    expect(g_.ss.access_rights.dpl() == 0, "HLT activity state needs SS DPL 0");
  if ((blocking & (intr::kBlockingBySti | intr::kBlockingByMovSs)) != 0)
    expect(activity == 0, "blocking by STI or MOV SS needs the active state");
  arch::InterruptionInfo event = injection();
  if (event.valid())
    expect(injection_allowed_in(activity, event),
           "injected event not allowed in this activity state");

  expect((blocking & ~uint32_t{0x1F}) == 0, "interruptibility state reserved bits 31:5");
  expect((blocking & (intr::kBlockingBySti | intr::kBlockingByMovSs)) !=
             (intr::kBlockingBySti | intr::kBlockingByMovSs),
         "blocking by STI and by MOV SS both set");
  if (!arch::test_bit(g_.rflags, 9))
    expect((blocking & intr::kBlockingBySti) == 0, "blocking by STI with RFLAGS.IF clear");
  if ((c_.entry_controls & arch::entry_ctls::kEntryToSmm) == 0)
    expect((blocking & intr::kBlockingBySmi) == 0, "blocking by SMI outside SMM");
  if (!event.valid())
    return;
  if (event.type() == arch::InterruptionType::kExternalInterrupt)
    expect((blocking & (intr::kBlockingBySti | intr::kBlockingByMovSs)) == 0,
           "external interrupt injected under STI or MOV SS blocking");
  if (event.type() == arch::InterruptionType::kNmi) {
    expect((blocking & intr::kBlockingByMovSs) == 0, "NMI injected under MOV SS blocking");
    if ((c_.pin_controls & arch::pin_based::kVirtualNmis) != 0)
      expect((blocking & intr::kBlockingByNmi) == 0, "NMI injected under virtual-NMI blocking");
  }
}

void Checker::pending_debug_and_link_pointer() {
  namespace intr = arch::interruptibility;
  uint64_t pending = g_.pending_debug_exceptions;
  expect((pending & kPendingDebugReserved) == 0, "pending debug exceptions reserved bits");
  bool stalled = (g_.interruptibility & (intr::kBlockingBySti | intr::kBlockingByMovSs)) != 0 ||
                 g_.activity_state == 1;
  if (stalled) {
    bool single_step = arch::test_bit(g_.rflags, 8) && !arch::test_bit(g_.debugctl, 1);
    expect(arch::test_bit(pending, 14) == single_step,
           "pending debug BS must equal RFLAGS.TF && !DEBUGCTL.BTF under STI/MOV SS/HLT");
  }
  expect(g_.vmcs_link_pointer == ~uint64_t{0},
         "VMCS link pointer must be all ones (agevisor uses no VMCS shadowing)");
}

}  // namespace

GuestStateCheck check_guest_state(const GuestState& guest, const GuestCheckContext& context) {
  return Checker(guest, context).run();
}

}  // namespace hv
