// Model-specific register indices agevisor reads or writes. [SDM 4 "Model-Specific Registers"]
#pragma once

#include <cstdint>

namespace arch::msr {

inline constexpr uint32_t kIa32FeatureControl = 0x03A;
inline constexpr uint32_t kIa32MtrrCap = 0x0FE;
inline constexpr uint32_t kIa32SysenterCs = 0x174;
inline constexpr uint32_t kIa32SysenterEsp = 0x175;
inline constexpr uint32_t kIa32SysenterEip = 0x176;
inline constexpr uint32_t kIa32DebugCtl = 0x1D9;
inline constexpr uint32_t kIa32MtrrPhysBase0 = 0x200;  // base n = 0x200 + 2n, mask n = +1
inline constexpr uint32_t kIa32MtrrFix64K00000 = 0x250;
inline constexpr uint32_t kIa32MtrrFix16K80000 = 0x258;
inline constexpr uint32_t kIa32MtrrFix16KA0000 = 0x259;
inline constexpr uint32_t kIa32MtrrFix4KC0000 = 0x268;  // through 0x26F (F8000)
inline constexpr uint32_t kIa32Pat = 0x277;
inline constexpr uint32_t kIa32MtrrDefType = 0x2FF;
inline constexpr uint32_t kIa32VmxBasic = 0x480;
inline constexpr uint32_t kIa32VmxPinbasedCtls = 0x481;
inline constexpr uint32_t kIa32VmxProcbasedCtls = 0x482;
inline constexpr uint32_t kIa32VmxExitCtls = 0x483;
inline constexpr uint32_t kIa32VmxEntryCtls = 0x484;
inline constexpr uint32_t kIa32VmxMisc = 0x485;
inline constexpr uint32_t kIa32VmxCr0Fixed0 = 0x486;
inline constexpr uint32_t kIa32VmxCr0Fixed1 = 0x487;
inline constexpr uint32_t kIa32VmxCr4Fixed0 = 0x488;
inline constexpr uint32_t kIa32VmxCr4Fixed1 = 0x489;
inline constexpr uint32_t kIa32VmxVmcsEnum = 0x48A;
inline constexpr uint32_t kIa32VmxProcbasedCtls2 = 0x48B;
inline constexpr uint32_t kIa32VmxEptVpidCap = 0x48C;
inline constexpr uint32_t kIa32VmxTruePinbasedCtls = 0x48D;
inline constexpr uint32_t kIa32VmxTrueProcbasedCtls = 0x48E;
inline constexpr uint32_t kIa32VmxTrueExitCtls = 0x48F;
inline constexpr uint32_t kIa32VmxTrueEntryCtls = 0x490;
inline constexpr uint32_t kIa32VmxVmfunc = 0x491;
inline constexpr uint32_t kIa32VmxProcbasedCtls3 = 0x492;
inline constexpr uint32_t kIa32Efer = 0xC0000080;
inline constexpr uint32_t kIa32FsBase = 0xC0000100;
inline constexpr uint32_t kIa32GsBase = 0xC0000101;
inline constexpr uint32_t kIa32KernelGsBase = 0xC0000102;
inline constexpr uint32_t kIa32TscAux = 0xC0000103;

}  // namespace arch::msr
