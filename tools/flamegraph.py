#!/usr/bin/python3
"""Renders folded stacks (`root;...;leaf COUNT` lines) as a self-contained SVG flame graph.

Usage: tools/flamegraph.py [--title T] [--subtitle S] [--width PX] stacks.folded > flame.svg

Roots sit at the bottom; each frame is as wide as the samples that passed through it, and
siblings are sorted by name so equal stacks merge. Frames wide enough carry their name; every
frame has a <title> tooltip with its samples and share of the total. Colours follow the kind
tools/perf_fold.py writes into names: kernel `_[k]` orange, the program's own code (no
annotation) green, libc purple, other libraries and [vdso] blue, the root thread name grey.
No script, no external resources: any browser or SVG viewer opens it.
"""
import argparse
import re
import sys
import zlib
from xml.sax.saxutils import escape

ANNOT_RE = re.compile(r"^(?P<name>.*)_\[(?P<kind>[^\[\]]+)\]$")
FRAME_H = 16
FONT_PX = 11
CHAR_PX = 6.6  # average glyph width of an 11 px sans-serif font, for fitting labels
PAD_X = 10
TOP = 52  # title, subtitle and legend
BOTTOM = 8
MIN_PX = 0.1  # narrower frames are left out (their samples still count in their parents)

# (base rgb, per-name spread): the spread shifts the colour a little per name so neighbours
# of one kind stay distinguishable.
PALETTE = {
    "kernel": ((232, 132, 52), 40),
    "own": ((72, 170, 92), 50),
    "libc": ((160, 110, 200), 40),
    "lib": ((80, 140, 210), 40),
    "root": ((170, 170, 170), 20),
}
LEGEND = [("own", "program's own code"), ("kernel", "kernel"), ("libc", "libc"),
          ("lib", "other libraries")]


class Node:
    __slots__ = ("name", "count", "children")

    def __init__(self, name):
        self.name = name
        self.count = 0
        self.children = {}


def parse_folded(lines):
    """Builds the stack tree from folded lines; returns (root, bad_line_count)."""
    root = Node("all")
    bad = 0
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            bad += 1
            continue
        n = int(count)
        root.count += n
        node = root
        for frame in stack.split(";"):
            child = node.children.get(frame)
            if child is None:
                child = node.children[frame] = Node(frame)
            child.count += n
            node = child
    return root, bad


def kind_of(name, depth):
    """(kind, label, where) of a frame from its folded name and depth (1 = root frame)."""
    m = ANNOT_RE.match(name)
    if depth == 1 and not m:
        return "root", name, "thread"
    if not m:
        return "own", name, "program"
    label, kind = m["name"], m["kind"]
    if kind == "k":
        return "kernel", label, "kernel"
    if label == "[unknown]":
        label = "[" + kind + "]"
    return ("libc" if kind == "libc" else "lib"), label, kind


def colour(kind, name):
    (r, g, b), spread = PALETTE[kind]
    h = zlib.crc32(name.encode())
    d = (h % (spread + 1)) - spread // 2
    e = ((h >> 8) % (spread // 2 + 1)) - spread // 4
    clamp = lambda v: max(0, min(255, v))  # noqa: E731
    return f"rgb({clamp(r + d)},{clamp(g + e)},{clamp(b + d // 2)})"


def fit_label(label, width_px):
    room = int((width_px - 4) / CHAR_PX)
    if room < 3:
        return ""
    if len(label) <= room:
        return label
    return label[: room - 2] + ".."


def depth_of(node):
    if not node.children:
        return 0
    return 1 + max(depth_of(c) for c in node.children.values())


def render(root, title, subtitle, width):
    """Returns the SVG document as a string."""
    total = max(root.count, 1)
    scale = (width - 2 * PAD_X) / total
    levels = depth_of(root)
    height = TOP + levels * FRAME_H + BOTTOM
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Verdana, DejaVu Sans, sans-serif" '
        f'font-size="{FONT_PX}">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fdfdf8"/>',
        f'<text x="{width / 2:.1f}" y="18" text-anchor="middle" font-size="15">'
        f"{escape(title)}</text>",
        f'<text x="{width / 2:.1f}" y="33" text-anchor="middle" fill="#555">'
        f"{escape(subtitle)}</text>",
    ]
    x = PAD_X
    for kind, text in LEGEND:
        out.append(f'<rect x="{x}" y="38" width="10" height="10" fill="{colour(kind, "")}"/>')
        out.append(f'<text x="{x + 14}" y="47">{escape(text)}</text>')
        x += 24 + len(text) * CHAR_PX
    out.append(f'<text x="{width - PAD_X}" y="47" text-anchor="end" fill="#555">'
               "width = samples; hover a frame for its count</text>")

    def emit(node, depth, x0):
        w = node.count * scale
        if w < MIN_PX:
            return
        kind, label, where = kind_of(node.name, depth)
        y = height - BOTTOM - depth * FRAME_H
        pct = 100.0 * node.count / total
        tip = f"{label} ({where}): {node.count} samples, {pct:.2f}%"
        out.append(f"<g><title>{escape(tip)}</title>"
                   f'<rect x="{x0:.2f}" y="{y}" width="{w:.2f}" height="{FRAME_H - 1}" '
                   f'rx="1" fill="{colour(kind, label)}"/>')
        text = fit_label(label, w)
        if text:
            out.append(f'<text x="{x0 + 3:.2f}" y="{y + FRAME_H - 4}">{escape(text)}</text>')
        out.append("</g>")
        cx = x0
        for name in sorted(node.children):
            child = node.children[name]
            emit(child, depth + 1, cx)
            cx += child.count * scale

    cx = PAD_X
    for name in sorted(root.children):
        emit(root.children[name], 1, cx)
        cx += root.children[name].count * scale
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folded", nargs="?", help="folded stacks (default: stdin)")
    ap.add_argument("--title", default="Flame graph")
    ap.add_argument("--subtitle", default="")
    ap.add_argument("--width", type=int, default=1200)
    args = ap.parse_args()
    src = open(args.folded, encoding="utf-8", errors="replace") if args.folded else sys.stdin
    with src:
        root, bad = parse_folded(src)
    if bad:
        print(f"flamegraph: skipped {bad} malformed lines", file=sys.stderr)
    subtitle = args.subtitle or f"{root.count} samples"
    sys.setrecursionlimit(10000)
    sys.stdout.write(render(root, args.title, subtitle, args.width))
    return 0 if root.count else 1


if __name__ == "__main__":
    sys.exit(main())
