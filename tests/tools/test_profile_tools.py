#!/usr/bin/python3
"""Unit tests of the profiling helpers in tools/ on handmade input, without perf: the collapser
(perf_fold.py), the flame-graph renderer (flamegraph.py) and the summary (perf_summary.py).

Run: python3 tests/tools/test_profile_tools.py   (exits non-zero on a failure)
"""
import os
import subprocess
import sys
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, "..", "..", "tools")
DATA = os.path.join(HERE, "data")
sys.path.insert(0, TOOLS)

import flamegraph  # noqa: E402
import perf_fold  # noqa: E402
import perf_summary  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"

# What data/perf-script.txt folds to, line by line (see the comments in that file's samples).
EXPECTED_FOLDED = """\
Web Content;main;parse:json_[libweird] 1
ringsock 1
ringsock-w0;[unknown]_[liburing];entry_SYSCALL_64_after_hwframe_[k];tcp_sendmsg_[k] 1
ringsock-w0;[unknown]_[liburing];entry_SYSCALL_64_after_hwframe_[k];tcp_sendmsg_[k];\
tcp_sendmsg_locked_[k] 1
ringsock-w0;__clock_gettime_[vdso];worker_main;[unknown]_[ringsock] 1
ringsock-w0;start_thread_[libc];worker_main;rs_loop_run 2
ringsock-w0;start_thread_[libc];worker_main;rs_loop_run;rs_conn_send;rs_outq_append 1
sh;[unknown]_[dash] 2
sh;handle_amd_[ld-linux-x86-64] 1
sh;vm_area_free_[k] 1
"""


def data(name):
    return os.path.join(DATA, name)


