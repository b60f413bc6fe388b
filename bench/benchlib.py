#!/usr/bin/env python3
"""Helpers for bench/run.sh (standard library only).

  benchlib.py freeport tcp|udp          a port from a bind to 127.0.0.1:0, released
  benchlib.py cpu PID                   "user sys" CPU seconds of PID's process tree
  benchlib.py rss PID                   resident KiB of PID's process tree
  benchlib.py row CSV key=value...      appends a result row
  benchlib.py ringload CSV LAT JSON key=value...
                                        a row from a ringload --json result, its percentile
                                        spectrum appended to LAT
  benchlib.py sockperf CSV LAT OUT key=value...
                                        a row from sockperf pp's summary (--full-rtt)
  benchlib.py wrk CSV OUT key=value...   a row from wrk --latency's output
  benchlib.py report CSV LAT MD PNG [--title T] [--lat-case CASE]
                                        the Markdown summary with ratios, and the plots
"""
import csv
import json
import os
import socket
import statistics
import subprocess
import sys

COLUMNS = [
    "scenario", "case", "round", "side", "server", "generator", "conns", "depth", "size",
    "seconds", "throughput", "unit", "p50_us", "p90_us", "p99_us", "p999_us", "max_us",
    "srv_user_s", "srv_sys_s", "gen_user_s", "gen_sys_s", "errors", "open_s", "rss_kib",
    "rss_per_conn_b", "kmem_per_conn_b", "up_user_s", "up_sys_s",
]
LAT_COLUMNS = ["scenario", "case", "round", "side", "percentile", "latency_us"]
HZ = os.sysconf("SC_CLK_TCK")


