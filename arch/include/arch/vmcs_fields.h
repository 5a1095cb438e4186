// VMCS field encodings, one enum class per width, so that the overloaded vmread/vmwrite
// wrappers reject a width mismatch at compile time. 64-bit fields are listed by their "full"
// encoding (the "high" half is encoding + 1, used only by 32-bit hosts).
// Encoding: bit 0 access type (full/high), bits 9:1 index, bits 11:10 type (control,
// read-only data, guest state, host state), bits 14:13 width (16, 64, 32, natural).
// [SDM 3D "Field Encoding in VMCS"]
#pragma once

#include <cstdint>

#include "arch/bits.h"

// X(enumerator, encoding, name)
#define ARCH_VMCS_FIELDS_16(X)                                 \
  X(kVpid, 0x0000, "VPID")                                     \
  X(kPostedInterruptVector, 0x0002, "posted-interrupt vector") \
  X(kEptpIndex, 0x0004, "EPTP index")                          \
  X(kGuestEsSelector, 0x0800, "guest ES selector")             \
  X(kGuestCsSelector, 0x0802, "guest CS selector")             \
  X(kGuestSsSelector, 0x0804, "guest SS selector")             \
  X(kGuestDsSelector, 0x0806, "guest DS selector")             \
  X(kGuestFsSelector, 0x0808, "guest FS selector")             \
  X(kGuestGsSelector, 0x080A, "guest GS selector")             \
  X(kGuestLdtrSelector, 0x080C, "guest LDTR selector")         \
  X(kGuestTrSelector, 0x080E, "guest TR selector")             \
  X(kGuestInterruptStatus, 0x0810, "guest interrupt status")   \
  X(kGuestPmlIndex, 0x0812, "PML index")                       \
  X(kHostEsSelector, 0x0C00, "host ES selector")               \
  X(kHostCsSelector, 0x0C02, "host CS selector")               \
  X(kHostSsSelector, 0x0C04, "host SS selector")               \
  X(kHostDsSelector, 0x0C06, "host DS selector")               \
  X(kHostFsSelector, 0x0C08, "host FS selector")               \
  X(kHostGsSelector, 0x0C0A, "host GS selector")               \
  X(kHostTrSelector, 0x0C0C, "host TR selector")

#define ARCH_VMCS_FIELDS_64(X)                                                            \
  X(kIoBitmapA, 0x2000, "I/O bitmap A")                                                   \
  X(kIoBitmapB, 0x2002, "I/O bitmap B")                                                   \
  X(kMsrBitmap, 0x2004, "MSR bitmap")                                                     \
  X(kExitMsrStoreAddress, 0x2006, "VM-exit MSR-store address")                            \
  X(kExitMsrLoadAddress, 0x2008, "VM-exit MSR-load address")                              \
  X(kEntryMsrLoadAddress, 0x200A, "VM-entry MSR-load address")                            \
  X(kExecutiveVmcsPointer, 0x200C, "executive-VMCS pointer")                              \
  X(kPmlAddress, 0x200E, "PML address")                                                   \
  X(kTscOffset, 0x2010, "TSC offset")                                                     \
  X(kVirtualApicAddress, 0x2012, "virtual-APIC address")                                  \
  X(kApicAccessAddress, 0x2014, "APIC-access address")                                    \
  X(kPostedInterruptDescriptor, 0x2016, "posted-interrupt descriptor")                    \
  X(kVmFunctionControls, 0x2018, "VM-function controls")                                  \
  X(kEptPointer, 0x201A, "EPT pointer")                                                   \
  X(kEoiExitBitmap0, 0x201C, "EOI-exit bitmap 0")                                         \
  X(kEoiExitBitmap1, 0x201E, "EOI-exit bitmap 1")                                         \
  X(kEoiExitBitmap2, 0x2020, "EOI-exit bitmap 2")                                         \
  X(kEoiExitBitmap3, 0x2022, "EOI-exit bitmap 3")                                         \
  X(kEptpListAddress, 0x2024, "EPTP-list address")                                        \
  X(kVmreadBitmap, 0x2026, "VMREAD-bitmap address")                                       \
  X(kVmwriteBitmap, 0x2028, "VMWRITE-bitmap address")                                     \
  X(kVeInfoAddress, 0x202A, "virtualization-exception information address")               \
  X(kXssExitingBitmap, 0x202C, "XSS-exiting bitmap")                                      \
  X(kEnclsExitingBitmap, 0x202E, "ENCLS-exiting bitmap")                                  \
  X(kSppTablePointer, 0x2030, "sub-page-permission-table pointer")                        \
  X(kTscMultiplier, 0x2032, "TSC multiplier")                                             \
  X(kTertiaryProcbasedControls, 0x2034, "tertiary processor-based VM-execution controls") \
  X(kGuestPhysicalAddress, 0x2400, "guest-physical address")                              \
  X(kVmcsLinkPointer, 0x2800, "VMCS link pointer")                                        \
  X(kGuestDebugctl, 0x2802, "guest IA32_DEBUGCTL")                                        \
  X(kGuestPat, 0x2804, "guest IA32_PAT")                                                  \
  X(kGuestEfer, 0x2806, "guest IA32_EFER")                                                \
  X(kGuestPerfGlobalCtrl, 0x2808, "guest IA32_PERF_GLOBAL_CTRL")                          \
  X(kGuestPdpte0, 0x280A, "guest PDPTE0")                                                 \
  X(kGuestPdpte1, 0x280C, "guest PDPTE1")                                                 \
  X(kGuestPdpte2, 0x280E, "guest PDPTE2")                                                 \
  X(kGuestPdpte3, 0x2810, "guest PDPTE3")                                                 \
  X(kGuestBndcfgs, 0x2812, "guest IA32_BNDCFGS")                                          \
  X(kGuestRtitCtl, 0x2814, "guest IA32_RTIT_CTL")                                         \
  X(kGuestLbrCtl, 0x2816, "guest IA32_LBR_CTL")                                           \
  X(kGuestPkrs, 0x2818, "guest IA32_PKRS")                                                \
  X(kHostPat, 0x2C00, "host IA32_PAT")                                                    \
  X(kHostEfer, 0x2C02, "host IA32_EFER")                                                  \
  X(kHostPerfGlobalCtrl, 0x2C04, "host IA32_PERF_GLOBAL_CTRL")                            \
  X(kHostPkrs, 0x2C06, "host IA32_PKRS")

