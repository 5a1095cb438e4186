#!/usr/bin/env python3
"""Boots agevisor.efi in Bochs or QEMU (with OVMF) unattended and checks its logs.

The image: a raw FAT32 disk (no partition table) holding agevisor.efi and a startup.nsh.
OVMF finds no EFI/BOOT/BOOTX64.EFI on it, falls through to its built-in UEFI shell, and the
shell runs startup.nsh from FS0:, which runs the --before commands, starts agevisor with
the load options and, once agevisor returns, echoes a sentinel line (with the shell's
%lasterror%): that is how a test knows the firmware went on. Then it runs the --after
commands (guest tools and payloads put on the disk with --extra-file), each followed by its
%lasterror%, and echoes a last line that ends the run. Under QEMU the script can end by writing a value to the
isa-debug-exit port, which makes QEMU exit with status (value << 1) | 1.

Logs kept in the work dir: serial.log (COM1, which OVMF's console also uses), e9.log (port
0xE9: agevisor's own lines, nothing else), bochs.log / bochs.out or qemu.out, and for
Bochs screen.log (its term display's curses output, drained so Bochs never blocks on it).

The emulator runs in its own process group, gets SIGKILL when we are done (Bochs 2.7 ignores
SIGTERM), children first, in a `finally`, and is also killed by the kernel if this script
dies (PR_SET_PDEATHSIG): no stray emulator survives a failure, a timeout or Ctrl-C.

Exit codes: 0 passed, 1 failed, 77 skipped (the emulator or firmware cannot do what the
case needs; CTest's SKIP_RETURN_CODE).

Environment: AGEVISOR_BOCHS (another Bochs binary, e.g. a 3.0 build), AGEVISOR_QEMU,
AGEVISOR_OVMF (firmware image, default /usr/share/ovmf/OVMF.fd), AGEVISOR_BOCHS_TIME0 (Bochs'
clock start in seconds since 1970 instead of the host's time: with it a run is repeatable,
which is how a failure that depends on timing is reproduced).
"""
import argparse
import ctypes
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import payload_check  # tools/payload_check.py, beside this script

EXIT_PASS, EXIT_FAIL, EXIT_SKIP = 0, 1, 77
SENTINEL = "agevisor-e2e: agevisor returned"  # followed by the shell's %lasterror%
DONE = "agevisor-e2e: script done"  # the last line of startup.nsh: the run is over
DISK_BYTES = 130 * 16 * 63 * 512  # whole cylinders, so Bochs takes the flat image as is
# Bochs' own start-up chatter on stdout, around the port 0xE9 bytes.
BOCHS_NOISE = re.compile(r"^\d{11}[a-z]\[|^ALSA lib|^Bochs connected|^=+$|"
                         r"^\s+(Bochs x86 Emulator|Built from|Timestamp)|^Next at t=|^\(\d+\) \[0x")
ANSI = re.compile(r"\x1b\[[0-9;=?]*[A-Za-z]|\x1b[()][0-9A-Za-z]")

BOCHS_MODELS = {
    "ivy_bridge": "corei7_ivy_bridge_3770k",  # VMX + EPT, no EPT A/D
    "haswell": "corei7_haswell_4770",  # VMX + EPT with A/D
}


class Skip(Exception):
    pass


def log(message):
    print(f"harness: {message}", flush=True)


def find_tool(env_var, name, default=None):
    """The binary: the environment variable's, else `default` (a case's own choice), else
    the one on PATH."""
    path = os.environ.get(env_var) or default or shutil.which(name)
    if not path or not os.access(path, os.X_OK):
        why = ""
        reason_file = os.path.join(os.path.dirname(path), "skip-reason") if path else ""
        if reason_file and os.path.exists(reason_file):
            why = ": " + read(reason_file).strip()
        raise Skip(f"{path or name} not found{why} (install it with tools/setup or set {env_var})")
    # The emulator runs in the work directory: a relative path must not change meaning.
    return os.path.abspath(path) if os.sep in path else path