def freeport(proto):
    kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def proc_table():
    """pid -> (ppid, utime, stime, cutime, cstime, rss_pages) for every process."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rindex(")") + 2:].split()
        # fields[0] is the state (stat field 3): ppid is field 4, utime..cstime 14..17, rss 24.
        table[int(name)] = (int(fields[1]), int(fields[11]), int(fields[12]), int(fields[13]),
                            int(fields[14]), int(fields[21]))
    return table


def tree(pid, table):
    children = {}
    for p, v in table.items():
        children.setdefault(v[0], []).append(p)
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        if p in table:
            out.append(p)
            todo.extend(children.get(p, []))
    return out


def cpu(pid):
    table = proc_table()
    pids = tree(pid, table)
    user = sum(table[p][1] for p in pids) + table[pid][3] if pid in table else 0
    sys_ = sum(table[p][2] for p in pids) + table[pid][4] if pid in table else 0
    print(f"{user / HZ:.3f} {sys_ / HZ:.3f}")


def rss(pid):
    table = proc_table()
    page_kib = os.sysconf("SC_PAGE_SIZE") // 1024
    print(sum(table[p][5] for p in tree(pid, table)) * page_kib)


def parse_kv(args):
    row = {}
    for a in args:
        k, _, v = a.partition("=")
        if k not in COLUMNS:
            sys.exit(f"benchlib: unknown column {k}")
        row[k] = v
    return row


def append(path, columns, row):
    new = not os.path.exists(path) or os.path.getsize(path) == 0
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="raise")
        if new:
            w.writeheader()
        w.writerow({c: row.get(c, "") for c in columns})


def row_cmd(path, args):
    append(path, COLUMNS, parse_kv(args))


def ringload_cmd(csv_path, lat_path, json_path, args):
    with open(json_path) as f:
        r = json.load(f)
    row = parse_kv(args)
    lat = r["latency"]["percentiles_us"]
    err = r["errors"]
    errors = sum(err.values()) + r["udp"]["lost"] + r["udp"]["corrupt"] + r["udp"]["duplicated"]
    if r["proto"] == "http":
        errors += r["http"]["3xx"] + r["http"]["4xx"] + r["http"]["5xx"]
    row.setdefault("conns", str(r["connections"]))
    row.setdefault("depth", str(r["depth"]))
    row.setdefault("size", str(r["size"]))
    row.setdefault("throughput", f'{r["msgs_per_sec"]:.0f}')
    row.setdefault("unit", "req/s" if r["proto"] == "http" else "msg/s")
    for col, key in (("p50_us", "50"), ("p90_us", "90"), ("p99_us", "99"), ("p999_us", "99.9")):
        row.setdefault(col, f"{lat[key]:.1f}")
    row.setdefault("max_us", f'{r["latency"]["max_us"]:.1f}')
    row.setdefault("errors", str(errors))
    append(csv_path, COLUMNS, row)
    curve = r.get("percentile_curve", []) if r["histogram"]["total"] > 0 else []
    for p, us in curve:
        append(lat_path, LAT_COLUMNS, {"scenario": row["scenario"], "case": row["case"],
                                       "round": row["round"], "side": row["side"],
                                       "percentile": f"{p:.6f}", "latency_us": f"{us:.3f}"})


def sockperf_cmd(csv_path, lat_path, out_path, args):
    """A row from sockperf's client summary (pp/ul with --full-rtt: round trips in usec)."""
    import re
    with open(out_path, errors="replace") as f:
        text = re.sub(r"\x1b\[[0-9;]*m", "", f.read())
    row = parse_kv(args)
    m = re.search(r"\[Valid Duration\] RunTime=([0-9.]+) sec; SentMessages=(\d+); "
                  r"ReceivedMessages=(\d+)", text)
    if not m:
        sys.exit(f"benchlib: no sockperf summary in {out_path}")
    secs, recv = float(m.group(1)), int(m.group(3))
    pct = {float(a): float(b) for a, b in
           re.findall(r"percentile\s+([0-9.]+)\s*=\s*([0-9.]+)", text)}
    mx = re.search(r"<MAX> observation\s*=\s*([0-9.]+)", text)
    mn = re.search(r"<MIN> observation\s*=\s*([0-9.]+)", text)
    bad = sum(int(x) for x in re.findall(
        r"# (?:dropped|duplicated|out-of-order) messages = (\d+)", text))
    row.setdefault("throughput", f"{recv / secs:.0f}" if secs > 0 else "")
    row.setdefault("unit", "msg/s")
    for col, key in (("p50_us", 50.0), ("p90_us", 90.0), ("p99_us", 99.0), ("p999_us", 99.9)):
        if key in pct:
            row.setdefault(col, f"{pct[key]:.1f}")
    if mx:
        row.setdefault("max_us", mx.group(1))
    row.setdefault("errors", str(bad))
    append(csv_path, COLUMNS, row)
    points = sorted(pct.items())
    if mn:
        points.insert(0, (0.0, float(mn.group(1))))
    if mx:
        points.append((100.0, float(mx.group(1))))
    for p, us in points:
        append(lat_path, LAT_COLUMNS, {"scenario": row["scenario"], "case": row["case"],
                                       "round": row["round"], "side": row["side"],
                                       "percentile": f"{p:.6f}", "latency_us": f"{us:.3f}"})


def wrk_cmd(csv_path, out_path, args):
    """A row from wrk --latency's output: requests/s, latency distribution, errors."""
    import re
    with open(out_path, errors="replace") as f:
        text = f.read()
    row = parse_kv(args)
    m = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    if not m:
        sys.exit(f"benchlib: no wrk summary in {out_path}")
    row.setdefault("throughput", f"{float(m.group(1)):.0f}")
    row.setdefault("unit", "req/s")
    scale = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6}
    for pct, val, unit in re.findall(r"^\s+(50|90|99)%\s+([0-9.]+)(us|ms|s|m)\s*$", text, re.M):
        row.setdefault({"50": "p50_us", "90": "p90_us", "99": "p99_us"}[pct],
                       f"{float(val) * scale[unit]:.1f}")
    lat = re.search(r"^\s+Latency\s+\S+\s+\S+\s+([0-9.]+)(us|ms|s|m)", text, re.M)
    if lat:
        row.setdefault("max_us", f"{float(lat.group(1)) * scale[lat.group(2)]:.1f}")
    errs = 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                     text)
    if sock:
        errs += sum(int(x) for x in sock.groups())
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if non2xx:
        errs += int(non2xx.group(1))
    row.setdefault("errors", str(errs))
    append(csv_path, COLUMNS, row)


