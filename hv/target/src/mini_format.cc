#include "mini_format.h"

#include <cstdint>

namespace hv::detail {
namespace {

class Output {
 public:
  Output(char* buf, size_t size) : buf_(buf), size_(size) {}
  void put(char c) {
    if (length_ + 1 < size_) {
      buf_[length_] = c;
    }
    ++length_;
  }
  void repeat(char c, int count) {
    for (int i = 0; i < count; ++i) {
      put(c);
    }
  }
  void finish() {
    if (size_ > 0) {
      buf_[length_ < size_ ? length_ : size_ - 1] = '\0';
    }
  }
  int length() const { return static_cast<int>(length_); }

 private:
  char* buf_;
  size_t size_;
  size_t length_ = 0;
};

struct Spec {
  bool left = false;
  bool zero = false;
  int width = 0;
  int longs = 0;  // 0: int, 1: long, 2: long long / size_t
};

void emit(Output& out, const Spec& spec, const char* text, int length, bool negative) {
  int pad = spec.width - length - (negative ? 1 : 0);
  if (!spec.left && !spec.zero) {
    out.repeat(' ', pad);
  }
  if (negative) {
    out.put('-');
  }
  if (!spec.left && spec.zero) {
    out.repeat('0', pad);
  }
  for (int i = 0; i < length; ++i) {
    out.put(text[i]);
  }
  if (spec.left) {
    out.repeat(' ', pad);
  }
}

void emit_number(Output& out, const Spec& spec, uint64_t value, unsigned base, bool upper,
                 bool negative) {
  char digits[24];
  int n = 0;
  const char* alphabet = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  do {
    digits[sizeof(digits) - 1 - static_cast<size_t>(n++)] = alphabet[value % base];
    value /= base;
  } while (value != 0);
  emit(out, spec, digits + sizeof(digits) - n, n, negative);
}

uint64_t take_unsigned(const Spec& spec, va_list& args) {
  if (spec.longs == 0) {
    return va_arg(args, unsigned int);
  }
  return spec.longs == 1 ? va_arg(args, unsigned long) : va_arg(args, unsigned long long);
}

int64_t take_signed(const Spec& spec, va_list& args) {
  if (spec.longs == 0) {
    return va_arg(args, int);
  }
  return spec.longs == 1 ? va_arg(args, long) : va_arg(args, long long);
}

}  // namespace

int vformat(char* buf, size_t size, const char* fmt, va_list args) {
  Output out(buf, size);
  va_list ap;
  va_copy(ap, args);
  for (const char* p = fmt; *p != '\0'; ++p) {
    if (*p != '%') {
      out.put(*p);
      continue;
    }
    Spec spec;
    for (++p; *p == '-' || *p == '0'; ++p) {
      (*p == '-' ? spec.left : spec.zero) = true;
    }
    for (; *p >= '0' && *p <= '9'; ++p) {
      spec.width = spec.width * 10 + (*p - '0');
    }
    for (; *p == 'l' || *p == 'h' || *p == 'z'; ++p) {
      spec.longs = *p == 'h' ? 0 : (*p == 'z' ? 2 : spec.longs + 1);
    }
    switch (*p) {
      case 'd':
      case 'i': {
        int64_t v = take_signed(spec, ap);
        uint64_t magnitude = v < 0 ? uint64_t{0} - static_cast<uint64_t>(v) : uint64_t(v);
        emit_number(out, spec, magnitude, 10, false, v < 0);
        break;
      }
      case 'u':
        emit_number(out, spec, take_unsigned(spec, ap), 10, false, false);
        break;
      case 'x':
      case 'X':
        emit_number(out, spec, take_unsigned(spec, ap), 16, *p == 'X', false);
        break;
      case 'p':
        out.put('0');
        out.put('x');
        emit_number(out, spec, reinterpret_cast<uintptr_t>(va_arg(ap, void*)), 16, false, false);
        break;
      case 'c': {
        char c = static_cast<char>(va_arg(ap, int));
        emit(out, spec, &c, 1, false);
        break;
      }
      case 's': {
        const char* s = va_arg(ap, const char*);
        s = s != nullptr ? s : "(null)";
        int n = 0;
        while (s[n] != '\0') {
          ++n;
        }
        emit(out, spec, s, n, false);
        break;
      }
      case '%':
        out.put('%');
        break;
      default:  // unsupported or truncated: stop rather than misread the arguments
        va_end(ap);
        out.finish();
        return out.length();
    }
  }
  va_end(ap);
  out.finish();
  return out.length();
}

}  // namespace hv::detail