class FoldTest(unittest.TestCase):
    def test_cli_output(self):
        r = subprocess.run([sys.executable, os.path.join(TOOLS, "perf_fold.py"),
                            data("perf-script.txt")], capture_output=True, text=True, check=True)
        self.assertEqual(r.stdout, EXPECTED_FOLDED)
        self.assertIn("12 samples, 10 stacks", r.stderr)

    def test_every_sample_counted_once(self):
        with open(data("perf-script.txt")) as f:
            stacks, samples = perf_fold.fold(f)
        self.assertEqual(samples, 12)
        self.assertEqual(sum(stacks.values()), samples)

    def test_frame_kinds(self):
        name = perf_fold.frame_name
        self.assertEqual(name("ffffffff8200fcd9", "tcp_ack+0x1a9", "[kernel.kallsyms]"),
                         "tcp_ack_[k]")
        self.assertEqual(name("ffffffff8200fcd9", "[unknown]", "[unknown]"), "[unknown]_[k]")
        self.assertEqual(name("8235", "rs_loop_run+0x95", "/b/ringsock"), "rs_loop_run")
        self.assertEqual(name("891f5", "start_thread+0x305", "/lib/libc.so.6"),
                         "start_thread_[libc]")
        self.assertEqual(name("29f7", "[unknown]", "/lib/liburing.so.2.3"), "[unknown]_[liburing]")
        self.assertIsNone(name("7f3c0ad9e004", "[unknown]", "[unknown]"))

    def test_no_comm(self):
        lines = ["a 1 1.0: 1 cpu-clock: \n", "\t 10 f+0x1 (/b/prog)\n", "\t 20 g+0x2 (/b/prog)\n",
                 "\n"]
        stacks, samples = perf_fold.fold(lines, with_comm=False)
        self.assertEqual(stacks, {"g;f": 1})
        self.assertEqual(samples, 1)

    def test_empty_input_fails(self):
        r = subprocess.run([sys.executable, os.path.join(TOOLS, "perf_fold.py")], input="",
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")


class FlameGraphTest(unittest.TestCase):
    def render(self, folded, width=1000):
        root, bad = flamegraph.parse_folded(folded.splitlines())
        return root, bad, ET.fromstring(flamegraph.render(root, "t <&>", "s", width))

    def frames(self, svg):
        """{tooltip label: (x, width, fill)} of every frame."""
        out = {}
        for g in svg.iter(SVG + "g"):
            title = g.find(SVG + "title").text
            rect = g.find(SVG + "rect")
            out[title.split(" (")[0]] = (float(rect.get("x")), float(rect.get("width")),
                                         rect.get("fill"), title)
        return out

    def test_widths_follow_samples(self):
        root, bad, svg = self.render(EXPECTED_FOLDED, width=1220)
        self.assertEqual(bad, 0)
        self.assertEqual(root.count, 12)
        f = self.frames(svg)
        scale = (1220 - 2 * flamegraph.PAD_X) / 12  # 100 px a sample
        self.assertAlmostEqual(f["ringsock-w0"][1], 6 * scale, places=1)
        self.assertAlmostEqual(f["rs_loop_run"][1], 3 * scale, places=1)
        self.assertAlmostEqual(f["rs_outq_append"][1], 1 * scale, places=1)
        # siblings sorted by name, side by side from the left edge
        self.assertAlmostEqual(f["Web Content"][0], flamegraph.PAD_X, places=1)
        self.assertIn("3 samples, 25.00%", f["rs_loop_run"][3])

    def test_equal_stacks_merge_and_siblings_sort(self):
        _, _, svg = self.render("r;z 1\nr;a 2\nq 1\nr;z 3\n", width=720)  # 100 px a sample
        f = self.frames(svg)
        self.assertEqual(len(f), 4)  # q, r, r;a, r;z: the two r;z lines are one frame
        self.assertAlmostEqual(f["z"][1], 4 * 100, places=1)
        self.assertAlmostEqual(f["q"][0], flamegraph.PAD_X, places=1)
        self.assertAlmostEqual(f["a"][0], flamegraph.PAD_X + 100, places=1)
        self.assertAlmostEqual(f["z"][0], flamegraph.PAD_X + 300, places=1)

    def test_colours_by_kind(self):
        _, _, svg = self.render(EXPECTED_FOLDED)
        f = self.frames(svg)

        def rgb(label):
            return tuple(int(v) for v in f[label][2][4:-1].split(","))

        kernel, own, libc = rgb("tcp_sendmsg"), rgb("rs_loop_run"), rgb("start_thread")
        self.assertGreater(kernel[0], kernel[2])  # orange: red over blue
        self.assertGreater(own[1], own[0])  # green
        self.assertGreater(libc[2], libc[1])  # purple: blue over green
        self.assertIn("(kernel)", f["tcp_sendmsg"][3])
        self.assertIn("(libc)", f["start_thread"][3])
        self.assertIn("[liburing]", f)  # an unknown symbol is shown by its library

    def test_labels_fit_and_escape(self):
        _, _, svg = self.render("a;" + "x" * 200 + " 1\nb 1\n", width=400)
        texts = [t.text for t in svg.iter(SVG + "text")]
        self.assertIn("t <&>", texts)  # the title, escaped in the file and read back
        long = [t for t in texts if t and t.startswith("xxx")]
        self.assertEqual(len(long), 1)
        self.assertTrue(long[0].endswith(".."))
        self.assertLess(len(long[0]), 60)

    def test_malformed_lines_are_counted(self):
        root, bad, _ = self.render("a;b 3\nno count here\n;x\nc 2\n")
        self.assertEqual((root.count, bad), (5, 2))

    def test_cli_writes_well_formed_svg(self):
        r = subprocess.run([sys.executable, os.path.join(TOOLS, "flamegraph.py"), "--title",
                            "x"], input=EXPECTED_FOLDED, capture_output=True, text=True,
                           check=True)
        svg = ET.fromstring(r.stdout)
        self.assertEqual(svg.tag, SVG + "svg")


class SummaryTest(unittest.TestCase):
    def rows(self):
        with open(data("perf-report.tsv")) as f:
            return perf_summary.parse_report(f)

    def test_parse(self):
        rows, lost = self.rows()
        self.assertEqual(lost, 3)
        self.assertEqual(len(rows), 8)
        self.assertEqual(rows[0], (500, "[kernel.kallsyms]", True, "tcp_sendmsg_locked"))
        self.assertEqual(rows[6], (20, "[nf_conntrack]", True, "nf_conntrack_in"))

    def test_shares_and_check(self):
        rows, lost = self.rows()
        text, ok = perf_summary.summarise(rows, lost, "ringsock", 3, data("report.folded"))
        self.assertTrue(ok, text)
        self.assertIn("samples: 1000 (lost: 3)", text)
        self.assertIn("user vs kernel: user 28.0%, kernel 72.0%", text)
        self.assertIn("what bounds it: ringsock (own code) 18.0%, kernel 72.0%, libc 5.0%, "
                      "other 5.0%", text)
        self.assertIn("check: folded stacks hold 1000 samples = perf report's 1000", text)
        self.assertIn(" 99.0%       990  ringsock-w0", text)
        top = text.split("top 3 symbols (self samples):\n")[1].splitlines()
        self.assertEqual(len(top), 3)
        self.assertIn("tcp_sendmsg_locked  [kernel]", top[0])
        self.assertIn("rs_loop_run  [ringsock]", top[2])

    def test_mismatch_fails(self):
        rows, lost = self.rows()
        text, ok = perf_summary.summarise(rows[1:], lost, "ringsock", 3, data("report.folded"))
        self.assertFalse(ok)
        self.assertIn("check FAILED", text)

    def test_empty_report_fails(self):
        text, ok = perf_summary.summarise([], 0, "ringsock", 3)
        self.assertFalse(ok)


if __name__ == "__main__":
    unittest.main(verbosity=1)
