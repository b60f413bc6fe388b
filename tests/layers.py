#!/usr/bin/env python3
"""Keeps the source tree layered: calls and includes go only downward, and no two files call
each other, directly or around a circle.

    layers.py SOURCE_DIR [BUILD_DIR]

Layers (src/<layer>/ and include/ringsock/<layer>/) and what each may use:
    util      nothing            (alloc, log, hist, parse, counters)
    proto     nothing            (pure parsers)
    net       util
    core      net util           (loop, connections, timers, backends)
    services  core net util proto
    ringsock  services core net util proto   (the server program)
    ringload  core net util proto            (the load generator)

Checks:
 1. every #include "..." in src/ and include/ names a header of the file's own layer or of one
    it may use (a program's private headers belong to that program);
 2. with BUILD_DIR: the object files' symbols (nm) give who calls whom; every reference to a
    symbol defined in another file must go to an allowed layer, and the file graph has no
    circle (A calls B and B calls A, or longer). Calls through function pointers (a backend's
    operations table, a service's callbacks) are not symbol references and are the way to call
    back up.
Prints each violation on one line and exits 1 if there is any.
"""

import os
import re
import subprocess
import sys

ALLOWED = {
    "util": set(),
    "proto": set(),
    "net": {"util"},
    "core": {"net", "util"},
    "services": {"core", "net", "util", "proto"},
    "ringsock": {"services", "core", "net", "util", "proto"},
    "ringload": {"core", "net", "util", "proto"},
}

INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(path, top):
    """The layer of a file given by its path relative to top, or None outside the layers."""
    parts = os.path.relpath(path, top).split(os.sep)
    if len(parts) >= 3 and parts[0] == "src" and parts[1] in ALLOWED:
        return parts[1]
    if len(parts) >= 4 and parts[:2] == ["include", "ringsock"] and parts[2] in ALLOWED:
        return parts[2]
    return None


def sources(top):
    for base in ("src", "include"):
        for d, _, files in os.walk(os.path.join(top, base)):
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.join(d, f)


def resolve(inc, src, top):
    for cand in (os.path.join(os.path.dirname(src), inc), os.path.join(top, "include", inc)):
        if os.path.exists(cand):
            return os.path.normpath(cand)
    return None


def may_use(a, b):
    return a == b or b in ALLOWED[a]


def check_includes(top):
    bad = []
    for src in sources(top):
        la = layer_of(src, top)
        rel = os.path.relpath(src, top)
        if la is None:
            bad.append(f"{rel}: not in a layer folder (src/<layer>/ or include/ringsock/<layer>/)")
            continue
        with open(src, encoding="utf-8") as f:
            text = f.read()
        for inc in INCLUDE_RE.findall(text):
            target = resolve(inc, src, top)
            if target is None:
                bad.append(f'{rel}: #include "{inc}" not found in the tree')
                continue
            lb = layer_of(target, top)
            if lb is None or not may_use(la, lb):
                bad.append(f'{rel} ({la}) includes "{inc}" ({lb}): goes up or across a layer')
    return bad


def object_files(build):
    """Maps each object file under build/CMakeFiles to the source path it was compiled from."""
    objs = {}
    for d, _, files in os.walk(os.path.join(build, "CMakeFiles")):
        for f in files:
            if not f.endswith(".c.o"):
                continue
            path = os.path.join(d, f)
            m = re.search(r"\.dir/(src/.*)\.o$", path.replace(os.sep, "/"))
            if m:
                objs[path] = m.group(1)
    return objs


def symbols(obj):
    out = subprocess.run(["nm", "--defined-only", "-g", obj], capture_output=True, text=True,
                         check=True).stdout
    defined = {line.split()[-1] for line in out.splitlines() if line.strip()}
    out = subprocess.run(["nm", "-u", obj], capture_output=True, text=True, check=True).stdout
    undef = {line.split()[-1] for line in out.splitlines() if line.strip()}
    return defined, undef


def find_cycles(graph):
    """Strongly connected components of more than one file (Tarjan), each sorted."""
    index, low, stack, on, comps = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return comps


def check_calls(top, build):
    objs = object_files(build)
    if not objs:
        return [f"{build}: no object files (build first)"]
    owner, uses = {}, {}
    for obj, src in objs.items():
        defined, undef = symbols(obj)
        for s in defined:
            owner.setdefault(s, src)
        uses[src] = undef
    bad = []
    graph = {}
    for src, undef in sorted(uses.items()):
        la = layer_of(os.path.join(top, src), top)
        for s in sorted(undef):
            dst = owner.get(s)
            if dst is None or dst == src:
                continue  # libc, liburing, jansson, ... or itself
            lb = layer_of(os.path.join(top, dst), top)
            if la and lb and not may_use(la, lb):
                bad.append(f"{src} ({la}) calls {s} in {dst} ({lb}): goes up or across a layer")
            graph.setdefault(src, set()).add(dst)
    for comp in find_cycles(graph):
        edges = [f"{a} -> {b}" for a in comp for b in sorted(graph.get(a, ())) if b in comp]
        bad.append("files call each other in a circle: " + "; ".join(edges))
    return bad


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    top = os.path.abspath(argv[1])
    bad = check_includes(top)
    if len(argv) == 3:
        bad += check_calls(top, os.path.abspath(argv[2]))
    for line in bad:
        print(line)
    print(f"layers: {len(bad)} violation(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
