#!/usr/bin/python3
"""Folds `perf script` output into one line per distinct stack: `root;...;leaf COUNT`.

Usage: perf script -i perf.data | tools/perf_fold.py [--no-comm] > stacks.folded

Input is perf script's default text: a header line per sample (`comm tid [cpu] time: period
event:`), then one indented line per frame, leaf first (`addr symbol+off (dso)`), then a blank
line. A sample recorded without a call graph has its one frame at the end of the header line
(and no blank line after it).

Each sample counts 1, so the counts add up to perf's sample count. Frames are written root
first, with the thread name (comm) as the root unless --no-comm. Names carry their kind, so
the renderer (tools/flamegraph.py) and other folded-stack viewers can colour them:
  tcp_sendmsg_[k]      kernel (address in the upper half of the address space)
  rs_loop_run          the profiled program's own code (a dso that is not a shared library)
  recv_[libc]          a shared library or [vdso], by short name (libc.so.6 -> libc)
  [unknown]_[liburing] an address in a known library whose symbol perf could not resolve
Frames whose symbol and dso are both unknown are dropped: they are what a frame-pointer walk
reads past a function built without frame pointers (Debian's liburing is one), not code.

Prints `perf_fold: N samples, M stacks` on stderr; exits 1 if the input held no sample.
"""
import argparse
import re
import sys

# A sample's header: comm (perf pads it on the left, and it may hold spaces), tid or pid/tid,
# then fields up to `event:`; frame lines never have a number after a space then `: `.
HEADER_RE = re.compile(r"^\s*(?P<comm>\S.*?)\s+(?P<tid>\d+)(?:/\d+)?\s.*:(?:\s|$)")
FRAME_RE = re.compile(r"^\s*(?P<addr>[0-9a-fA-F]+)\s+(?P<sym>.*?)\s+\((?P<dso>[^()]*)\)\s*$")
OFFSET_RE = re.compile(r"\+0x[0-9a-fA-F]+$")
KERNEL_START = 1 << 63


def lib_name(dso):
    """Short name of a shared object: /usr/lib/x86_64-linux-gnu/libc.so.6 -> libc."""
    base = dso.rsplit("/", 1)[-1]
    if base.startswith("[") and base.endswith("]"):
        return base[1:-1]
    return base.split(".so", 1)[0]


def is_shared_object(dso):
    base = dso.rsplit("/", 1)[-1]
    return ".so" in base or (base.startswith("[") and base != "[kernel.kallsyms]")


def frame_name(addr, sym, dso):
    """The folded name of one frame, or None for a frame that is not code (see above)."""
    sym = OFFSET_RE.sub("", sym.strip())
    known_sym = sym not in ("", "[unknown]")
    if int(addr, 16) >= KERNEL_START or dso == "[kernel.kallsyms]" or dso.startswith("[kernel"):
        return (sym if known_sym else "[unknown]") + "_[k]"
    if dso in ("", "[unknown]"):
        return sym if known_sym else None
    if is_shared_object(dso):
        return (sym if known_sym else "[unknown]") + "_[" + lib_name(dso) + "]"
    return sym if known_sym else "[unknown]_[" + lib_name(dso) + "]"


def clean(name):
    """Folded lines use ';' between frames and a space before the count: keep both unambiguous."""
    return name.replace(";", ":")


def fold(lines, with_comm=True):
    """Returns ({stack: count}, samples) for perf script text given as an iterable of lines."""
    stacks = {}
    samples = 0
    comm = None
    frames = []

    def finish():
        nonlocal samples
        if comm is None:
            return
        path = [clean(f) for f in reversed(frames)]
        if with_comm:
            path.insert(0, clean(comm))
        if not path:
            path = ["[no stack]"]
        key = ";".join(path)
        stacks[key] = stacks.get(key, 0) + 1
        samples += 1

    for raw in lines:
        line = raw.rstrip("\n")
        if not line.strip():
            finish()
            comm, frames = None, []
            continue
        header = HEADER_RE.match(line)
        m = None
        if header:
            finish()  # a header right after a sample with no blank line between
            comm, frames = header["comm"], []
            m = FRAME_RE.match(line.rpartition(": ")[2])  # the frame of a sample without -g
        elif comm is not None:
            m = FRAME_RE.match(line)
        if m:
            name = frame_name(m["addr"], m["sym"], m["dso"])
            if name is not None:
                frames.append(name)
    finish()
    return stacks, samples


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input", nargs="?", help="perf script output (default: stdin)")
    ap.add_argument("--no-comm", action="store_true", help="do not root stacks at the thread name")
    args = ap.parse_args()
    src = open(args.input, encoding="utf-8", errors="replace") if args.input else sys.stdin
    with src:
        stacks, samples = fold(src, with_comm=not args.no_comm)
    out = sys.stdout
    for key in sorted(stacks):
        out.write(f"{key} {stacks[key]}\n")
    print(f"perf_fold: {samples} samples, {len(stacks)} stacks", file=sys.stderr)
    return 0 if samples else 1


if __name__ == "__main__":
    sys.exit(main())