@functools.lru_cache(maxsize=None)
def bochs_version(bochs):
    """The version the Bochs binary prints in its banner, as a tuple ((0,) if unknown).
    A run without a disk prints the banner and stops at once. Asked once per binary (by
    --min-bochs and by the choice of Bochs' loop)."""
    try:
        out = subprocess.run([bochs, "-n", "-q", "display_library: nogui", "megs: 16",
                              "boot: disk"], stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return (0,)
    match = re.search(r"Bochs x86 Emulator (\d+)\.(\d+)", out)
    return (int(match.group(1)), int(match.group(2))) if match else (0,)


def require_bochs(args):
    """--min-bochs: SKIPPED (never passed) when the Bochs in use is older."""
    if args.min_bochs is None or args.emulator != "bochs":
        return
    wanted = tuple(int(p) for p in args.min_bochs.split("."))
    bochs = find_tool("AGEVISOR_BOCHS", "bochs", args.bochs)
    have = bochs_version(bochs)
    if have < wanted:
        shown = ".".join(str(p) for p in have) if have != (0,) else "unknown"
        raise Skip(f"needs Bochs {args.min_bochs} or newer, {bochs} is {shown}: "
                   f"{args.min_bochs_reason} (set AGEVISOR_BOCHS to a newer build)")


def firmware():
    path = os.environ.get("AGEVISOR_OVMF", "/usr/share/ovmf/OVMF.fd")
    if not os.path.isfile(path):
        raise Skip(f"OVMF firmware {path} not found (package ovmf, or set AGEVISOR_OVMF)")
    return path


def startup_script(options, exit_value, before=(), after=(), agevisor=True):
    lines = ["@echo -off", "fs0:"]
    for command in before:
        lines += [f"echo agevisor-e2e: before: {command}", command]
    if agevisor:
        lines += ["echo agevisor-e2e: starting agevisor", f"agevisor.efi {options}".rstrip(),
                  f"echo {SENTINEL} %lasterror%"]
    else:
        lines.append("echo agevisor-e2e: agevisor not started (--no-agevisor)")
    for command in after:
        lines += [f"echo agevisor-e2e: after: {command}", command,
                  f"echo agevisor-e2e: returned %lasterror%"]
    lines.append(f"echo {DONE}")
    if exit_value is not None:
        # UEFI shell `mm` writes an I/O port; QEMU's isa-debug-exit then ends the VM.
        lines.append(f"mm F4 {exit_value:x} -IO -w 1")
    return "\r\n".join(lines) + "\r\n"


def build_disk(workdir, efi, options, exit_value, before=(), after=(), extra_files=(),
               agevisor=True, boot_loader=False):
    disk = os.path.join(workdir, "disk.img")
    with open(disk, "wb") as f:
        f.truncate(DISK_BYTES)
    subprocess.run(["mkfs.vfat", "-F", "32", "-n", "AGEVISOR", disk], check=True,
                   capture_output=True)
    script = os.path.join(workdir, "startup.nsh")
    with open(script, "w", newline="") as f:
        f.write(startup_script(options, exit_value, before, after, agevisor))
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    for path in extra_files:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"--extra-file {path}: no such file")
    subprocess.run(["mcopy", "-o", "-i", disk, efi, script, *extra_files, "::/"], check=True,
                   env=env, capture_output=True)
    if boot_loader:
        # The removable-media path: OVMF's boot manager starts it before the shell.
        subprocess.run(["mmd", "-i", disk, "::/EFI", "::/EFI/BOOT"], check=True, env=env,
                       capture_output=True)
        subprocess.run(["mcopy", "-o", "-i", disk, efi, "::/EFI/BOOT/BOOTX64.EFI"], check=True,
                       env=env, capture_output=True)
    return disk


def bochs_command(args, workdir, disk):
    bochs = find_tool("AGEVISOR_BOCHS", "bochs", args.bochs)
    model = BOCHS_MODELS.get(args.cpu, args.cpu)
    rc = os.path.join(workdir, "bochsrc")
    with open(rc, "w") as f:
        f.write(f"""# written by tools/harness.py
memory: guest={args.memory}, host={args.memory}
romimage: file={firmware()}
vgaromimage: file=/usr/share/vgabios/vgabios.bin
cpu: model={model}, count={args.cpus}, ips=50000000
clock: sync=none, time0={os.environ.get("AGEVISOR_BOCHS_TIME0", "local")}
pci: enabled=1, chipset=i440fx
ata0-master: type=disk, path={disk}, mode=flat
boot: disk
display_library: term
port_e9_hack: enabled=1
speaker: enabled=0
com1: enabled=1, mode=file, dev={os.path.join(workdir, "serial.log")}
log: {os.path.join(workdir, "bochs.log")}
panic: action=fatal
error: action={"report" if args.bochs_errors else "ignore"}
info: action=ignore
debug: action=ignore
""")
    commands = os.path.join(workdir, "bochs.rc")
    with open(commands, "w") as f:
        f.write("c\n")  # Debian's Bochs has its debugger on: just continue
    # A killed Bochs leaves IMAGE.lock behind and the next run refuses the disk.
    lock = disk + ".lock"
    if os.path.exists(lock):
        os.unlink(lock)
    # E9 output goes to Bochs' stdout, mixed with its banner: bochs.out.
    return [bochs, "-q", *smp_loop_arguments(bochs, args.cpus), "-f", rc, "-rc", commands], \
        os.path.join(workdir, "bochs.out")


