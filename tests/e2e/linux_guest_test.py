#!/usr/bin/env python3
"""Runs tools/harness.py with the Linux guest (tools/make-linux-guest) on the disk, or reports
SKIPPED when the guest could not be built.

Usage: linux_guest_test.py --guest-dir DIR -- PYTHON HARNESS [harness arguments...]

DIR must hold vmlinuz.efi and initrd.img (the e2e.linux_guest_artifacts fixture builds them);
they are added to the harness's disk with --extra-file. If they are missing, the builder's
DIR/skip-reason (no package registry, no apt) makes this a skip (exit 77) with that reason,
never a pass; without a reason it is a failure.
"""
import os
import sys

EXIT_FAIL, EXIT_SKIP = 1, 77


def main():
    argv = sys.argv[1:]
    if len(argv) < 4 or argv[0] != "--guest-dir" or argv[2] != "--":
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return EXIT_FAIL
    guest_dir, command = argv[1], argv[3:]
    files = [os.path.join(guest_dir, n) for n in ("vmlinuz.efi", "initrd.img")]
    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        try:
            with open(os.path.join(guest_dir, "skip-reason")) as f:
                reason = f.read().strip()
        except OSError:
            print(f"linux-guest: FAILED: {', '.join(missing)} missing and no skip reason "
                  f"(did the e2e.linux_guest_artifacts fixture run?)", flush=True)
            return EXIT_FAIL
        print(f"linux-guest: SKIPPED: the Linux guest could not be built: {reason}", flush=True)
        return EXIT_SKIP
    for f in files:
        command += ["--extra-file", f]
    os.execv(command[0], command)  # the harness itself, so CTest's signals reach it


if __name__ == "__main__":
    sys.exit(main())
