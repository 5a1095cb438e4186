#include "arch/format.h"

#include <gtest/gtest.h>

#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr size_t kBuffer = 256;
constexpr char kSentinel = 0x5A;

// Formats with the host's snprintf and with arch::format, at full size and at every truncated
// size, and compares return values and every byte including the ones past the terminator.
template <typename... Args>
void expect_like_snprintf(const std::string& fmt, Args... args) {
  char expected[kBuffer];
  char actual[kBuffer];
  int length = std::snprintf(expected, sizeof expected, fmt.c_str(), args...);
  ASSERT_GE(length, 0) << fmt;
  ASSERT_LT(static_cast<size_t>(length) + 4, kBuffer) << "test case too long: " << fmt;
  for (size_t size = 0; size <= static_cast<size_t>(length) + 2; ++size) {
    std::memset(expected, kSentinel, sizeof expected);
    std::memset(actual, kSentinel, sizeof actual);
    int want = std::snprintf(expected, size, fmt.c_str(), args...);
    int got = arch::format(actual, size, fmt.c_str(), args...);
    ASSERT_EQ(got, want) << "format \"" << fmt << "\" size " << size;
    ASSERT_EQ(std::memcmp(actual, expected, sizeof expected), 0)
        << "format \"" << fmt << "\" size " << size << ": got \"" << std::string(actual)
        << "\" want \"" << std::string(expected) << "\"";
  }
}

const std::vector<std::string> kWidths = {"", "1", "3", "8", "25"};
const std::vector<std::string> kPrecisions = {"", ".0", ".1", ".5", ".24"};

std::vector<std::string> specs(const std::vector<std::string>& flags, const std::string& length,
                               const std::string& conversion, bool with_precision = true) {
  std::vector<std::string> out;
  for (const auto& flag : flags)
    for (const auto& width : kWidths)
      for (const auto& precision : with_precision ? kPrecisions : std::vector<std::string>{""})
        out.push_back("<%" + flag + width + precision + length + conversion + ">");
  return out;
}

const std::vector<std::string> kSignedFlags = {"", "-", "0", "-0", "+", " ", "+0", " -", "+ "};
const std::vector<std::string> kUnsignedFlags = {"", "-", "0", "-0", "#", "#0", "#-"};

TEST(Format, SignedConversionsMatchSnprintf) {
  const int ints[] = {0, 1, -1, 7, -42, 1000, INT_MAX, INT_MIN};
  for (const char* conv : {"d", "i"})
    for (const auto& fmt : specs(kSignedFlags, "", conv))
      for (int v : ints)
        expect_like_snprintf(fmt, v);
  const long long wides[] = {0, -5, 1234567890123LL, LLONG_MAX, LLONG_MIN};
  for (const auto& fmt : specs(kSignedFlags, "ll", "d"))
    for (long long v : wides)
      expect_like_snprintf(fmt, v);
  for (const auto& fmt : specs(kSignedFlags, "l", "i"))
    for (long long v : wides)
      expect_like_snprintf(fmt, static_cast<long>(v));
  for (const auto& fmt : specs(kSignedFlags, "z", "d"))
    for (long long v : wides)
      expect_like_snprintf(fmt, static_cast<ssize_t>(v));
}

TEST(Format, UnsignedConversionsMatchSnprintf) {
  const unsigned values[] = {0u, 1u, 8u, 255u, 0xDEADBEEFu, UINT_MAX};
  for (const char* conv : {"u", "x", "X", "o"})
    for (const auto& fmt : specs(kUnsignedFlags, "", conv))
      for (unsigned v : values)
        expect_like_snprintf(fmt, v);
  const unsigned long long wides[] = {0, 0x123456789ABCDEFULL, ULLONG_MAX};
  for (const char* conv : {"u", "x", "X", "o"}) {
    for (const auto& fmt : specs(kUnsignedFlags, "ll", conv))
      for (auto v : wides)
        expect_like_snprintf(fmt, v);
    for (const auto& fmt : specs(kUnsignedFlags, "l", conv))
      for (auto v : wides)
        expect_like_snprintf(fmt, static_cast<unsigned long>(v));
    for (const auto& fmt : specs(kUnsignedFlags, "z", conv))
      for (auto v : wides)
        expect_like_snprintf(fmt, static_cast<size_t>(v));
  }
}

