// EFI_MP_SERVICES_PROTOCOL as the PI specification (volume 2, "MP Services Protocol") lays it
// out: GNU-EFI does not define it. Used by boot/ to take every processor and by agectl's mp
// mode to run code on each.
#pragma once

#include "boot/uefi.h"

namespace boot {

inline constexpr EFI_GUID kMpServicesGuid = {
    0x3fdda605, 0xa76e, 0x4f46, {0xad, 0x29, 0x12, 0xf4, 0x53, 0x1b, 0x3d, 0x08}};

struct CpuPhysicalLocation {
  UINT32 Package;
  UINT32 Core;
  UINT32 Thread;
};

struct CpuPhysicalLocation2 {
  UINT32 Package;
  UINT32 Module;
  UINT32 Tile;
  UINT32 Die;
  UINT32 Core;
  UINT32 Thread;
};

struct ProcessorInformation {
  UINT64 ProcessorId;  // the APIC ID
  UINT32 StatusFlag;
  CpuPhysicalLocation Location;
  // PI 1.7; written only when asked for (bit 24 of the processor number), but firmware of
  // that version may assume the room is there.
  CpuPhysicalLocation2 ExtendedInformation;
};
static_assert(sizeof(ProcessorInformation) == 48);

inline constexpr UINT32 kProcessorIsBsp = 1u << 0;    // PROCESSOR_AS_BSP_BIT
inline constexpr UINT32 kProcessorEnabled = 1u << 1;  // PROCESSOR_ENABLED_BIT

using ApProcedure = VOID(EFIAPI*)(VOID* argument);

struct MpServices;
using GetNumberOfProcessorsFn = EFI_STATUS(EFIAPI*)(MpServices* self, UINTN* processors,
                                                    UINTN* enabled_processors);
using GetProcessorInfoFn = EFI_STATUS(EFIAPI*)(MpServices* self, UINTN processor,
                                               ProcessorInformation* info);
using StartupAllApsFn = EFI_STATUS(EFIAPI*)(MpServices* self, ApProcedure procedure,
                                            BOOLEAN single_thread, EFI_EVENT wait_event,
                                            UINTN timeout_us, VOID* argument,
                                            UINTN** failed_processors);
using StartupThisApFn = EFI_STATUS(EFIAPI*)(MpServices* self, ApProcedure procedure,
                                            UINTN processor, EFI_EVENT wait_event, UINTN timeout_us,
                                            VOID* argument, BOOLEAN* finished);
using SwitchBspFn = EFI_STATUS(EFIAPI*)(MpServices* self, UINTN processor, BOOLEAN enable_old_bsp);
using EnableDisableApFn = EFI_STATUS(EFIAPI*)(MpServices* self, UINTN processor, BOOLEAN enable,
                                              UINT32* health);
using WhoAmIFn = EFI_STATUS(EFIAPI*)(MpServices* self, UINTN* processor);

struct MpServices {
  GetNumberOfProcessorsFn GetNumberOfProcessors;
  GetProcessorInfoFn GetProcessorInfo;
  StartupAllApsFn StartupAllAPs;
  StartupThisApFn StartupThisAP;
  SwitchBspFn SwitchBSP;
  EnableDisableApFn EnableDisableAP;
  WhoAmIFn WhoAmI;
};
static_assert(sizeof(MpServices) == 7 * sizeof(void*));

}  // namespace boot