# ---------------------------------------------------------------------------------------------
# Report


def read_csv(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def mean(xs):
    xs = [x for x in xs if x is not None]
    return statistics.fmean(xs) if xs else None


def fmt(v, unit=""):
    if v is None:
        return "–"
    a = abs(v)
    if unit == "rate":
        if a >= 1e6:
            return f"{v / 1e6:.2f}M"
        if a >= 1e4:
            return f"{v / 1e3:.1f}k"
        if a >= 100:
            return f"{v:.0f}"
        return f"{v:.2f}"  # Gbit/s
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


class Group:
    """One (case, side): its rounds."""

    def __init__(self, rows):
        self.rows = rows
        r0 = rows[0]
        self.case, self.side = r0["case"], r0["side"]
        self.server, self.generator = r0["server"], r0["generator"]
        self.conns = num(r0["conns"])
        self.depth = r0["depth"]
        self.unit = r0["unit"]

    def col(self, name):
        return [num(r.get(name)) for r in self.rows]

    def m(self, name):
        return mean(self.col(name))

    def cpu(self, who):
        u, s = self.m(f"{who}_user_s"), self.m(f"{who}_sys_s")
        return None if u is None or s is None else u + s

    def per_cpu(self, who):
        """Throughput per CPU-second of the server, the generator or both ("all")."""
        vals = []
        for r in self.rows:
            t, secs = num(r["throughput"]), num(r["seconds"])
            parts = ["srv", "gen"] if who == "all" else [who]
            c = [num(r[f"{p}_user_s"]) for p in parts] + [num(r[f"{p}_sys_s"]) for p in parts]
            if t is None or secs is None or any(x is None for x in c) or sum(c) <= 0:
                continue
            vals.append(t * secs / sum(c))
        return mean(vals)


def is_ours(name):
    return name.startswith("ringsock") or name.startswith("ringload")


def comparison_kind(groups):
    servers = {g.server for g in groups}
    gens = {g.generator for g in groups}
    if len(gens) == 1 and len(servers) > 1:
        return "srv"
    if len(servers) == 1 and len(gens) > 1:
        return "gen"
    return "all"


def ours(g, kind):
    name = g.server if kind == "srv" else g.generator if kind == "gen" else g.side
    return is_ours(name) or "ringsock" in name or "ringload" in name


def report(csv_path, lat_path, md_path, png_path, title, lat_case=None):
    """The Markdown and PNG of a results CSV (its "# key: value" lines describe the run), so a
    committed CSV can be rendered again."""
    rows = read_csv(csv_path)
    lat = read_csv(lat_path)
    with open(csv_path) as f:
        meta = [line[2:].rstrip("\n") for line in f if line.startswith("# ")]
    order, by = [], {}
    for r in rows:
        key = (r["case"], r["side"])
        if key not in by:
            order.append(key)
            by[key] = []
        by[key].append(r)
    groups = [Group(by[k]) for k in order]
    cases = []
    for g in groups:
        if g.case not in cases:
            cases.append(g.case)
    out = [f"# {title}", ""]
    out += [f"- {m}" for m in meta]
    out.append("")
    if not rows:
        out.append("No results.")
    conn_mode = any(r["rss_per_conn_b"] for r in rows)
    nrounds = max((int(r["round"]) for r in rows), default=0)
    out.append(f"Means over {nrounds} round(s), sides alternating within each round; "
               "[min–max] over rounds. CPU seconds are per run.")
    out.append("")
    if conn_mode:
        out.append("RSS per connection: the server's resident memory while holding them, less "
                   "before, per connection. Kernel slab per connection: the machine's slab "
                   "memory (both ends' sockets and the server's kernel-side state), same way.")
        out.append("")
        out.append("| case | side | connections | open s | opened/s | server RSS MiB | "
                   "RSS per connection B | kernel slab per connection B | server CPU s "
                   "| errors |")
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        for g in groups:
            rss = g.m("rss_kib")
            out.append(
                f"| {g.case} | {g.side} | {fmt(g.conns)} | {fmt(g.m('open_s'))} "
                f"| {fmt(g.m('throughput'), 'rate')} | {fmt(rss / 1024 if rss else None)} "
                f"| {fmt(g.m('rss_per_conn_b'))} | {fmt(g.m('kmem_per_conn_b'))} "
                f"| {fmt(g.cpu('srv'))} | {sum(int(num(x) or 0) for x in g.col('errors'))} |")
    else:
        # Relays: the upstream shares the server CPU, so its CPU is shown beside the relay's.
        upstream = any(r.get("up_user_s") for r in rows)
        out.append("| case | side | throughput | [min–max] | p50 us | p99 us | p99.9 us "
                   "| server CPU s (user+sys) | per server CPU-s "
                   + ("| upstream CPU s (user+sys) " if upstream else "")
                   + "| generator CPU s | per generator CPU-s | errors |")
        out.append("|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if upstream else ""))
        for g in groups:
            t = g.col("throughput")
            ts = [x for x in t if x is not None]
            rng = f"[{fmt(min(ts), 'rate')}–{fmt(max(ts), 'rate')}]" if ts else ""
            su, ss = g.m("srv_user_s"), g.m("srv_sys_s")
            srv = f"{fmt(g.cpu('srv'))} ({fmt(su)}+{fmt(ss)})" if su is not None else "–"
            gu, gs = g.m("gen_user_s"), g.m("gen_sys_s")
            gen = f"{fmt(g.cpu('gen'))} ({fmt(gu)}+{fmt(gs)})" if gu is not None else "–"
            errs = sum(int(num(x) or 0) for x in g.col("errors"))
            out.append(
                f"| {g.case} | {g.side} | {fmt(g.m('throughput'), 'rate')} {g.unit} | {rng} "
                f"| {fmt(g.m('p50_us'))} | {fmt(g.m('p99_us'))} | {fmt(g.m('p999_us'))} "
                f"| {srv} | {fmt(g.per_cpu('srv'), 'rate')} "
                + (f"| {up_cell(g)} " if upstream else "") + f"| {gen} "
                f"| {fmt(g.per_cpu('gen'), 'rate')} | {errs} |")
    out.append("")
    out += ratio_table(groups, cases, conn_mode)
    with open(md_path, "w") as f:
        f.write("\n".join(out) + "\n")
    plot(groups, lat, png_path, title, conn_mode, lat_case)


def ratio_table(groups, cases, conn_mode):
    out = ["## Ratios", ""]
    if conn_mode:
        out.append("Memory per connection and time to open: peer / ringsock (above 1: "
                   "ringsock uses less).")
        out.append("")
        out.append("| case | ringsock side | peer | RSS per connection | kernel slab per "
                   "connection | time to open |")
        out.append("|---|---|---|---|---|---|")
    else:
        out.append("ringsock (or ringload) / peer, same case, same run. Throughput and work per "
                   "CPU-second: above 1 is better for ringsock; p99: peer / ringsock, above 1 "
                   "means ringsock's p99 is lower. CPU is the server's when the servers differ, "
                   "the generator's when the generators differ, both when both differ.")
        out.append("")
        out.append("| case | ours | peer | throughput | per CPU-second (whose) | p99 latency |")
        out.append("|---|---|---|---|---|---|")
    n = 0
    for case in cases:
        # "direct" (the generator straight to the relays' upstream) is a baseline, not a peer.
        gs = [g for g in groups if g.case == case and g.side != "direct"]
        kind = comparison_kind(gs)
        mine = [g for g in gs if ours(g, kind)]
        peers = [g for g in gs if not ours(g, kind)]
        pairs = [(a, b) for a in mine for b in peers]
        # Between ringsock's own backends too, where a case has both.
        pairs += [(a, b) for a in mine for b in mine
                  if "io_uring" in a.side and b.side == a.side.replace("io_uring", "epoll")]
        for a, b in pairs:
            n += 1
            if conn_mode:
                out.append(f"| {case} | {a.side} | {b.side} "
                           f"| {ratio(b.m('rss_per_conn_b'), a.m('rss_per_conn_b'))} "
                           f"| {ratio(b.m('kmem_per_conn_b'), a.m('kmem_per_conn_b'))} "
                           f"| {ratio(b.m('open_s'), a.m('open_s'))} |")
                continue
            who = {"srv": "server", "gen": "generator", "all": "server+generator"}[kind]
            out.append(f"| {case} | {a.side} | {b.side} "
                       f"| {ratio(a.m('throughput'), b.m('throughput'))} "
                       f"| {ratio(a.per_cpu(kind), b.per_cpu(kind))} ({who}) "
                       f"| {ratio(b.m('p99_us'), a.m('p99_us'))} |")
    if n == 0:
        out.append("| – | – | – | – | – | – |")
    out += generator_table(groups, conn_mode)
    return out


def generator_table(groups, conn_mode):
    """ringload against a peer generator on the same server, connections and depth (they sit in
    different cases, each case comparing servers under one generator)."""
    rows = []
    for a in groups:
        if not a.generator.startswith("ringload"):
            continue
        for b in groups:
            if (b.generator.startswith("ringload") or b.server != a.server
                    or b.conns != a.conns or b.depth != a.depth or b.case == a.case):
                continue
            rows.append(f"| {a.server} | {a.conns:.0f} | {a.generator} | {b.generator} "
                        f"| {ratio(a.m('throughput'), b.m('throughput'))} "
                        f"| {ratio(a.per_cpu('gen'), b.per_cpu('gen'))} |")
    if not rows or conn_mode:
        return []
    return ["", "Generators against the same server (ringload / peer): throughput, and work per "
            "generator CPU-second.", "",
            "| server | connections | ours | peer | throughput | per generator CPU-second |",
            "|---|---|---|---|---|---|"] + rows


def up_cell(g):
    u, s = g.m("up_user_s"), g.m("up_sys_s")
    return "–" if u is None or s is None else f"{fmt(u + s)} ({fmt(u)}+{fmt(s)})"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.2f}x"


def plot(groups, lat, png_path, title, conn_mode, lat_case=None):
    """Left: throughput against connections (or bars per case); right: the HDR percentile plot
    of lat_case, or of the case with the most latency spectra (for connections: time to open)."""
    blocks, cmds = [], []
    esc = lambda s: s.replace('"', "'")
    cmds.append("set terminal pngcairo noenhanced size 1500,560 font ',10'")
    cmds.append(f'set output "{png_path}"')
    cmds.append(f'set multiplot layout 1,2 title "{esc(title)}"')
    cmds.append("set grid; set key top left")
    # Left panel.
    series = {}
    for g in groups:
        if g.conns is None:
            continue
        gen = f" / {g.generator}" if len({x.generator for x in groups}) > 1 else ""
        key = f"{g.side}{gen} depth {g.depth}" if not conn_mode else g.side
        series.setdefault(key, []).append(g)
    multi = [k for k, v in series.items() if len({g.conns for g in v}) > 1]
    if conn_mode or multi:
        ycol = "rss_per_conn_b" if conn_mode else "throughput"
        cmds.append("set logscale x; set xlabel 'connections'")
        cmds.append("set ylabel '" + ("server RSS per connection (bytes)" if conn_mode
                                      else "throughput per second") + "'")
        cmds.append("set yrange [0:*]")
        plots = []
        for i, k in enumerate(multi if not conn_mode else list(series)):
            pts = sorted((g.conns, g.m(ycol)) for g in series[k] if g.m(ycol) is not None)
            blocks.append(f"$L{i} << EOD\n" + "\n".join(f"{x} {y}" for x, y in pts) + "\nEOD")
            plots.append(f'$L{i} using 1:2 with linespoints lw 2 title "{esc(k)}"')
        cmds.append("plot " + ", ".join(plots) if plots else "plot 0 notitle")
        cmds.append("unset logscale x")
    else:
        labels = [(f"{g.case} {g.side}", g.m("throughput") or 0) for g in groups]
        blocks.append("$BARS << EOD\n" + "\n".join(
            f'{i} {v} "{esc(l)}"' for i, (l, v) in enumerate(labels)) + "\nEOD")
        cmds.append("set style fill solid 0.6; set boxwidth 0.7")
        cmds.append("set xtics rotate by -35 font ',8'; set ylabel 'throughput per second'")
        cmds.append("set yrange [0:*]; set xrange [-0.6:%f]" % (len(labels) - 0.4))
        cmds.append("plot $BARS using 1:2:xtic(3) with boxes notitle")
        cmds.append("set xtics norotate font ',10'; set xrange [*:*]")
    # Right panel.
    if conn_mode:
        cmds.append("set logscale x; set xlabel 'connections'; set ylabel 'seconds to open all'")
        plots = []
        for i, (k, gs) in enumerate(series.items()):
            pts = sorted((g.conns, g.m("open_s")) for g in gs if g.m("open_s") is not None)
            blocks.append(f"$R{i} << EOD\n" + "\n".join(f"{x} {y}" for x, y in pts) + "\nEOD")
            plots.append(f'$R{i} using 1:2 with linespoints lw 2 title "{esc(k)}"')
        cmds.append("plot " + ", ".join(plots) if plots else "plot 0 notitle")
    else:
        spectra = {}
        for r in lat:
            spectra.setdefault(r["case"], {}).setdefault(r["side"], {}).setdefault(
                r["percentile"], []).append(float(r["latency_us"]))
        if spectra:
            case = lat_case if lat_case in spectra else max(spectra,
                                                            key=lambda c: (len(spectra[c]), c))
            cmds.append("set logscale x; set logscale y")
            # Tic labels are format strings: %% is a percent sign.
            cmds.append("set xtics ('0%%' 1, '50%%' 2, '90%%' 10, '99%%' 100, '99.9%%' 1000, "
                        "'99.99%%' 10000, '99.999%%' 100000)")
            cmds.append(f"set xlabel 'percentile ({esc(case)}, median over rounds)'")
            cmds.append("set ylabel 'latency (us)'; set yrange [*:*]; set key top left")
            plots = []
            for i, (side, pts) in enumerate(spectra[case].items()):
                data = []
                for p, us in sorted(pts.items(), key=lambda kv: float(kv[0])):
                    pf = float(p)
                    if pf >= 100:
                        continue
                    data.append(f"{1 / (1 - pf / 100):.6g} {statistics.median(us):.3f}")
                blocks.append(f"$P{i} << EOD\n" + "\n".join(data) + "\nEOD")
                plots.append(f'$P{i} using 1:2 with lines lw 2 title "{esc(side)}"')
            cmds.append("plot " + ", ".join(plots))
        else:
            cmds.append("set label 1 'no latency spectra in this scenario' at graph 0.3,0.5")
            cmds.append("plot [0:1] NaN notitle")
    cmds.append("unset multiplot")
    script = "\n".join(blocks + cmds) + "\n"
    with open(png_path + ".gp", "w") as f:
        f.write(script)
    res = subprocess.run(["gnuplot", png_path + ".gp"], capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"benchlib: gnuplot failed: {res.stderr.strip()}")
    os.unlink(png_path + ".gp")


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "freeport":
        freeport(args[0])
    elif cmd == "cpu":
        cpu(int(args[0]))
    elif cmd == "rss":
        rss(int(args[0]))
    elif cmd == "row":
        row_cmd(args[0], args[1:])
    elif cmd == "ringload":
        ringload_cmd(args[0], args[1], args[2], args[3:])
    elif cmd == "sockperf":
        sockperf_cmd(args[0], args[1], args[2], args[3:])
    elif cmd == "wrk":
        wrk_cmd(args[0], args[1], args[2:])
    elif cmd == "report":
        opts = dict(zip(args[4::2], args[5::2]))
        report(args[0], args[1], args[2], args[3], opts.get("--title", args[0]),
               opts.get("--lat-case"))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
