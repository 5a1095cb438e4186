#include "fault_catcher.h"

#include "arch/idt_gate.h"
#include "arch/target/registers.h"

namespace payload {
namespace {

constexpr unsigned kGates = 256;
alignas(16) constinit arch::InterruptGate64 g_idt[kGates] = {};
constinit arch::target::DescriptorTableRegister g_idtr = {};

}  // namespace

void init_fault_catcher() {
  const auto firmware = arch::target::sidt();
  const auto* source = reinterpret_cast<const arch::InterruptGate64*>(firmware.base);
  const unsigned count = (firmware.limit + 1u) / sizeof(arch::InterruptGate64);
  for (unsigned v = 0; v < kGates && v < count; ++v)
    g_idt[v] = source[v];
  const uint16_t cs = arch::target::read_cs();
  for (unsigned v = 0; v < 32; ++v) {
    const auto stub = reinterpret_cast<uint64_t>(payload_fault_stubs) + 16u * v;
    g_idt[v] = arch::InterruptGate64::interrupt(stub, cs, 0);
  }
  g_idtr.limit = sizeof(g_idt) - 1;
  g_idtr.base = reinterpret_cast<uint64_t>(g_idt);
}

int run_caught(void (*fn)(void*), void* arg) { return payload_try(fn, arg, &g_idtr); }

const char* vector_name(int vector) {
  static constexpr const char* kNames[32] = {
      "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#9",  "#TS",
      "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
      "#22", "#23", "#24", "#25", "#26", "#27", "#HV", "#VC", "#SX", "#31"};
  if (vector < 0)
    return "none";
  return vector < 32 ? kNames[vector] : "?";
}

}  // namespace payload
