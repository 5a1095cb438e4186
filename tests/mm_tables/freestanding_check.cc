// Compiles the mm/ table headers with -ffreestanding -fno-exceptions -fno-rtti: nothing here
// runs, the build is the test.
#include "mm/alias_map.h"
#include "mm/ept_walk.h"
#include "mm/identity_map.h"
#include "mm/install_leaf.h"
#include "mm/live_split.h"
#include "mm/mtrr.h"
#include "mm/on_demand.h"
#include "mm/page_pool.h"
#include "mm/pool_sizing.h"
#include "mm/retype.h"

namespace {

constexpr bool mtrr_decodes_at_compile_time() {
  mm::MtrrMsrs msrs;
  msrs.cap = 0x508;                                 // VCNT 8, FIX, WC
  msrs.def_type = 0xC06;                            // E, FE, WB
  msrs.fixed[2] = 0;                                // A0000-BFFFF UC
  msrs.variable[0] = {0xC000'0000, 0xF'C000'0800};  // C0000000-FFFFFFFF UC
  auto state = mm::MtrrState::from_msrs(msrs);
  if (!state.ok())
    return false;
  const mm::MtrrState& s = state.value();
  return s.type_at(arch::Gpa(0xA0000)) == arch::MemoryType::kUncacheable &&
         s.type_at(arch::Gpa(0x1'0000'0000)) == arch::MemoryType::kWriteBack &&
         s.type_of(arch::Gpa(0xC000'0000), uint64_t{1} << 30).uniform;
}
static_assert(mtrr_decodes_at_compile_time());

constexpr bool pool_sizing_at_compile_time() {
  const mm::MemoryRange map[] = {{arch::Gpa(0), 512, mm::MemoryKind::kRam}};
  mm::PoolSizingParams params;
  params.slack_tables = 0;
  auto sizing = mm::pool_pages_needed(map, 1, params);
  return sizing.ok() && sizing.value().needed == 1 + 1 + 4 + 1 + 1;
}
static_assert(pool_sizing_at_compile_time());

// The target's pool is a constinit global in hv/; make sure that stays possible.
constinit mm::PagePool<> check_pool;

}  // namespace

// Instantiates every member on target flags (odr-used, so the compiler must build them).
arch::Result<arch::Hpa> mm_tables_freestanding_pool_check() {
  TRY(check_pool.init(arch::Hpa(0x10'0000), 16));
  const arch::Hpa table = TRY(check_pool.allocate_table());
  check_pool.table(table)[0] = 0;
  check_pool.free_unpublished_table(table);
  (void)check_pool.free_tables();
  return check_pool.allocate_contiguous(2);
}

arch::Result<mm::IdentityMap> mm_tables_freestanding_identity_map_check(
    const mm::IdentityMapSpec& spec) {
  auto map = TRY(mm::build_identity_map(check_pool, spec));
  TRY(mm::walk(check_pool, map.root, arch::Gpa(0)));
  return map;
}

arch::Result<mm::SplitReport> mm_tables_freestanding_split_check(
    uint64_t& slot, const arch::EptCapabilities& caps) {
  return mm::split_live_leaf(check_pool, mm::LiveEntry(slot), arch::EptLevel::kPde, caps);
}

arch::Result<mm::RetypeReport> mm_tables_freestanding_retype_check(
    arch::Hpa root, const mm::MtrrState& mtrrs, const arch::EptCapabilities& caps) {
  return mm::retype_range(check_pool, root, arch::Gpa(0), uint64_t{1} << 30, mtrrs, caps);
}

arch::Result<mm::OnDemandReport> mm_tables_freestanding_on_demand_check(
    const mm::IdentityMap& map, const mm::MtrrState& mtrrs, const arch::EptCapabilities& caps) {
  return mm::map_on_demand(check_pool, map, arch::Gpa(uint64_t{1} << 35), mtrrs, caps);
}
