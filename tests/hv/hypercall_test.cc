#include "hv/hypercall.h"

#include <gtest/gtest.h>

namespace {

using hv::Hypercall;
using hv::HypercallContext;
using hv::HypercallRegisters;
using hv::HypercallStatus;

HypercallRegisters call(Hypercall function, uint64_t rbx = 0, uint64_t rcx = 0) {
  return {static_cast<uint64_t>(function), rbx, rcx, 0};
}

TEST(Hypercall, VersionReportsAbiAndSignature) {
  auto regs = call(Hypercall::kVersion);
  hv::handle_hypercall(regs, {});
  EXPECT_EQ(regs.rax, static_cast<uint64_t>(HypercallStatus::kOk));
  EXPECT_EQ(regs.rbx, hv::kHypercallAbiVersion);
  EXPECT_EQ(regs.rcx, 0x76656761u);
  EXPECT_EQ(regs.rdx, 0x726F7369u);
}

TEST(Hypercall, CpuReportsApicIdAndExitCount) {
  HypercallContext context;
  context.apic_id = 3;
  context.exit_count = 12345;
  auto regs = call(Hypercall::kCpu);
  hv::handle_hypercall(regs, context);
  EXPECT_EQ(regs.rax, 0u);
  EXPECT_EQ(regs.rbx, 3u);
  EXPECT_EQ(regs.rcx, 12345u);
}

TEST(Hypercall, UnknownFunctionsGetAnErrorStatusNotAFault) {
  for (uint64_t rax :
       {uint64_t{0}, uint64_t{1}, uint64_t{5}, hv::kHypercallBase + 0x99, ~uint64_t{0}}) {
    HypercallRegisters regs{rax, 11, 22, 33};
    hv::handle_hypercall(regs, {});
    EXPECT_EQ(regs.rax, static_cast<uint64_t>(HypercallStatus::kUnknownFunction)) << rax;
    EXPECT_EQ(regs.rbx, 11u) << "arguments are left alone";
  }
}

TEST(Hypercall, UserModeCallersAreDenied) {
  HypercallContext context;
  context.guest_cpl = 3;
  context.apic_id = 9;
  auto regs = call(Hypercall::kCpu);
  hv::handle_hypercall(regs, context);
  EXPECT_EQ(regs.rax, static_cast<uint64_t>(HypercallStatus::kDenied));
  EXPECT_NE(regs.rbx, 9u) << "nothing leaks to CPL 3";
}

struct FakeLog {
  uint64_t last_gpa = 0;
  uint64_t last_size = 0;
  HypercallStatus answer = HypercallStatus::kOk;

  static HypercallStatus copy(void* self, uint64_t gpa, uint64_t size, uint64_t* copied) {
    auto* log = static_cast<FakeLog*>(self);
    log->last_gpa = gpa;
    log->last_size = size;
    *copied = size / 2;
    return log->answer;
  }
};

TEST(Hypercall, LogCopiesThroughTheContextAndPassesRefusalsOn) {
  FakeLog log;
  HypercallContext context;
  context.copy_log = &FakeLog::copy;
  context.copy_log_self = &log;
  auto regs = call(Hypercall::kLog, 0x1000, 4096);
  hv::handle_hypercall(regs, context);
  EXPECT_EQ(regs.rax, 0u);
  EXPECT_EQ(regs.rbx, 2048u);
  EXPECT_EQ(log.last_gpa, 0x1000u);
  EXPECT_EQ(log.last_size, 4096u);

  log.answer = HypercallStatus::kDenied;
  regs = call(Hypercall::kLog, 0x1000, 4096);
  hv::handle_hypercall(regs, context);
  EXPECT_EQ(regs.rax, static_cast<uint64_t>(HypercallStatus::kDenied));
  EXPECT_EQ(regs.rbx, 0u);

  regs = call(Hypercall::kLog, 0x1000, 4096);
  hv::handle_hypercall(regs, {});
  EXPECT_EQ(regs.rax, static_cast<uint64_t>(HypercallStatus::kUnknownFunction))
      << "without a log sink the call does not exist";
}

}  // namespace