#define ARCH_VMCS_FIELDS_32(X)                                                              \
  X(kPinbasedControls, 0x4000, "pin-based VM-execution controls")                           \
  X(kProcbasedControls, 0x4002, "primary processor-based VM-execution controls")            \
  X(kExceptionBitmap, 0x4004, "exception bitmap")                                           \
  X(kPageFaultErrorCodeMask, 0x4006, "page-fault error-code mask")                          \
  X(kPageFaultErrorCodeMatch, 0x4008, "page-fault error-code match")                        \
  X(kCr3TargetCount, 0x400A, "CR3-target count")                                            \
  X(kExitControls, 0x400C, "primary VM-exit controls")                                      \
  X(kExitMsrStoreCount, 0x400E, "VM-exit MSR-store count")                                  \
  X(kExitMsrLoadCount, 0x4010, "VM-exit MSR-load count")                                    \
  X(kEntryControls, 0x4012, "VM-entry controls")                                            \
  X(kEntryMsrLoadCount, 0x4014, "VM-entry MSR-load count")                                  \
  X(kEntryInterruptionInfo, 0x4016, "VM-entry interruption-information field")              \
  X(kEntryExceptionErrorCode, 0x4018, "VM-entry exception error code")                      \
  X(kEntryInstructionLength, 0x401A, "VM-entry instruction length")                         \
  X(kTprThreshold, 0x401C, "TPR threshold")                                                 \
  X(kSecondaryProcbasedControls, 0x401E, "secondary processor-based VM-execution controls") \
  X(kPleGap, 0x4020, "PLE_Gap")                                                             \
  X(kPleWindow, 0x4022, "PLE_Window")                                                       \
  X(kVmInstructionError, 0x4400, "VM-instruction error")                                    \
  X(kExitReason, 0x4402, "exit reason")                                                     \
  X(kExitInterruptionInfo, 0x4404, "VM-exit interruption information")                      \
  X(kExitInterruptionErrorCode, 0x4406, "VM-exit interruption error code")                  \
  X(kIdtVectoringInfo, 0x4408, "IDT-vectoring information field")                           \
  X(kIdtVectoringErrorCode, 0x440A, "IDT-vectoring error code")                             \
  X(kExitInstructionLength, 0x440C, "VM-exit instruction length")                           \
  X(kExitInstructionInfo, 0x440E, "VM-exit instruction information")                        \
  X(kGuestEsLimit, 0x4800, "guest ES limit")                                                \
  X(kGuestCsLimit, 0x4802, "guest CS limit")                                                \
  X(kGuestSsLimit, 0x4804, "guest SS limit")                                                \
  X(kGuestDsLimit, 0x4806, "guest DS limit")                                                \
  X(kGuestFsLimit, 0x4808, "guest FS limit")                                                \
  X(kGuestGsLimit, 0x480A, "guest GS limit")                                                \
  X(kGuestLdtrLimit, 0x480C, "guest LDTR limit")                                            \
  X(kGuestTrLimit, 0x480E, "guest TR limit")                                                \
  X(kGuestGdtrLimit, 0x4810, "guest GDTR limit")                                            \
  X(kGuestIdtrLimit, 0x4812, "guest IDTR limit")                                            \
  X(kGuestEsAccessRights, 0x4814, "guest ES access rights")                                 \
  X(kGuestCsAccessRights, 0x4816, "guest CS access rights")                                 \
  X(kGuestSsAccessRights, 0x4818, "guest SS access rights")                                 \
  X(kGuestDsAccessRights, 0x481A, "guest DS access rights")                                 \
  X(kGuestFsAccessRights, 0x481C, "guest FS access rights")                                 \
  X(kGuestGsAccessRights, 0x481E, "guest GS access rights")                                 \
  X(kGuestLdtrAccessRights, 0x4820, "guest LDTR access rights")                             \
  X(kGuestTrAccessRights, 0x4822, "guest TR access rights")                                 \
  X(kGuestInterruptibilityState, 0x4824, "guest interruptibility state")                    \
  X(kGuestActivityState, 0x4826, "guest activity state")                                    \
  X(kGuestSmbase, 0x4828, "guest SMBASE")                                                   \
  X(kGuestSysenterCs, 0x482A, "guest IA32_SYSENTER_CS")                                     \
  X(kPreemptionTimerValue, 0x482E, "VMX-preemption timer value")                            \
  X(kHostSysenterCs, 0x4C00, "host IA32_SYSENTER_CS")

