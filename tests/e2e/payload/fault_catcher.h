// Runs a probe function under a temporary IDT whose exception vectors (0-31) are caught, and
// tells which exception cut it short, if any (fault_catcher.nasm). Interrupts (vectors 32 and
// up) still reach the firmware's handlers: the IDT is a copy of the firmware's.
#pragma once

#include <cstdint>

struct FaultRecord {
  int32_t vector;  // -1: the function returned normally
  uint32_t padding;
  uint64_t rip;    // RIP in the exception frame: the faulting instruction, or the next for a trap
  uint64_t error;  // error code, for the vectors that push one
};

extern "C" {
int payload_try(void (*fn)(void*), void* arg, const void* idtr);
extern FaultRecord payload_fault;
extern char payload_fault_stubs[];
}

namespace payload {

// Copies the firmware's IDT and points vectors 0-31 at the catcher. Call once.
void init_fault_catcher();

// fn(arg) with exceptions caught: -1, or the vector it raised (details in payload_fault).
int run_caught(void (*fn)(void*), void* arg);

// "none", "#UD", "#GP", "#DB", ... for a result of run_caught.
const char* vector_name(int vector);

}  // namespace payload
