#include "hv/log_ring.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

struct Ring {
  std::vector<char> storage;
  hv::LogRing ring;
  explicit Ring(size_t capacity) : storage(capacity), ring(storage.data(), capacity) {}
  void line(const std::string& s) { ring.append(s.data(), s.size()); }
  std::string recent(size_t size) const {
    std::string out(size, '?');
    out.resize(ring.copy_recent(out.data(), size));
    return out;
  }
};

TEST(LogRing, KeepsLinesInOrderWithNewlines) {
  Ring r(64);
  r.line("first");
  r.line("second");
  EXPECT_EQ(r.recent(64), "first\nsecond\n");
  EXPECT_EQ(r.ring.total(), 13u);
  EXPECT_EQ(r.ring.used(), 13u);
}

TEST(LogRing, ASmallBufferGetsTheNewestWholeLines) {
  Ring r(64);
  r.line("aaaa");
  r.line("bbbb");
  r.line("cc");
  EXPECT_EQ(r.recent(8), "bbbb\ncc\n") << "8 bytes: 'b\\ncc\\n' would cut a line";
  EXPECT_EQ(r.recent(3), "cc\n");
  EXPECT_EQ(r.recent(2), "") << "no whole line fits";
}

TEST(LogRing, WrappingDropsTheOldestAndThePartlyOverwrittenLine) {
  Ring r(16);
  r.line("0123456789");  // 11 bytes
  r.line("abcdef");      // 7 more: wraps, the first line loses its start
  EXPECT_EQ(r.ring.total(), 18u);
  EXPECT_EQ(r.ring.used(), 16u);
  EXPECT_EQ(r.recent(64), "abcdef\n");
}

TEST(LogRing, ManyWrapsKeepTheNewestLinesIntact) {
  Ring r(100);
  for (int i = 0; i < 1000; ++i)
    r.line("line " + std::to_string(i));
  const std::string out = r.recent(100);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.substr(out.size() - 9), "line 999\n");
  EXPECT_EQ(out.find("line "), 0u) << "starts at a line";
  EXPECT_LE(out.size(), 100u);
}

TEST(LogRing, ZeroCapacityStoresNothing) {
  hv::LogRing ring(nullptr, 0);
  ring.append("x", 1);
  char out[4];
  EXPECT_EQ(ring.copy_recent(out, sizeof(out)), 0u);
}

}  // namespace
