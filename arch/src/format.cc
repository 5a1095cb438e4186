#include "arch/format.h"

#include <cstdint>
#include <limits>
#include <type_traits>

namespace arch {
namespace {

// Bounded writer: counts every byte, stores only those that fit before the terminator.
class Output {
 public:
  Output(char* buf, size_t size) : buf_(buf), size_(size) {}

  void repeat(char c, size_t count) {
    size_t room = pos_ + 1 < size_ ? size_ - 1 - pos_ : 0;
    size_t stored = count < room ? count : room;
    for (size_t i = 0; i < stored; ++i)
      buf_[pos_ + i] = c;
    pos_ += count;
  }

  void put(char c) { repeat(c, 1); }

  void write(const char* text, size_t count) {
    size_t room = pos_ + 1 < size_ ? size_ - 1 - pos_ : 0;
    size_t stored = count < room ? count : room;
    for (size_t i = 0; i < stored; ++i)
      buf_[pos_ + i] = text[i];
    pos_ += count;
  }

  void finish() {
    if (size_ != 0)
      buf_[pos_ < size_ ? pos_ : size_ - 1] = '\0';
  }

  size_t length() const { return pos_; }

 private:
  char* buf_;
  size_t size_;
  size_t pos_ = 0;
};

enum class Length : uint8_t { kNone, kChar, kShort, kLong, kLongLong, kSize, kIntmax, kPtrdiff };

struct Spec {
  bool left = false;
  bool zero = false;
  bool plus = false;
  bool space = false;
  bool alternate = false;
  size_t width = 0;
  int precision = -1;  // -1: none given
  Length length = Length::kNone;
  char conversion = 0;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Digits of a width or precision; saturates instead of overflowing.
int parse_number(const char*& p) {
  int value = 0;
  for (; is_digit(*p); ++p) {
    int digit = *p - '0';
    value = value > (std::numeric_limits<int>::max() - digit) / 10 ? std::numeric_limits<int>::max()
                                                                   : value * 10 + digit;
  }
  return value;
}

size_t string_length(const char* s, int precision) {
  size_t n = 0;
  while ((precision < 0 || n < static_cast<size_t>(precision)) && s[n] != '\0')
    ++n;
  return n;
}

class Formatter {
 public:
  Formatter(char* buf, size_t size, va_list args) : out_(buf, size) { va_copy(args_, args); }
  ~Formatter() { va_end(args_); }
  Formatter(const Formatter&) = delete;
  Formatter& operator=(const Formatter&) = delete;

  size_t run(const char* fmt);

 private:
  // Parses flags, width, precision, length and conversion after a '%'; false if the
  // conversion is not supported.
  bool parse(const char*& p, Spec& spec);
  void parse_flags(const char*& p, Spec& spec);
  void parse_length(const char*& p, Spec& spec);
  bool convert(Spec& spec);
  int64_t signed_argument(Length length);
  uint64_t unsigned_argument(Length length);
  void integer(const Spec& spec, uint64_t magnitude, char sign, unsigned base, bool upper,
               const char* prefix);
  void string(const Spec& spec, const char* s);

