// FakeMsrIo: arch::CpuIo over maps of CPUID leaves and MSRs, for host tests.
//
// It remembers every access. A read of an MSR it lacks returns Error::kUnsupported (what the
// real processor signals with #GP, which under firmware would halt the machine) and is
// recorded in missing_msr_reads(), so tests can assert such reads never happen. CPUID of a
// leaf it lacks returns zeros and is recorded in missing_cpuid_leaves().
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "arch/cpu_io.h"
#include "arch/result.h"

namespace fakes {

class FakeMsrIo {
 public:
  FakeMsrIo& set_cpuid(uint32_t leaf, uint32_t subleaf, arch::CpuidResult value) {
    cpuid_[{leaf, subleaf}] = value;
    return *this;
  }
  FakeMsrIo& set_msr(uint32_t msr, uint64_t value) {
    msrs_[msr] = value;
    return *this;
  }
  FakeMsrIo& remove_msr(uint32_t msr) {
    msrs_.erase(msr);
    return *this;
  }

  arch::CpuidResult cpuid(uint32_t leaf, uint32_t subleaf) {
    auto it = cpuid_.find({leaf, subleaf});
    if (it == cpuid_.end()) {
      missing_cpuid_.push_back({leaf, subleaf});
      return {};
    }
    return it->second;
  }

  arch::Result<uint64_t> rdmsr(uint32_t msr) {
    msr_reads_.push_back(msr);
    auto it = msrs_.find(msr);
    if (it == msrs_.end()) {
      missing_msr_reads_.push_back(msr);
      return arch::Error::kUnsupported;
    }
    return it->second;
  }

  arch::Result<void> wrmsr(uint32_t msr, uint64_t value) {
    auto it = msrs_.find(msr);
    if (it == msrs_.end()) {
      missing_msr_writes_.push_back(msr);
      return arch::Error::kUnsupported;
    }
    msr_writes_.push_back({msr, value});
    it->second = value;
    return {};
  }

  bool has_msr(uint32_t msr) const { return msrs_.count(msr) != 0; }
  uint64_t msr(uint32_t msr) const { return msrs_.at(msr); }
  const std::vector<uint32_t>& msr_reads() const { return msr_reads_; }
  const std::vector<uint32_t>& missing_msr_reads() const { return missing_msr_reads_; }
  const std::vector<uint32_t>& missing_msr_writes() const { return missing_msr_writes_; }
  const std::vector<std::pair<uint32_t, uint64_t>>& msr_writes() const { return msr_writes_; }
  const std::vector<std::pair<uint32_t, uint32_t>>& missing_cpuid_leaves() const {
    return missing_cpuid_;
  }

 private:
  std::map<std::pair<uint32_t, uint32_t>, arch::CpuidResult> cpuid_;
  std::map<uint32_t, uint64_t> msrs_;
  std::vector<uint32_t> msr_reads_;
  std::vector<uint32_t> missing_msr_reads_;
  std::vector<uint32_t> missing_msr_writes_;
  std::vector<std::pair<uint32_t, uint64_t>> msr_writes_;
  std::vector<std::pair<uint32_t, uint32_t>> missing_cpuid_;
};

static_assert(arch::CpuIo<FakeMsrIo>);

}  // namespace fakes
