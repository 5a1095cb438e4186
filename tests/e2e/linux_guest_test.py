#!/usr/bin/env python3
"""Runs tools/harness.py with the Linux guest (tools/make-linux-guest) on the disk, or reports
SKIPPED when the guest could not be built.

Usage: linux_guest_test.py --guest-dir DIR [--check-hypervisor-memory] -- PYTHON HARNESS
       [harness arguments, with --workdir W...]

DIR must hold vmlinuz.efi and initrd.img (the e2e.linux_guest_artifacts fixture builds them);
they are added to the harness's disk with --extra-file. If they are missing, the builder's
DIR/skip-reason (no package registry, no apt) makes this a skip (exit 77) with that reason,
never a pass; without a reason it is a failure.

--check-hypervisor-memory: after the harness passed, agevisor's memory (its "vmx: region"
and "boot: image copy" lines) must lie outside every "System RAM" range Linux listed in
/proc/iomem (/init prints them as "linux-e2e: iomem: START-END : System RAM"): the OS must
not own the hypervisor's pages.
"""
import ctypes
import os
import re
import signal
import subprocess
import sys

EXIT_FAIL, EXIT_SKIP = 1, 77
HV_RANGES = [re.compile(r"vmx: region (0x[0-9a-f]+) \+ (\d+) pages"),
             re.compile(r"boot: image copy (0x[0-9a-f]+) \+ (\d+) pages")]
SYSTEM_RAM = re.compile(r"linux-e2e: iomem: ([0-9a-f]+)-([0-9a-f]+) : System RAM")


def say(message):
    print(f"linux-guest: {message}", flush=True)


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("latin-1").replace("\r", "")
    except OSError:
        return ""


def check_hypervisor_memory(workdir):
    text = read(os.path.join(workdir, "bochs.out")) + read(os.path.join(workdir, "serial.log"))
    hv = []
    for pattern in HV_RANGES:
        m = pattern.search(text)
        if not m:
            say(f"FAILED: no '{pattern.pattern}' line from agevisor")
            return False
        start = int(m.group(1), 16)
        hv.append((start, start + int(m.group(2)) * 4096 - 1))
    ram = [(int(a, 16), int(b, 16)) for a, b in SYSTEM_RAM.findall(text)]
    if not ram:
        say("FAILED: no 'linux-e2e: iomem: ... : System RAM' lines from /init")
        return False
    for hs, he in hv:
        for rs, re_ in ram:
            if hs <= re_ and rs <= he:
                say(f"FAILED: agevisor's memory {hs:#x}-{he:#x} overlaps Linux's System RAM "
                    f"{rs:#x}-{re_:#x}")
                return False
    shown = ", ".join(f"{s:#x}-{e:#x}" for s, e in hv)
    say(f"agevisor's memory ({shown}) lies outside Linux's {len(ram)} System RAM ranges")
    return True


def die_with_parent():
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def main():
    argv = sys.argv[1:]
    if "--" not in argv:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return EXIT_FAIL
    ours, command = argv[:argv.index("--")], argv[argv.index("--") + 1:]
    check_memory = "--check-hypervisor-memory" in ours
    if "--check-hypervisor-memory" in ours:
        ours.remove("--check-hypervisor-memory")
    if len(ours) != 2 or ours[0] != "--guest-dir" or not command:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return EXIT_FAIL
    guest_dir = ours[1]
    files = [os.path.join(guest_dir, n) for n in ("vmlinuz.efi", "initrd.img")]
    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        try:
            with open(os.path.join(guest_dir, "skip-reason")) as f:
                reason = f.read().strip()
        except OSError:
            say(f"FAILED: {', '.join(missing)} missing and no skip reason "
                f"(did the e2e.linux_guest_artifacts fixture run?)")
            return EXIT_FAIL
        say(f"SKIPPED: the Linux guest could not be built: {reason}")
        return EXIT_SKIP
    for f in files:
        command += ["--extra-file", f]
    if not check_memory:
        os.execv(command[0], command)  # the harness itself, so CTest's signals reach it
    workdir = command[command.index("--workdir") + 1]
    harness = subprocess.Popen(command, preexec_fn=die_with_parent)

    def forward(signum, _frame):
        harness.send_signal(signum)  # the harness kills its emulator and exits

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, forward)
    status = harness.wait()
    if status != 0:
        return status
    return 0 if check_hypervisor_memory(workdir) else EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
