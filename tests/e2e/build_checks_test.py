#!/usr/bin/env python3
"""Tests for the build's own guards, run by CTest in the efi build tree (label "efi").

Each case builds a small object the way the efi build does and runs the guard on it:
  tools/check-efi-link    must reject a constructor, a non-RELATIVE relocation (reference to
                          an undefined symbol through the GOT), a relocation section that
                          is not .rela, and accept a good image with RELATIVE relocations;
  tools/check-general-regs must reject SSE code (compiled without -mgeneral-regs-only, inline
                          assembly, NASM) and accept general-register code.
Bad links are made without --no-undefined (GNU-EFI's own recipe), because the check must
hold even where ld would not have stopped them.

Usage: build_checks_test.py --case NAME --config JSON   (exit 0 pass, 1 fail)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

GOOD = r"""
struct Op { int (*apply)(int); const char* name; };
static int twice(int x) { return 2 * x; }
static int thrice(int x) { return 3 * x; }
constinit const Op kOps[] = {{twice, "twice"}, {thrice, "thrice"}};  // RELATIVE relocations
extern "C" long efi_main(void* image, void*) {
  unsigned long i = reinterpret_cast<unsigned long>(image) & 1;
  return kOps[i].apply(3) + kOps[i].name[0];
}
"""

CONSTRUCTOR = r"""
extern "C" volatile int sink;
volatile int sink = 0;
struct Logger { Logger() { sink = 1; } };
Logger logger;  // dynamic initialisation: .init_array, which GNU-EFI never runs
extern "C" long efi_main(void*, void*) { return sink; }
"""

UNDEFINED_VIA_GOT = r"""
extern int firmware_value;  // never defined: GLOB_DAT relocation + undefined symbol
extern "C" long efi_main(void*, void*) { return firmware_value; }
"""

OWN_SECTION = r"""
static int x = 5;
// a pointer in a section the linker script does not know: its relocation lands in .rela.dyn
__attribute__((section(".mydata"), used)) int* p = &x;
extern "C" long efi_main(void*, void*) { return *p; }
"""

FLOAT_MATH = r"""
extern "C" double scale(double a, double b) { return a * b + 0.5; }
"""

INLINE_SSE = r"""
extern "C" void clear_xmm() { asm volatile("pxor %xmm0, %xmm0"); }
"""

INTEGER_ONLY = r"""
extern "C" unsigned long mix(unsigned long a, unsigned long b) { return (a << 7) ^ (b * 31); }
struct Big { unsigned long v[32]; };
extern "C" void copy(Big* d, const Big* s) { *d = *s; }  // would use SSE moves if allowed
"""

NASM_SSE = """
default rel
section .text
global load_vector
load_vector:
    movdqu xmm0, [rsi]
    ret
"""

NASM_GENERAL = """
default rel
section .text
global add_one
add_one:
    lea rax, [rdi + 1]
    ret
"""


class Case:
    def __init__(self, config, workdir):
        self.c = config
        self.dir = workdir

    def run(self, cmd):
        return subprocess.run(cmd, capture_output=True, text=True)

    def compile(self, name, source, extra=()):
        src = os.path.join(self.dir, name + ".cc")
        obj = os.path.join(self.dir, name + ".o")
        with open(src, "w") as f:
            f.write(source)
        r = self.run([self.c["cxx"], "-std=c++20", "-O2", *self.c["cxx_flags"], *extra, "-c",
                      src, "-o", obj])
        if r.returncode != 0:
            raise RuntimeError(f"compile {name} failed:\n{r.stderr}")
        return obj

    def assemble(self, name, source):
        src = os.path.join(self.dir, name + ".asm")
        obj = os.path.join(self.dir, name + ".o")
        with open(src, "w") as f:
            f.write(source)
        r = self.run([self.c["nasm"], "-f", "elf64", src, "-o", obj])
        if r.returncode != 0:
            raise RuntimeError(f"nasm {name} failed:\n{r.stderr}")
        return obj

    def link(self, obj, strict):
        out = obj[:-2] + (".strict.so" if strict else ".so")
        cmd = [self.c["ld"], "-nostdlib", "-shared", "-Bsymbolic", "-z", "text"]
        if strict:
            cmd.append("--no-undefined")
        cmd += ["-T", self.c["lds"], "-o", out, self.c["crt0"], obj, "-L" + self.c["libdir"],
                "-lefi", "-lgnuefi"]
        return self.run(cmd), out

    def check_link(self, image):
        return self.run([sys.executable, self.c["check_efi_link"], "--readelf",
                         self.c["readelf"], image])

    def check_regs(self, obj):
        return self.run([sys.executable, self.c["check_general_regs"], "--objdump",
                         self.c["objdump"], obj])


def expect(result, ok, needle, what):
    output = result.stdout + result.stderr
    print(output.rstrip())
    if (result.returncode == 0) != ok:
        print(f"FAIL: {what}: expected {'success' if ok else 'rejection'}, "
              f"exit code {result.returncode}")
        return False
    if needle and needle not in output:
        print(f"FAIL: {what}: output lacks '{needle}'")
        return False
    print(f"ok: {what}")
    return True


def case_link(t, source, ok, needle):
    r, image = t.link(t.compile("case", source), strict=False)
    if r.returncode != 0:
        print(f"FAIL: link failed:\n{r.stderr}")
        return False
    return expect(t.check_link(image), ok, needle, "check-efi-link verdict")


CASES = {
    "link_accepts_relative_only": lambda t: case_link(t, GOOD, True, "RELATIVE relocations"),
    "link_rejects_constructor": lambda t: case_link(t, CONSTRUCTOR, False, ".init_array"),
    "link_rejects_got_reference": lambda t: (
        case_link(t, UNDEFINED_VIA_GOT, False, "R_X86_64_GLOB_DAT")
        and case_link(t, UNDEFINED_VIA_GOT, False, "undefined symbol firmware_value")
        and expect(t.link(t.compile("strict", UNDEFINED_VIA_GOT), strict=True)[0], False,
                   "firmware_value", "ld --no-undefined stops it too")),
    "link_rejects_stray_rela_section": lambda t: case_link(t, OWN_SECTION, False, ".rela.dyn"),
    "regs_rejects_sse_compiled_code": lambda t: expect(
        t.check_regs(t.compile("case", FLOAT_MATH)), False, "xmm", "float code without flag"),
    "regs_rejects_inline_sse": lambda t: expect(
        t.check_regs(t.compile("case", INLINE_SSE, ["-mgeneral-regs-only"])), False, "xmm0",
        "inline assembly slips past -mgeneral-regs-only"),
    "regs_rejects_nasm_sse": lambda t: expect(
        t.check_regs(t.assemble("case", NASM_SSE)), False, "load_vector", "NASM stub"),
    "regs_accepts_general_registers": lambda t: (
        expect(t.check_regs(t.compile("case", INTEGER_ONLY, ["-mgeneral-regs-only"])), True,
               "general registers only", "integer code")
        and expect(t.check_regs(t.assemble("stub", NASM_GENERAL)), True,
                   "general registers only", "general-register NASM stub")),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", required=True, choices=sorted(CASES))
    parser.add_argument("--config", required=True, help="JSON written by CMake")
    args = parser.parse_args()
    with open(args.config) as f:
        config = json.load(f)
    with tempfile.TemporaryDirectory(prefix=args.case + ".") as workdir:
        try:
            passed = CASES[args.case](Case(config, workdir))
        except RuntimeError as e:
            print(f"FAIL: {e}")
            passed = False
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
