#!/usr/bin/env python3
"""Compares the payload's probe lines of a run without agevisor with those of a run under it.

tests/e2e/payload (payload.efi) prints one line per probed instruction:

    payload[<label>] probe <name> <result> [<value>...]

where <result> is the exception the instruction raised ("none", "#UD", "#GP", "#DB", ...)
and the values are what it read. Run once before agevisor (label "before") and once after
(label "after"), every probe must give the same line, except for what agevisor changes on
purpose: the DELIBERATE allow-list below, each with the reason and what the run under
agevisor must show instead. Anything else that differs is a transparency bug.

Usable as a module (tools/harness.py --compare-probes) or on log files:

    tools/payload_check.py build/efi/tests/e2e/<test>/bochs.out
"""
import argparse
import re
import sys

PROBE = re.compile(r"payload\[(?P<label>[\w-]+)\] probe (?P<name>\S+) (?P<result>.*?)\s*$")

# name -> (why agevisor changes it, regex the run under agevisor must match when it differs)
DELIBERATE = {
    "cpuid_1_ecx_hypervisor": (
        "CPUID.1:ECX[31] announces a hypervisor (the hide option keeps it clear)", r"none 1"),
    "cpuid_40000000": (
        "leaf 0x40000000: max leaf and \"agevisor\" + four zero bytes (without a hypervisor the "
        "processor answers an out-of-range leaf with its highest basic leaf)",
        r"none 40000000 76656761 726f7369 00000000"),
    "cpuid_1_ecx_vmx": ("VMX is hidden from the guest", r"none 0"),
    "mov_cr4_vmxe": ("VMX hidden: CR4.VMXE is reserved for the guest, setting it is #GP", r"#GP"),
    "rdmsr_vmx_basic": ("VMX hidden: the VMX capability MSRs raise #GP", r"#GP\b.*"),
    "rdmsr_feature_control": (
        "agevisor locks IA32_FEATURE_CONTROL with VMX enabled before VMXON; the lock holds "
        "until reset, no hypervisor can undo it", r"none 0x[0-9a-f]*[13579bdf]"),
    "vmcall": ("VMCALL is agevisor's hypercall interface (#UD without a hypervisor)", r"none"),
    "vmcall_single_step": (
        "VMCALL completes under agevisor, so the single-step trap follows it", r"#DB"),
}


def parse(text):
    """{label: {probe name: result}} from log text (repeated lines must agree)."""
    runs = {}
    for line in text.splitlines():
        m = PROBE.search(line)
        if m:
            runs.setdefault(m.group("label"), {})[m.group("name")] = m.group("result")
    return runs


def compare(text, before="before", after="after"):
    """(problems, summary): problems is a list of strings, empty when transparent."""
    runs = parse(text)
    problems = []
    for label in (before, after):
        if not runs.get(label):
            problems.append(f"no probe lines from the '{label}' run")
    if problems:
        return problems, "probes: nothing to compare"
    a, b = runs[before], runs[after]
    deliberate = 0
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            where = before if name not in a else after
            problems.append(f"probe {name}: missing from the '{where}' run")
            continue
        if a[name] == b[name]:
            continue
        if name in DELIBERATE:
            why, expected = DELIBERATE[name]
            if re.fullmatch(expected, b[name]):
                deliberate += 1
                continue
            problems.append(f"probe {name}: '{a[name]}' without agevisor, '{b[name]}' under it "
                            f"(a deliberate difference, but not the expected '{expected}': {why})")
        else:
            problems.append(f"probe {name}: '{a[name]}' without agevisor, '{b[name]}' under it")
    total = len(set(a) | set(b))
    return problems, (f"probes: {total} compared, {total - deliberate - len(problems)} identical, "
                      f"{deliberate} deliberate differences, {len(problems)} problems")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="+", help="log files holding both runs' probe lines")
    parser.add_argument("--before", default="before", help="label of the run without agevisor")
    parser.add_argument("--after", default="after", help="label of the run under agevisor")
    args = parser.parse_args()
    text = ""
    for path in args.logs:
        with open(path, "rb") as f:
            text += f.read().decode("latin-1").replace("\r", "") + "\n"
    problems, summary = compare(text, args.before, args.after)
    for p in problems:
        print(f"payload_check: {p}")
    print(f"payload_check: {summary}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