TEST(Format, ShortLengthModifiersTruncateLikeC) {
  for (const char* conv : {"d", "u", "x"})
    for (const char* length : {"h", "hh"})
      for (int v : {0, 1, 127, 128, 255, 256, 300, 65535, 65536, -1, -129, 70000})
        expect_like_snprintf(std::string("[%") + length + conv + "]", v);
}

TEST(Format, StringsAndCharactersMatchSnprintf) {
  for (const char* s : {"", "a", "hello", "a longer string, with spaces"})
    for (const auto& fmt : specs({"", "-"}, "", "s"))
      expect_like_snprintf(fmt, s);
  for (char c : {'a', 'Z', ' ', '\0'})
    for (const auto& fmt : specs({"", "-"}, "", "c", false))
      expect_like_snprintf(fmt, c);
}

TEST(Format, PointersMatchSnprintfWhenNonNull) {
  int object = 0;
  const void* pointers[] = {&object, reinterpret_cast<void*>(0x1000),
                            reinterpret_cast<void*>(0xFFFF'8000'0000'0000)};
  for (const auto& fmt : specs({"", "-"}, "", "p", false))
    for (const void* p : pointers)
      expect_like_snprintf(fmt, p);
}

TEST(Format, StarWidthAndPrecisionMatchSnprintf) {
  for (int width : {-12, -1, 0, 1, 9})
    for (int precision : {-1, 0, 2, 10}) {
      expect_like_snprintf("[%*.*d]", width, precision, -345);
      expect_like_snprintf("[%*.*s]", width, precision, "abcdef");
      expect_like_snprintf("[%-*x]", width, 0xABCu);
    }
}

TEST(Format, MixedLiteralTextAndPercentMatchSnprintf) {
  expect_like_snprintf("100%% of %s at %#llx: %d/%u%%", "pages", 0xFEE0'0000ULL, -3, 7u);
  expect_like_snprintf("%c%c%c", 'a', 'b', 'c');
  expect_like_snprintf("EPT A/D: %s, MAXPHYADDR %u", "yes", 39u);
}

TEST(Format, NullPointerPrintsZeroNotNil) {
  char buf[32];
  EXPECT_EQ(arch::format(buf, sizeof buf, "%p", static_cast<void*>(nullptr)), 3);
  EXPECT_STREQ(buf, "0x0");
  EXPECT_EQ(arch::format(buf, sizeof buf, "[%5p]", static_cast<void*>(nullptr)), 7);
  EXPECT_STREQ(buf, "[  0x0]");
}

TEST(Format, NullStringPrintsPlaceholder) {
  char buf[32];
  const char* none = nullptr;
  const std::string fmt = "%s";  // not a literal: the compiler rejects a literal null %s
  arch::format(buf, sizeof buf, fmt.c_str(), none);
  EXPECT_STREQ(buf, "(null)");
}

TEST(Format, UnsupportedConversionStopsArgumentUse) {
  char buf[64];
  int length = arch::format(buf, sizeof buf, "a=%d %f then %d", 5, 1.5, 6);
  EXPECT_STREQ(buf, "a=5 %f then %d");
  EXPECT_EQ(length, 14);
  const std::string trailing = "trailing %";  // not a literal: the compiler rejects it
  EXPECT_EQ(arch::format(buf, sizeof buf, trailing.c_str()), 10);
  EXPECT_STREQ(buf, "trailing %");
}

TEST(Format, SizeZeroWritesNothingAndReportsLength) {
  char guard = kSentinel;
  EXPECT_EQ(arch::format(&guard, 0, "%d-%s", 12345, "abc"), 9);
  EXPECT_EQ(guard, kSentinel);
  EXPECT_EQ(arch::format(nullptr, 0, "%llu", 18446744073709551615ULL), 20);
}

TEST(Format, HugeWidthIsCountedButNotWrittenPastTheBuffer) {
  char buf[8];
  std::memset(buf, kSentinel, sizeof buf);
  EXPECT_EQ(arch::format(buf, 4, "%100000d", 1), 100000);
  EXPECT_STREQ(buf, "   ");
  EXPECT_EQ(buf[4], kSentinel);
}

}  // namespace
