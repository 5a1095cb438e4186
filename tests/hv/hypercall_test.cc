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
  context.services = &log;
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

struct FakeTracker {
  int passes = 0;
  uint64_t last_gpa = 0;
  uint64_t last_size = 0;
  HypercallStatus copy_answer = HypercallStatus::kOk;

  static HypercallStatus age(void* self, hv::AgeCounts* counts) {
    auto* t = static_cast<FakeTracker*>(self);
    ++t->passes;
    *counts = {10, 20, 30};
    return HypercallStatus::kOk;
  }
  static HypercallStatus copy(void* self, uint64_t gpa, uint64_t size, uint64_t* written) {
    auto* t = static_cast<FakeTracker*>(self);
    t->last_gpa = gpa;
    t->last_size = size;
    *written = sizeof(hv::WorkingSetReport);
    return t->copy_answer;
  }
  uint64_t last_first = 0;
  static HypercallStatus ages(void* self, uint64_t gpa, uint64_t frames, uint64_t first,
                              uint64_t* written) {
    auto* t = static_cast<FakeTracker*>(self);
    t->last_gpa = gpa;
    t->last_size = frames;
    t->last_first = first;
    *written = frames;
    return HypercallStatus::kOk;
  }
  int flushes = 0;
  static HypercallStatus flush(void* self, uint64_t* cpus, uint64_t* generation) {
    auto* t = static_cast<FakeTracker*>(self);
    ++t->flushes;
    *cpus = 2;
    *generation = 40 + static_cast<uint64_t>(t->flushes);
    return HypercallStatus::kOk;
  }
  HypercallContext context() {
    HypercallContext c;
    c.flush = &FakeTracker::flush;
    c.copy_frame_ages = &FakeTracker::ages;
    c.age = &FakeTracker::age;
    c.copy_working_set = &FakeTracker::copy;
    c.services = this;
    return c;
  }
};

TEST(Hypercall, AgeAndWorkingSetAreUnknownWhenTrackingIsOff) {
  for (Hypercall f : {Hypercall::kAge, Hypercall::kWorkingSet, Hypercall::kFrameAges}) {
    auto regs = call(f, 0x1000, 4096);
    hv::handle_hypercall(regs, {});
    EXPECT_EQ(regs.rax, static_cast<uint64_t>(HypercallStatus::kUnknownFunction));
  }
}

TEST(Hypercall, AgeReturnsThePassCounts) {
  FakeTracker tracker;
  auto regs = call(Hypercall::kAge);
  hv::handle_hypercall(regs, tracker.context());
  EXPECT_EQ(tracker.passes, 1);
  EXPECT_EQ(regs.rax, 0u);
  EXPECT_EQ(regs.rbx, 10u);
  EXPECT_EQ(regs.rcx, 20u);
  EXPECT_EQ(regs.rdx, 30u);
}

TEST(Hypercall, WorkingSetRefusesABufferSmallerThanTheReport) {
  FakeTracker tracker;
  auto regs = call(Hypercall::kWorkingSet, 0x1000, sizeof(hv::WorkingSetReport) - 1);
  hv::handle_hypercall(regs, tracker.context());
  EXPECT_EQ(regs.rax, static_cast<uint64_t>(HypercallStatus::kInvalidArgument));
  EXPECT_EQ(tracker.last_size, 0u) << "the tracker was not asked";
}

TEST(Hypercall, WorkingSetCopiesThroughTheTrackerAndPassesRefusalsOn) {
  FakeTracker tracker;
  auto regs = call(Hypercall::kWorkingSet, 0x5000, 4096);
  hv::handle_hypercall(regs, tracker.context());
  EXPECT_EQ(regs.rax, 0u);
  EXPECT_EQ(regs.rbx, sizeof(hv::WorkingSetReport));
  EXPECT_EQ(tracker.last_gpa, 0x5000u);
  tracker.copy_answer = HypercallStatus::kDenied;
  regs = call(Hypercall::kWorkingSet, 0x5000, 4096);
  hv::handle_hypercall(regs, tracker.context());
  EXPECT_EQ(regs.rax, static_cast<uint64_t>(HypercallStatus::kDenied));
  EXPECT_EQ(regs.rbx, 0u);
}