  Output out_;
  va_list args_;
};

size_t Formatter::run(const char* fmt) {
  const char* p = fmt;
  while (*p != '\0') {
    if (*p != '%') {
      out_.put(*p++);
      continue;
    }
    const char* start = p++;
    Spec spec;
    if (!parse(p, spec) || !convert(spec)) {
      // The argument's type is unknown, so no later argument can be located safely.
      out_.write(start, string_length(start, -1));
      break;
    }
  }
  out_.finish();
  return out_.length();
}

void Formatter::parse_flags(const char*& p, Spec& spec) {
  for (;; ++p) {
    switch (*p) {
      case '-':
        spec.left = true;
        continue;
      case '0':
        spec.zero = true;
        continue;
      case '+':
        spec.plus = true;
        continue;
      case ' ':
        spec.space = true;
        continue;
      case '#':
        spec.alternate = true;
        continue;
      default:
        return;
    }
  }
}

void Formatter::parse_length(const char*& p, Spec& spec) {
  switch (*p) {
    case 'h':
      spec.length = p[1] == 'h' ? Length::kChar : Length::kShort;
      p += spec.length == Length::kChar ? 2 : 1;
      return;
    case 'l':
      spec.length = p[1] == 'l' ? Length::kLongLong : Length::kLong;
      p += spec.length == Length::kLongLong ? 2 : 1;
      return;
    case 'z':
      spec.length = Length::kSize;
      ++p;
      return;
    case 'j':
      spec.length = Length::kIntmax;
      ++p;
      return;
    case 't':
      spec.length = Length::kPtrdiff;
      ++p;
      return;
    default:
      return;
  }
}

bool Formatter::parse(const char*& p, Spec& spec) {
  parse_flags(p, spec);
  if (*p == '*') {
    ++p;
    int width = va_arg(args_, int);
    spec.left = spec.left || width < 0;
    spec.width =
        width < 0 ? static_cast<size_t>(-static_cast<int64_t>(width)) : static_cast<size_t>(width);
  } else {
    spec.width = static_cast<size_t>(parse_number(p));
  }
  if (*p == '.') {
    ++p;
    if (*p == '*') {
      ++p;
      int precision = va_arg(args_, int);
      spec.precision = precision < 0 ? -1 : precision;
    } else {
      spec.precision = parse_number(p);
    }
  }
  parse_length(p, spec);
  spec.conversion = *p;
  if (spec.conversion == '\0')
    return false;
  ++p;
  return true;
}

int64_t Formatter::signed_argument(Length length) {
  switch (length) {
    case Length::kChar:
      return static_cast<signed char>(va_arg(args_, int));
    case Length::kShort:
      return static_cast<short>(va_arg(args_, int));
    case Length::kLong:
      return va_arg(args_, long);
    case Length::kLongLong:
      return va_arg(args_, long long);
    case Length::kSize:
      return va_arg(args_, std::make_signed_t<size_t>);
    case Length::kIntmax:
      return va_arg(args_, intmax_t);
    case Length::kPtrdiff:
      return va_arg(args_, ptrdiff_t);
    case Length::kNone:
      break;
  }
  return va_arg(args_, int);
}

uint64_t Formatter::unsigned_argument(Length length) {
  switch (length) {
    case Length::kChar:
      return static_cast<unsigned char>(va_arg(args_, unsigned));
    case Length::kShort:
      return static_cast<unsigned short>(va_arg(args_, unsigned));
    case Length::kLong:
      return va_arg(args_, unsigned long);
    case Length::kLongLong:
      return va_arg(args_, unsigned long long);
    case Length::kSize:
      return va_arg(args_, size_t);
    case Length::kIntmax:
      return va_arg(args_, uintmax_t);
    case Length::kPtrdiff:
      return static_cast<uint64_t>(va_arg(args_, ptrdiff_t));
    case Length::kNone:
      break;
  }
  return va_arg(args_, unsigned);
}

bool Formatter::convert(Spec& spec) {
  switch (spec.conversion) {
    case '%':
      out_.put('%');
      return true;
    case 'c': {
      // Not through string(): a NUL character is still one byte of output.
      char c = static_cast<char>(va_arg(args_, int));
      size_t pad = spec.width > 1 ? spec.width - 1 : 0;
      out_.repeat(' ', spec.left ? 0 : pad);
      out_.put(c);
      out_.repeat(' ', spec.left ? pad : 0);
      return true;
    }
    case 's': {
      const char* s = va_arg(args_, const char*);
      string(spec, s != nullptr ? s : "(null)");
      return true;
    }
    case 'd':
    case 'i': {
      int64_t value = signed_argument(spec.length);
      uint64_t magnitude =
          value < 0 ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
      char sign = value < 0 ? '-' : spec.plus ? '+' : spec.space ? ' ' : '\0';
      integer(spec, magnitude, sign, 10, false, "");
      return true;
    }
    case 'u':
      integer(spec, unsigned_argument(spec.length), '\0', 10, false, "");
      return true;
    case 'o':
      integer(spec, unsigned_argument(spec.length), '\0', 8, false, "");
      return true;
    case 'x':
    case 'X': {
      bool upper = spec.conversion == 'X';
      uint64_t value = unsigned_argument(spec.length);
      const char* prefix = spec.alternate && value != 0 ? (upper ? "0X" : "0x") : "";
      integer(spec, value, '\0', 16, upper, prefix);
      return true;
    }
    case 'p': {
      auto value = reinterpret_cast<uintptr_t>(va_arg(args_, void*));
      integer(spec, value, '\0', 16, false, "0x");
      return true;
    }
    default:
      return false;
  }
}

void Formatter::integer(const Spec& spec, uint64_t magnitude, char sign, unsigned base, bool upper,
                        const char* prefix) {
  const char* digit_chars = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  char digits[24];  // 64 bits in octal: 22 digits
  size_t count = 0;
  // C: precision 0 with value 0 prints no digits (unless %#o, which keeps its 0).
  bool no_digits = magnitude == 0 && spec.precision == 0;
  for (uint64_t v = magnitude; !no_digits && (v != 0 || count == 0); v /= base)
    digits[count++] = digit_chars[v % base];
  size_t min_digits = spec.precision < 0 ? 0 : static_cast<size_t>(spec.precision);
  if (base == 8 && spec.alternate && (count == 0 || digits[count - 1] != '0') &&
      min_digits <= count)
    min_digits = count + 1;
  size_t zeros = min_digits > count ? min_digits - count : 0;
  size_t prefix_length = string_length(prefix, -1);
  size_t body = (sign != '\0' ? 1 : 0) + prefix_length + zeros + count;
  size_t pad = spec.width > body ? spec.width - body : 0;
  bool zero_pad = spec.zero && !spec.left && spec.precision < 0;

  if (!spec.left && !zero_pad)
    out_.repeat(' ', pad);
  if (sign != '\0')
    out_.put(sign);
  out_.write(prefix, prefix_length);
  if (zero_pad)
    out_.repeat('0', pad);
  out_.repeat('0', zeros);
  while (count > 0)
    out_.put(digits[--count]);
  if (spec.left)
    out_.repeat(' ', pad);
}

void Formatter::string(const Spec& spec, const char* s) {
  size_t length = string_length(s, spec.precision);
  size_t pad = spec.width > length ? spec.width - length : 0;
  if (!spec.left)
    out_.repeat(' ', pad);
  out_.write(s, length);
  if (spec.left)
    out_.repeat(' ', pad);
}

}  // namespace

int vformat(char* buf, size_t size, const char* fmt, va_list args) {
  Formatter formatter(buf, size, args);
  size_t length = formatter.run(fmt);
  constexpr auto kMax = static_cast<size_t>(std::numeric_limits<int>::max());
  return static_cast<int>(length < kMax ? length : kMax);
}

int format(char* buf, size_t size, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  int length = vformat(buf, size, fmt, args);
  va_end(args);
  return length;
}

}  // namespace arch
