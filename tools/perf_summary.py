#!/usr/bin/python3
"""Summarises one profile: where the samples went, and whether the folded stacks account for all.

Usage: perf report -i perf.data --stdio -n --no-children --sort dso,sym -g none -t $'\\t' |
       tools/perf_summary.py --program ringsock [--folded stacks.folded] [--top 15]

Reads perf report's tab-separated table (Overhead, Samples, Shared Object, Symbol) and writes:
the sample count and lost samples; the user vs kernel share (symbols perf marks [k] are
kernel); the share of the program's own code (dso named --program), of the kernel, of libc
and of everything else, by dso; the top symbols; with --folded, the share of each thread
(the folded stacks' root frames) and a check that the folded stacks hold exactly perf's
sample count. Shares are of samples, so with cpu-clock they are shares of on-CPU time.
Exits 1 if the report holds no sample or the folded total differs.
"""
import argparse
import sys

KERNEL_DSO = "[kernel.kallsyms]"


def parse_report(lines):
    """Returns (rows, lost): rows are (samples, dso, is_kernel, symbol)."""
    rows = []
    lost = 0
    for raw in lines:
        line = raw.rstrip("\n")
        if line.startswith("# Total Lost Samples:"):
            lost = int(line.split(":", 1)[1].strip() or 0)
            continue
        if not line.strip() or line.startswith("#"):
            continue
        cols = [c.strip() for c in line.split("\t")]
        if len(cols) < 4 or not cols[0].endswith("%") or not cols[1].isdigit():
            continue
        sym = cols[3]
        is_kernel = sym.startswith("[k]")
        if len(sym) >= 3 and sym[0] == "[" and sym[2] == "]":  # [k] kernel, [.] user, ...
            sym = sym[3:].strip()
        rows.append((int(cols[1]), cols[2], is_kernel, sym))
    return rows, lost


def dso_base(dso):
    return dso.rsplit("/", 1)[-1]


def classify(dso, is_kernel, program):
    if is_kernel or dso == KERNEL_DSO:
        return "kernel"
    base = dso_base(dso)
    if base == program:
        return "own"
    if base.startswith("libc.so") or base.startswith("libc-"):
        return "libc"
    return "other"


def folded_threads(path):
    """({root frame: samples}, total) of a folded-stacks file."""
    threads = {}
    total = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            stack, _, count = line.strip().rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            total += n
            root = stack.split(";", 1)[0]
            threads[root] = threads.get(root, 0) + n
    return threads, total


def pct(n, total):
    return f"{100.0 * n / total:5.1f}%"


def summarise(rows, lost, program, top, folded=None):
    """Returns (text, ok)."""
    total = sum(r[0] for r in rows)
    if total == 0:
        return "no samples in the report\n", False
    ok = True
    out = []
    kernel = sum(r[0] for r in rows if r[2])
    out.append(f"samples: {total} (lost: {lost})")
    out.append(f"user vs kernel: user {pct(total - kernel, total).strip()}, "
               f"kernel {pct(kernel, total).strip()}")
    kinds = {"own": 0, "kernel": 0, "libc": 0, "other": 0}
    by_dso = {}
    for n, dso, is_k, _ in rows:
        kinds[classify(dso, is_k, program)] += n
        by_dso[dso] = by_dso.get(dso, 0) + n
    out.append(f"what bounds it: {program} (own code) {pct(kinds['own'], total).strip()}, "
               f"kernel {pct(kinds['kernel'], total).strip()}, "
               f"libc {pct(kinds['libc'], total).strip()}, "
               f"other {pct(kinds['other'], total).strip()}")
    out.append("")
    out.append("by shared object:")
    for dso, n in sorted(by_dso.items(), key=lambda kv: (-kv[1], kv[0])):
        out.append(f"  {pct(n, total)} {n:>9}  {dso}")
    if folded is not None:
        threads, ftotal = folded_threads(folded)
        out.append("")
        out.append("by thread (root frames of the folded stacks):")
        for name, n in sorted(threads.items(), key=lambda kv: (-kv[1], kv[0])):
            out.append(f"  {pct(n, ftotal or 1)} {n:>9}  {name}")
        out.append("")
        if ftotal == total:
            out.append(f"check: folded stacks hold {ftotal} samples = perf report's {total}")
        else:
            out.append(f"check FAILED: folded stacks hold {ftotal} samples, perf report {total}")
            ok = False
    out.append("")
    out.append(f"top {top} symbols (self samples):")
    ranked = sorted(rows, key=lambda r: (-r[0], r[3]))[:top]
    for n, dso, is_k, sym in ranked:
        where = "kernel" if is_k else dso_base(dso)
        out.append(f"  {pct(n, total)} {n:>9}  {sym}  [{where}]")
    return "\n".join(out) + "\n", ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("report", nargs="?", help="perf report table (default: stdin)")
    ap.add_argument("--program", required=True, help="dso name of the program's own code")
    ap.add_argument("--folded", help="folded stacks of the same perf.data, to check the total")
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args()
    src = open(args.report, encoding="utf-8", errors="replace") if args.report else sys.stdin
    with src:
        rows, lost = parse_report(src)
    text, ok = summarise(rows, lost, args.program, args.top, args.folded)
    sys.stdout.write(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