#define ARCH_VMCS_FIELDS_NATURAL(X)                                         \
  X(kCr0GuestHostMask, 0x6000, "CR0 guest/host mask")                       \
  X(kCr4GuestHostMask, 0x6002, "CR4 guest/host mask")                       \
  X(kCr0ReadShadow, 0x6004, "CR0 read shadow")                              \
  X(kCr4ReadShadow, 0x6006, "CR4 read shadow")                              \
  X(kCr3Target0, 0x6008, "CR3-target value 0")                              \
  X(kCr3Target1, 0x600A, "CR3-target value 1")                              \
  X(kCr3Target2, 0x600C, "CR3-target value 2")                              \
  X(kCr3Target3, 0x600E, "CR3-target value 3")                              \
  X(kExitQualification, 0x6400, "exit qualification")                       \
  X(kIoRcx, 0x6402, "I/O RCX")                                              \
  X(kIoRsi, 0x6404, "I/O RSI")                                              \
  X(kIoRdi, 0x6406, "I/O RDI")                                              \
  X(kIoRip, 0x6408, "I/O RIP")                                              \
  X(kGuestLinearAddress, 0x640A, "guest-linear address")                    \
  X(kGuestCr0, 0x6800, "guest CR0")                                         \
  X(kGuestCr3, 0x6802, "guest CR3")                                         \
  X(kGuestCr4, 0x6804, "guest CR4")                                         \
  X(kGuestEsBase, 0x6806, "guest ES base")                                  \
  X(kGuestCsBase, 0x6808, "guest CS base")                                  \
  X(kGuestSsBase, 0x680A, "guest SS base")                                  \
  X(kGuestDsBase, 0x680C, "guest DS base")                                  \
  X(kGuestFsBase, 0x680E, "guest FS base")                                  \
  X(kGuestGsBase, 0x6810, "guest GS base")                                  \
  X(kGuestLdtrBase, 0x6812, "guest LDTR base")                              \
  X(kGuestTrBase, 0x6814, "guest TR base")                                  \
  X(kGuestGdtrBase, 0x6816, "guest GDTR base")                              \
  X(kGuestIdtrBase, 0x6818, "guest IDTR base")                              \
  X(kGuestDr7, 0x681A, "guest DR7")                                         \
  X(kGuestRsp, 0x681C, "guest RSP")                                         \
  X(kGuestRip, 0x681E, "guest RIP")                                         \
  X(kGuestRflags, 0x6820, "guest RFLAGS")                                   \
  X(kGuestPendingDebugExceptions, 0x6822, "guest pending debug exceptions") \
  X(kGuestSysenterEsp, 0x6824, "guest IA32_SYSENTER_ESP")                   \
  X(kGuestSysenterEip, 0x6826, "guest IA32_SYSENTER_EIP")                   \
  X(kGuestSCet, 0x6828, "guest IA32_S_CET")                                 \
  X(kGuestSsp, 0x682A, "guest SSP")                                         \
  X(kGuestInterruptSspTable, 0x682C, "guest IA32_INTERRUPT_SSP_TABLE_ADDR") \
  X(kHostCr0, 0x6C00, "host CR0")                                           \
  X(kHostCr3, 0x6C02, "host CR3")                                           \
  X(kHostCr4, 0x6C04, "host CR4")                                           \
  X(kHostFsBase, 0x6C06, "host FS base")                                    \
  X(kHostGsBase, 0x6C08, "host GS base")                                    \
  X(kHostTrBase, 0x6C0A, "host TR base")                                    \
  X(kHostGdtrBase, 0x6C0C, "host GDTR base")                                \
  X(kHostIdtrBase, 0x6C0E, "host IDTR base")                                \
  X(kHostSysenterEsp, 0x6C10, "host IA32_SYSENTER_ESP")                     \
  X(kHostSysenterEip, 0x6C12, "host IA32_SYSENTER_EIP")                     \
  X(kHostRsp, 0x6C14, "host RSP")                                           \
  X(kHostRip, 0x6C16, "host RIP")                                           \
  X(kHostSCet, 0x6C18, "host IA32_S_CET")                                   \
  X(kHostSsp, 0x6C1A, "host SSP")                                           \
  X(kHostInterruptSspTable, 0x6C1C, "host IA32_INTERRUPT_SSP_TABLE_ADDR")

