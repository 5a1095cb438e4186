#!/usr/bin/env python3
"""tools/payload_check.py: identical probes pass, allow-listed differences pass only in their
stated form, anything else (a changed result, a missing probe or run) is a problem."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import payload_check  # noqa: E402


def log(before, after):
    lines = [f"payload[before] probe {p}" for p in before]
    lines += ["\x1b[0mnoise", "payload[after] PASS something"]
    lines += [f"payload[after] probe {p}" for p in after]
    return "\n".join(lines)


BASE = ["ud2 #UD", "rdmsr_unknown none 0", "cpuid_1_ecx_vmx none 1", "vmcall #UD"]


class PayloadCheck(unittest.TestCase):
    def test_identical_runs_pass(self):
        problems, summary = payload_check.compare(log(BASE, BASE))
        self.assertEqual(problems, [])
        self.assertIn("4 compared, 4 identical", summary)

    def test_deliberate_differences_in_their_stated_form_pass(self):
        after = ["ud2 #UD", "rdmsr_unknown none 0", "cpuid_1_ecx_vmx none 0", "vmcall none"]
        problems, summary = payload_check.compare(log(BASE, after))
        self.assertEqual(problems, [])
        self.assertIn("2 deliberate differences", summary)

    def test_deliberate_difference_in_another_form_fails(self):
        after = ["ud2 #UD", "rdmsr_unknown none 0", "cpuid_1_ecx_vmx none 0", "vmcall #GP"]
        problems, _ = payload_check.compare(log(BASE, after))
        self.assertEqual(len(problems), 1)
        self.assertIn("vmcall", problems[0])

    def test_unknown_msr_reading_differently_fails(self):
        after = ["ud2 #UD", "rdmsr_unknown #GP 0", "cpuid_1_ecx_vmx none 1", "vmcall #UD"]
        problems, _ = payload_check.compare(log(BASE, after))
        self.assertEqual(len(problems), 1)
        self.assertIn("rdmsr_unknown", problems[0])

    def test_missing_probe_and_missing_run_fail(self):
        problems, _ = payload_check.compare(log(BASE, BASE[:-1]))
        self.assertEqual(len(problems), 1)
        self.assertIn("missing from the 'after' run", problems[0])
        problems, _ = payload_check.compare(log(BASE, []))
        self.assertIn("no probe lines from the 'after' run", problems[0])


if __name__ == "__main__":
    unittest.main()