def smp_loop_arguments(bochs, cpus):
    """Bochs 3.0 with several CPUs runs in its debugger's loop (-dbg; the rc file's "c" then
    continues at once), as Debian's 2.7 always does.

    Bochs 3.0's own SMP loop (main.cc, cpu_run_trace) does not commit prev_rip after an
    exception's longjmp, unlike cpu_loop and the debugger's loop. When the first fetch of a
    handler the processor has just entered causes a VM exit (an EPT violation: aging took
    that page away), the exit saves the RIP of the instruction that faulted, together with the
    RSP, CS and RFLAGS of the handler: the guest re-executes that instruction at CPL 0 on the
    handler's stack. `agectl faults` shows it in seconds; under Linux it panics the kernel
    (docs/smp.md, "A Bochs 3.0 SMP bug")."""
    if cpus > 1 and bochs_version(bochs) >= (3, 0):
        log("Bochs 3.0 or newer with several CPUs: running in its debugger's loop (-dbg); "
            "its own SMP loop saves a stale RIP in VM exits (docs/smp.md)")
        return ["-dbg"]
    return []


def qemu_command(args, workdir, disk):
    qemu = find_tool("AGEVISOR_QEMU", "qemu-system-x86_64")
    if args.cpu in BOCHS_MODELS:
        raise Skip(f"QEMU has no VMX under TCG: cpu '{args.cpu}' needs Bochs")
    return [qemu, "-machine", "pc", "-accel", "tcg", "-cpu", args.cpu, "-m", str(args.memory),
            "-smp", str(args.cpus), "-bios", firmware(),
            "-drive", f"file={disk},format=raw,if=ide", "-net", "none", "-display", "none",
            "-serial", "none" if args.no_com1 else f"file:{os.path.join(workdir, 'serial.log')}",
            "-debugcon", f"file:{os.path.join(workdir, 'e9.log')}",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-no-reboot"], \
        os.path.join(workdir, "qemu.out")


def die_with_parent():
    """Runs in the child before exec: SIGKILL it if the harness goes away."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def descendants(pid):
    """Every descendant of pid, deepest first (so children die before their parents)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    order = []

    def visit(p):
        for c in children.get(p, []):
            visit(c)
            order.append(c)

    visit(pid)
    return order


def kill_emulator(proc):
    if proc.poll() is None:
        for pid in descendants(proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # it leads its own group
        except ProcessLookupError:
            pass
    proc.wait()


class ScreenDrain:
    """Bochs' term display writes curses output to a pseudo-terminal of its own and prints
    'Bochs connected to screen "/dev/pts/N"'. Nobody reads that terminal in a headless run,
    so once its buffer fills Bochs would block on the next screen update: we open the pts
    and keep it drained (the bytes go to screen.log)."""

    PTS = re.compile(r'Bochs connected to screen "(/dev/pts/\d+)"')

    def __init__(self, stdout_path, workdir):
        self.stdout_path = stdout_path
        self.log_path = os.path.join(workdir, "screen.log")
        self.fd = None

    def poll(self):
        if self.fd is None:
            m = self.PTS.search(read(self.stdout_path))
            if not m:
                return
            try:
                self.fd = os.open(m.group(1), os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
            except OSError:
                self.fd = -1  # not ours to drain; nothing more to do
                return
        if self.fd < 0:
            return
        chunks = []
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        if chunks:
            with open(self.log_path, "ab") as f:
                f.write(b"".join(chunks))

    def close(self):
        if self.fd is not None and self.fd >= 0:
            os.close(self.fd)
        self.fd = None


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("latin-1")
    except FileNotFoundError:
        return ""


def clean(text):
    return ANSI.sub("", text).replace("\r", "")


class Logs:
    def __init__(self, workdir, emulator, stdout_path):
        self.serial = os.path.join(workdir, "serial.log")
        self.e9 = stdout_path if emulator == "bochs" else os.path.join(workdir, "e9.log")
        self.streamed = 0

    def text(self):
        return clean(read(self.e9)) + "\n" + clean(read(self.serial))

    def stream(self):
        serial = clean(read(self.serial))
        if len(serial) > self.streamed:
            sys.stdout.write(serial[self.streamed:])
            sys.stdout.flush()
            self.streamed = len(serial)


def run(args):
    require_bochs(args)
    workdir = os.path.abspath(args.workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    exit_value = args.expect_exit if args.emulator == "qemu" else None
    disk = build_disk(workdir, os.path.abspath(args.efi), args.options, exit_value,
                      args.before, args.after, [os.path.abspath(p) for p in args.extra_file],
                      not args.no_agevisor, args.boot_loader)
    make = bochs_command if args.emulator == "bochs" else qemu_command
    command, stdout_path = make(args, workdir, disk)
    logs = Logs(workdir, args.emulator, stdout_path)
    log(f"{args.emulator} ({args.cpu}), work dir {workdir}")

    screen = ScreenDrain(stdout_path, workdir) if args.emulator == "bochs" else None
    start = time.monotonic()
    finished, status = None, None
    with open(stdout_path, "wb") as out:
        proc = subprocess.Popen(command, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=die_with_parent)
        try:
            while True:
                if screen:
                    screen.poll()
                if args.stream:
                    logs.stream()
                status = proc.poll()
                if args.no_com1 and status is not None:
                    # no serial log, so no sentinel: the isa-debug-exit value says the shell
                    # went on after agevisor returned
                    finished = time.monotonic() - start
                    break
                text = logs.text()
                if args.until is not None:
                    # The payload never returns to the shell (an OS): the run is over once
                    # its last line is there, or as soon as a forbidden text shows up.
                    if args.until in text or any(r in text for r in args.reject):
                        if args.until in text:
                            finished = time.monotonic() - start
                        time.sleep(1)  # let the last lines reach the logs
                        break
                elif DONE in text:
                    finished = time.monotonic() - start
                    if exit_value is None:
                        break
                if status is not None:
                    break
                if time.monotonic() - start > args.timeout:
                    break
                time.sleep(0.2)
            if finished is not None and exit_value is not None and status is None:
                # give the shell a moment to run `mm` and QEMU to exit
                deadline = time.monotonic() + 20
                while proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.1)
                status = proc.poll()
        finally:
            kill_emulator(proc)
            if screen:
                screen.close()
    if args.stream:
        logs.stream()
        print(flush=True)
    return verdict(args, logs, workdir, finished, status, time.monotonic() - start)


def verdict(args, logs, workdir, finished, status, elapsed):
    text = logs.text()
    problems = []
    end = DONE if args.until is None else args.until
    if finished is None:
        why = "timed out" if status is None else f"emulator exited with status {status}"
        if status is None and elapsed < args.timeout:
            why = "stopped early on forbidden text"
        problems.append(f"the run did not finish: no '{end}' line ({why} after "
                        f"{elapsed:.1f} s)")
    elif (SENTINEL not in text and not args.no_com1 and not args.no_agevisor
          and not (args.until is not None and "--" in args.options.split())):
        # (with --until and "-- IMAGE" in its options agevisor chain-loads an image that
        # never returns, an OS: the shell never gets to echo the sentinel)
        # (without COM1 the shell's echo reaches no log: the isa-debug-exit value vouches)
        problems.append(f"no '{SENTINEL}' line: agevisor did not return to the shell")
    for needle in args.expect:
        if needle not in text:
            problems.append(f"expected line missing: '{needle}'")
    for needle in args.reject:
        if needle in text:
            problems.append(f"forbidden text present: '{needle}'")
    if args.compare_probes:
        # Port 0xE9 carries each payload line once, without the console's escape sequences.
        probe_problems, summary = payload_check.compare(clean(read(logs.e9)))
        log(summary)
        problems += [f"transparency: {p}" for p in probe_problems]
    if args.emulator == "qemu" and args.expect_exit is not None and finished is not None:
        if status is None or status % 2 == 0:
            problems.append(f"QEMU did not exit through isa-debug-exit (status {status})")
        elif status >> 1 != args.expect_exit:
            problems.append(f"guest exit value {status >> 1:#x}, expected "
                            f"{args.expect_exit:#x}")
        else:
            log(f"QEMU exited through isa-debug-exit with guest value {status >> 1:#x}")
    agevisor_lines = [l for l in clean(read(logs.e9)).splitlines()
                      if l.strip() and not BOCHS_NOISE.search(l)]
    if problems:
        log("FAILED:")
        for p in problems:
            log(f"  - {p}")
        log("--- last lines agevisor wrote to port 0xE9 ---")
        for line in agevisor_lines[-20:]:
            print(f"  | {line}")
        log("--- last lines of serial.log ---")
        for line in clean(read(logs.serial)).splitlines()[-40:]:
            print(f"  | {line}")
        bochs_log = os.path.join(workdir, "bochs.log")
        if os.path.exists(bochs_log):
            log("--- last lines of bochs.log ---")
            for line in read(bochs_log).splitlines()[-15:]:
                print(f"  | {line}")
        return EXIT_FAIL
    if not args.stream:  # a streamed run has shown them already
        log("--- agevisor's lines (port 0xE9) ---")
        for line in agevisor_lines[-60:]:
            print(f"  | {line}")
    what = "the end of startup.nsh" if args.until is None else f"'{args.until}'"
    log(f"PASSED: boot to {what} took {finished:.1f} s wall time "
        f"(whole run {elapsed:.1f} s)")
    return EXIT_PASS


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emulator", choices=["bochs", "qemu"], required=True)
    parser.add_argument("--cpu", default=None,
                        help="bochs: ivy_bridge, haswell or a Bochs model name; "
                        "qemu: a QEMU -cpu model (default qemu64)")
    parser.add_argument("--efi", required=True, help="agevisor.efi")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--options", default="", help="agevisor load options")
    parser.add_argument("--memory", type=int, default=256, help="MiB")
    parser.add_argument("--cpus", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=240, help="seconds")
    parser.add_argument("--expect", action="append", default=[], help="text that must appear")
    parser.add_argument("--reject", action="append", default=["HV_PANIC"],
                        help="text that must not appear")
    parser.add_argument("--expect-exit", type=lambda s: int(s, 0), default=None,
                        help="qemu: startup.nsh ends by writing this to isa-debug-exit")
    parser.add_argument("--no-com1", action="store_true",
                        help="qemu: no serial port at all (COM1 absent); the run ends "
                        "through isa-debug-exit instead of the sentinel (needs --expect-exit)")
    parser.add_argument("--extra-file", action="append", default=[],
                        help="another file to put at the root of the disk (repeatable)")
    parser.add_argument("--before", action="append", default=[],
                        help="a shell command startup.nsh runs before agevisor (repeatable)")
    parser.add_argument("--after", action="append", default=[],
                        help="a shell command startup.nsh runs after agevisor returned "
                        "(repeatable)")
    parser.add_argument("--compare-probes", action="store_true",
                        help="compare the payload's probe lines of its 'before' and 'after' "
                        "runs (tools/payload_check.py): only deliberate differences may remain")
    parser.add_argument("--until", default=None, metavar="TEXT",
                        help="end the run once TEXT appears in the logs, for payloads that "
                        "never return to the shell (an OS); the startup.nsh end line is "
                        "then not needed, a --reject text ends the run at once, a timeout "
                        "is still a failure")
    parser.add_argument("--no-agevisor", action="store_true",
                        help="do not start agevisor: --before/--after commands run on the "
                        "bare firmware (a baseline for a payload)")
    parser.add_argument("--boot-loader", action="store_true",
                        help="also install agevisor as \\EFI\\BOOT\\BOOTX64.EFI, so the boot "
                        "manager starts it (with no load options) before the shell; implies "
                        "--no-agevisor for startup.nsh")
    parser.add_argument("--bochs", default=None, metavar="PATH",
                        help="the Bochs binary for this case (AGEVISOR_BOCHS still wins), "
                        "e.g. the newer one tools/fetch-newer-bochs unpacks")
    parser.add_argument("--min-bochs", default=None, metavar="X.Y",
                        help="the case needs this Bochs version or newer: an older one "
                        "makes the run SKIPPED with --min-bochs-reason")
    parser.add_argument("--min-bochs-reason", default="the case needs a newer Bochs",
                        help="why (printed when skipped)")
    parser.add_argument("--stream", action="store_true", help="copy serial.log to stdout")
    parser.add_argument("--bochs-errors", action="store_true",
                        help="log Bochs errors (every EPT violation!) to bochs.log")
    args = parser.parse_args()
    if args.boot_loader:
        args.no_agevisor = True
    if args.no_com1 and (args.emulator != "qemu" or args.expect_exit is None):
        parser.error("--no-com1 needs --emulator qemu and --expect-exit")
    if args.cpu is None:
        args.cpu = "ivy_bridge" if args.emulator == "bochs" else "qemu64"

    def on_term(signum, _frame):
        raise SystemExit(128 + signum)  # unwinds through the `finally` that kills the emulator

    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started ignoring it
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    try:
        return run(args)
    except Skip as e:
        log(f"SKIPPED: {e}")
        return EXIT_SKIP
    except KeyboardInterrupt:
        log("interrupted")
        return EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
