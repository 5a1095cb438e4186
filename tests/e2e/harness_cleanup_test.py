#!/usr/bin/env python3
"""The harness must never leave an emulator behind: after a timeout, after the harness
itself is told to stop (SIGTERM, as CTest or a CI runner would), and after a run that
--until ended while the emulator was still running (on its text: a pass; on a --reject
text: a failure well before the timeout), no process whose command line names the run's
work dir may survive.

Usage: harness_cleanup_test.py --harness tools/harness.py --efi agevisor.efi --workdir DIR
       --emulator bochs|qemu --how timeout|sigterm|until|until_reject
       (exit 0 pass, 1 fail, 77 skip)
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import time


def survivors(workdir):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        # The work dir as a whole path component: "..._after_until" is a prefix of
        # "..._after_until_reject", whose processes may be running beside us.
        mine = re.search(re.escape(workdir) + r"(/|\s|$)", cmdline) is not None
        if mine and "harness_cleanup_test" not in cmdline and state != "Z":
            found.append(f"{entry}: {cmdline.strip()}")
    return found


def emulator_started(workdir, emulator):
    return any(emulator in line and "harness.py" not in line for line in survivors(workdir))


def main():
    parser = argparse.ArgumentParser()
    for name in ("--harness", "--efi", "--workdir", "--emulator", "--how"):
        parser.add_argument(name, required=True)
    args = parser.parse_args()
    workdir = os.path.abspath(args.workdir)
    command = [sys.executable, args.harness, "--emulator", args.emulator, "--efi", args.efi,
               "--workdir", workdir]
    if args.how == "timeout":
        result = subprocess.run(command + ["--timeout", "4"], capture_output=True, text=True)
        print(result.stdout + result.stderr)
        if result.returncode == 77:
            return 77
        if result.returncode != 1 or "timed out" not in result.stdout:
            print(f"FAIL: expected a timeout failure (exit 1), got {result.returncode}")
            return 1
    elif args.how in ("until", "until_reject"):
        # The sentinel comes whether agevisor runs (Bochs) or refuses (QEMU); the shell then
        # idles at its prompt, so only the harness can end the emulator.
        sentinel = "agevisor-e2e: agevisor returned"
        extra = (["--until", sentinel] if args.how == "until" else
                 ["--until", "a line nobody prints", "--reject", sentinel])
        start = time.monotonic()
        result = subprocess.run(command + ["--timeout", "150"] + extra, capture_output=True,
                                text=True)
        elapsed = time.monotonic() - start
        print(result.stdout + result.stderr)
        if result.returncode == 77:
            return 77
        if args.how == "until" and (result.returncode != 0 or
                                    f"PASSED: boot to '{sentinel}'" not in result.stdout):
            print(f"FAIL: expected --until to end the run as passed, got {result.returncode}")
            return 1
        if args.how == "until_reject":
            if result.returncode != 1 or "stopped early on forbidden text" not in result.stdout:
                print(f"FAIL: expected an early failure on the --reject text, got "
                      f"{result.returncode}")
                return 1
            if elapsed > 140:
                print(f"FAIL: the run took {elapsed:.0f} s: it waited for the timeout")
                return 1
    else:
        harness = subprocess.Popen(command + ["--timeout", "120"], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 20
        while not emulator_started(workdir, args.emulator) and time.monotonic() < deadline:
            if harness.poll() is not None:
                out = harness.stdout.read()
                print(out)
                return 77 if harness.returncode == 77 else 1
            time.sleep(0.2)
        time.sleep(1)
        harness.send_signal(signal.SIGTERM)
        out, _ = harness.communicate(timeout=30)
        print(out)
    time.sleep(0.5)
    left = survivors(workdir)
    if left:
        print("FAIL: processes survived the harness:\n  " + "\n  ".join(left))
        return 1
    print(f"ok: no {args.emulator} process left after {args.how}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
