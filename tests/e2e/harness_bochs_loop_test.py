#!/usr/bin/env python3
"""tools/harness.py: Bochs 3.0 or newer with several CPUs runs in its debugger's loop (-dbg),
because its own SMP loop saves a stale RIP in VM exits (docs/smp.md); one CPU, or Bochs 2.7
(whose debugger loop always runs), gets no extra argument. Fake Bochs binaries print only
the version banner the harness reads."""
import os
import stat
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import harness  # noqa: E402


def fake_bochs(directory, banner):
    path = os.path.join(directory, "bochs-" + banner.replace(" ", "_"))
    with open(path, "w") as f:
        f.write(f"#!/bin/sh\necho '                       {banner}'\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


class BochsLoop(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def test_bochs_3_with_two_cpus_runs_the_debugger_loop(self):
        bochs = fake_bochs(self.dir.name, "Bochs x86 Emulator 3.0")
        self.assertEqual(harness.smp_loop_arguments(bochs, 2), ["-dbg"])

    def test_bochs_3_with_one_cpu_runs_its_own_loop(self):
        bochs = fake_bochs(self.dir.name, "Bochs x86 Emulator 3.0")
        self.assertEqual(harness.smp_loop_arguments(bochs, 1), [])

    def test_bochs_2_7_needs_nothing(self):
        bochs = fake_bochs(self.dir.name, "Bochs x86 Emulator 2.7")
        self.assertEqual(harness.smp_loop_arguments(bochs, 3), [])

    def test_the_command_line_carries_it(self):
        bochs = fake_bochs(self.dir.name, "Bochs x86 Emulator 3.0")
        args = harness.argparse.Namespace(bochs=bochs, cpu="ivy_bridge", memory=256, cpus=2,
                                          bochs_errors=False)
        old = os.environ.pop("AGEVISOR_BOCHS", None)
        try:
            command, _ = harness.bochs_command(args, self.dir.name,
                                               os.path.join(self.dir.name, "disk.img"))
        finally:
            if old is not None:
                os.environ["AGEVISOR_BOCHS"] = old
        self.assertEqual(command[:3], [bochs, "-q", "-dbg"])


if __name__ == "__main__":
    unittest.main()