namespace arch {

#define ARCH_VMCS_FIELD_ENUM(name, encoding, text) name = encoding,
enum class VmcsField16 : uint32_t { ARCH_VMCS_FIELDS_16(ARCH_VMCS_FIELD_ENUM) };
enum class VmcsField64 : uint32_t { ARCH_VMCS_FIELDS_64(ARCH_VMCS_FIELD_ENUM) };
enum class VmcsField32 : uint32_t { ARCH_VMCS_FIELDS_32(ARCH_VMCS_FIELD_ENUM) };
enum class VmcsFieldNatural : uint32_t { ARCH_VMCS_FIELDS_NATURAL(ARCH_VMCS_FIELD_ENUM) };
#undef ARCH_VMCS_FIELD_ENUM

// Bits 14:13 of an encoding.
enum class VmcsFieldWidth : uint8_t { k16 = 0, k64 = 1, k32 = 2, kNatural = 3 };
// Bits 11:10 of an encoding.
enum class VmcsFieldType : uint8_t { kControl = 0, kExitInfo = 1, kGuest = 2, kHost = 3 };

constexpr VmcsFieldWidth vmcs_field_width(uint32_t encoding) {
  return static_cast<VmcsFieldWidth>(extract(encoding, 14, 13));
}
constexpr VmcsFieldType vmcs_field_type(uint32_t encoding) {
  return static_cast<VmcsFieldType>(extract(encoding, 11, 10));
}

// The field's name for dumps, or "unknown VMCS field".
constexpr const char* vmcs_field_name(uint32_t encoding) {
  switch (encoding) {
#define ARCH_VMCS_FIELD_CASE(name, value, text) \
  case value:                                   \
    return text;
    ARCH_VMCS_FIELDS_16(ARCH_VMCS_FIELD_CASE)
    ARCH_VMCS_FIELDS_64(ARCH_VMCS_FIELD_CASE)
    ARCH_VMCS_FIELDS_32(ARCH_VMCS_FIELD_CASE)
    ARCH_VMCS_FIELDS_NATURAL(ARCH_VMCS_FIELD_CASE)
#undef ARCH_VMCS_FIELD_CASE
  }
  return "unknown VMCS field";
}

constexpr uint32_t encoding(VmcsField16 f) { return static_cast<uint32_t>(f); }
constexpr uint32_t encoding(VmcsField64 f) { return static_cast<uint32_t>(f); }
constexpr uint32_t encoding(VmcsField32 f) { return static_cast<uint32_t>(f); }
constexpr uint32_t encoding(VmcsFieldNatural f) { return static_cast<uint32_t>(f); }

}  // namespace arch