TEST(Hypercall, UserModeCannotAgeOrReadTheWorkingSet) {
  FakeTracker tracker;
  auto context = tracker.context();
  context.guest_cpl = 3;
  for (Hypercall f : {Hypercall::kAge, Hypercall::kWorkingSet, Hypercall::kFrameAges}) {
    auto regs = call(f, 0x1000, 4096);
    hv::handle_hypercall(regs, context);
    EXPECT_EQ(regs.rax, static_cast<uint64_t>(HypercallStatus::kDenied));
  }
  EXPECT_EQ(tracker.passes, 0);
  EXPECT_EQ(tracker.last_size, 0u);
}

TEST(Hypercall, FrameAgesPassesBufferCountAndFirstFrame) {
  FakeTracker tracker;
  HypercallRegisters regs{static_cast<uint64_t>(Hypercall::kFrameAges), 0x8000, 512, 0x200000};
  hv::handle_hypercall(regs, tracker.context());
  EXPECT_EQ(regs.rax, 0u);
  EXPECT_EQ(regs.rbx, 512u);
  EXPECT_EQ(tracker.last_gpa, 0x8000u);
  EXPECT_EQ(tracker.last_size, 512u);
  EXPECT_EQ(tracker.last_first, 0x200000u);
}

TEST(Hypercall, FrameAgesRefusesAnUnalignedFirstFrameOrNoFrames) {
  FakeTracker tracker;
  HypercallRegisters unaligned{static_cast<uint64_t>(Hypercall::kFrameAges), 0x8000, 512, 0x200800};
  hv::handle_hypercall(unaligned, tracker.context());
  EXPECT_EQ(unaligned.rax, static_cast<uint64_t>(HypercallStatus::kInvalidArgument));
  HypercallRegisters none{static_cast<uint64_t>(Hypercall::kFrameAges), 0x8000, 0, 0x200000};
  hv::handle_hypercall(none, tracker.context());
  EXPECT_EQ(none.rax, static_cast<uint64_t>(HypercallStatus::kInvalidArgument));
  EXPECT_EQ(tracker.last_size, 0u) << "the tracker was not asked";
}

TEST(Hypercall, FlushReportsTheCpusThatFlushedAndTheirGeneration) {
  FakeTracker tracker;
  auto regs = call(Hypercall::kFlush);
  hv::handle_hypercall(regs, tracker.context());
  EXPECT_EQ(regs.rax, 0u);
  EXPECT_EQ(regs.rbx, 2u);
  EXPECT_EQ(regs.rcx, 41u);
  EXPECT_EQ(tracker.flushes, 1);

  auto unknown = call(Hypercall::kFlush);
  hv::handle_hypercall(unknown, {});
  EXPECT_EQ(unknown.rax, static_cast<uint64_t>(HypercallStatus::kUnknownFunction));

  auto context = tracker.context();
  context.guest_cpl = 3;
  auto user = call(Hypercall::kFlush);
  hv::handle_hypercall(user, context);
  EXPECT_EQ(user.rax, static_cast<uint64_t>(HypercallStatus::kDenied));
  EXPECT_EQ(tracker.flushes, 1) << "user mode cannot make every CPU flush";
}

TEST(Hypercall, StartUpCallsAreDeniedWheneverTheyReachTheHandler) {
  // The exit path takes them itself while start-up is in progress; any other time they are
  // refused, from any privilege level, so a guest cannot switch agevisor off.
  FakeTracker tracker;
  for (Hypercall f : {Hypercall::kLeave, Hypercall::kStartupDone}) {
    for (unsigned cpl : {0u, 3u}) {
      auto context = tracker.context();
      context.guest_cpl = cpl;
      auto regs = call(f);
      hv::handle_hypercall(regs, context);
      EXPECT_EQ(regs.rax, static_cast<uint64_t>(HypercallStatus::kDenied));
    }
  }
}

TEST(Hypercall, EveryStatusHasTheNameGuestToolsPrint) {
  EXPECT_STREQ(hv::status_name(HypercallStatus::kOk), "ok");
  EXPECT_STREQ(hv::status_name(HypercallStatus::kUnknownFunction), "unknown function");
  EXPECT_STREQ(hv::status_name(HypercallStatus::kInvalidArgument), "invalid argument");
  EXPECT_STREQ(hv::status_name(HypercallStatus::kDenied), "denied");
  EXPECT_STREQ(hv::status_name(HypercallStatus::kTimedOut), "timed out");
  EXPECT_STREQ(hv::status_name(static_cast<HypercallStatus>(99)), "unknown status");
}
