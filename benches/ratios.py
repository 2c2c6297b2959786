#!/usr/bin/env python3
"""Ratio tables of the engine's `bench` against the peers, from the files benches/run.sh writes.

usage: ratios.py OUT_DIR [--stored PEERS_RESULTS_DIR [--stored-any-cpu]]
       ratios.py --into-readme README.md REPORT.md   (replaces the text between the README's
                 "<!-- results:begin -->" and "<!-- results:end -->" markers)

OUT_DIR holds ours_gemm.<threads>.jsonl, ours_train.jsonl (bench --json lines), peer_gemm.csv
(gemm.py --csv), peer_gemm_rust.csv (rust_gemm --csv), peer_train.csv (train_step.py --csv),
machine.txt and notes.txt. Any of them may be missing. With --stored, a peer that did not run
live is taken from the peers' stored results (best of their passes, as their report.py does) and
marked with a dagger: those were measured at another time, under another load, so the ratio is
only indicative. Stored results are ignored when their machine.txt names another CPU model than
this run's (the VM behind this machine can change between sessions), unless --stored-any-cpu.
Standard library only.
"""
import csv, glob, json, os, re, sys

TARGET_GEMM_SQ = {"1": 1.0, "2": 0.95}  # vs numpy/OpenBLAS, sq256..sq2048
TARGET_TRAIN = {"mlp": 0.8, "unet": 1.0, "gpt": 1.0}  # time vs torch at 2 threads
TARGET_RSS = 0.5
GEMM_PEERS = ["numpy", "torch", "jax", "gemm", "matrixmultiply", "candle"]


def read_jsonl(pattern):
    rows = []
    for f in sorted(glob.glob(pattern)):
        for line in open(f):
            line = line.strip()
            if line.startswith("{"):
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    return rows


def read_csv(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def stored_gemm(d):
    """{(lib, threads, shape): gflops} best over the stored passes."""
    best = {}
    for f in glob.glob(os.path.join(d, "gemm_py.*.csv")) + glob.glob(os.path.join(d, "gemm_rust.*.csv")):
        for r in read_csv(f):
            k = (r["lib"], r["threads"], r["shape"])
            best[k] = max(best.get(k, 0.0), float(r["gflops"]))
    return best


def stored_train(d):
    """{(workload, fw, threads): row} with the lowest median over the stored passes."""
    best = {}
    for f in glob.glob(os.path.join(d, "train.*.csv")):
        for r in read_csv(f):
            k = (r["workload"], r["framework"], r["threads"])
            if k not in best or float(r["median_ms"]) < float(best[k]["median_ms"]):
                best[k] = r
    return best


def kv_file(path):
    d = {}
    if os.path.exists(path):
        for line in open(path):
            k, _, v = line.strip().partition(": ")
            d[k] = v
    return d


def f2(x):
    return "-" if x is None else f"{x:.2f}"


def gemm_section(out, stored_dir):
    ours = {}  # (threads, shape) -> gflops
    shapes = []
    for r in read_jsonl(os.path.join(out, "ours_gemm.*.jsonl")):
        if r.get("bench") == "gemm":
            ours[(str(r["threads"]), r["shape"])] = r["gflops"]
            if r["shape"] not in shapes:
                shapes.append(r["shape"])
    live = {}
    for name in ("peer_gemm.csv", "peer_gemm_rust.csv"):
        for r in read_csv(os.path.join(out, name)):
            live[(r["lib"], r["threads"], r["shape"])] = float(r["gflops"])
            if r["shape"] not in shapes:
                shapes.append(r["shape"])
    stored = stored_gemm(stored_dir) if stored_dir else {}
    if not ours and not live:
        return ["(no GEMM results)"]
    threads = sorted({t for t, _ in ours} | {t for _, t, _ in live}, key=int)
    lines = []
    for t in threads:
        peers = []  # (lib, source dict, marker)
        for lib in GEMM_PEERS:
            if any(k[0] == lib and k[1] == t for k in live):
                peers.append((lib, live, ""))
            elif any(k[0] == lib and k[1] == t for k in stored):
                peers.append((lib, stored, "†"))
        head = ["shape", f"ours {t}T"]
        for lib, _, m in peers:
            head += [f"{lib}{m}", f"ours/{lib}"]
        head.append("issue target")
        lines += [f"### {t} thread(s): GFLOP/s, ratio = ours / peer (> 1: ours faster)", "",
                  "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for s in shapes:
            o = ours.get((t, s))
            cells = [s, f"{o:.1f}" if o is not None else "-"]
            ratio = {}
            for lib, src, _ in peers:
                p = src.get((lib, t, s))
                r = o / p if (o is not None and p) else None
                ratio[lib] = r
                cells += [f"{p:.1f}" if p else "-", f2(r)]
            tg = []
            if s.startswith("sq") and s != "sq128" and ratio.get("numpy") is not None:
                want = TARGET_GEMM_SQ.get(t, 1.0)
                tg.append(f"≥{want:.2f}× numpy: {'met' if ratio['numpy'] >= want else 'not met'}")
            if (s.startswith("conv") or s.startswith("attn")) and ratio.get("numpy") is not None:
                tg.append(f"≥1.00× OpenBLAS: {'met' if ratio['numpy'] >= 1.0 else 'not met'}")
            if s.startswith("sq") and s != "sq128" and ratio.get("gemm") is not None:
                tg.append(f"≥1.10× gemm: {'met' if ratio['gemm'] >= 1.1 else 'not met'}")
            cells.append("; ".join(tg) or "-")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def train_section(out, stored_dir):
    ours = {}
    for r in read_jsonl(os.path.join(out, "ours_train.jsonl")):
        if r.get("bench") == "train-step":
            ours[(r["workload"], str(r["threads"]))] = r
    live = {(r["workload"], r["framework"], r["threads"]): r for r in read_csv(os.path.join(out, "peer_train.csv"))}
    stored = stored_train(stored_dir) if stored_dir else {}
    if not ours and not live:
        return ["(no training-step results)"]
    lines = ["### ours: phases (medians of the timed steps) and parameter counts", "",
             "| workload | threads | params (ours) | params (PyTorch) | median ms/step | min ms | forward ms | backward ms "
             "| optimiser ms | GFLOP/s (torch's FLOP count) | peak RSS MB | foreign load (cores) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    order = ["mlp", "unet", "gpt"]
    keys = sorted(ours, key=lambda k: (order.index(k[0]) if k[0] in order else 9, int(k[1])))
    for k in keys:
        r = ours[k]
        ok = "" if r.get("params") == r.get("params_pytorch") else " (MISMATCH)"
        lines.append(f"| {k[0]} | {k[1]} | {r['params']:,}{ok} | {r.get('params_pytorch', 0):,} | {r['median_ms']:.2f} | "
                     f"{r.get('min_ms', 0):.2f} | {r.get('fwd_ms', 0):.2f} | {r.get('bwd_ms', 0):.2f} | "
                     f"{r.get('opt_ms', 0):.2f} | {r.get('achieved_gflops', 0):.1f} | {f2(r.get('peak_rss_mb'))} | "
                     f"{f2(r.get('foreign_load'))} |")
    lines += ["", "### ours vs peers: ms per step, ratio = ours / peer (< 1: ours faster)", "",
              "| workload | threads | ours ms | peer | peer ms | time ours/peer | ours RSS MB | peer RSS MB | RSS ours/peer "
              "| params equal | issue target (torch, 2 threads) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for w, t in keys + [k for k in sorted({(k[0], k[2]) for k in list(live) + list(stored)}) if k not in ours]:
        o = ours.get((w, t))
        peers = []
        for fw in ("torch", "jax"):
            if (w, fw, t) in live:
                peers.append((fw, live[(w, fw, t)], ""))
            elif (w, fw, t) in stored:
                peers.append((fw, stored[(w, fw, t)], "†"))
        if not peers:
            peers = [(None, None, "")]
        for fw, p, mark in peers:
            om = o["median_ms"] if o else None
            pm = float(p["median_ms"]) if p else None
            orss = o.get("peak_rss_mb") if o else None
            prss = float(p["rss_mb"]) if p and p.get("rss_mb") else None
            tr = om / pm if om and pm else None
            rr = orss / prss if orss and prss else None
            same = "-" if not (o and p) else ("yes" if int(p["params"]) == o["params"] else f"NO ({int(p['params']):,})")
            tg = "-"
            if fw == "torch" and t == "2" and tr is not None:
                want = TARGET_TRAIN.get(w, 1.0)
                tg = f"time ≤{want:.1f}×: {'met' if tr <= want else 'not met'}"
                if rr is not None:
                    tg += f"; RSS ≤{TARGET_RSS:.1f}×: {'met' if rr <= TARGET_RSS else 'not met'}"
            peer = f"{fw} {p.get('version', '')}{mark}" if p else "(none ran)"
            lines.append(f"| {w} | {t} | {f2(om)} | {peer} | {f2(pm)} | {f2(tr)} | {f2(orss)} | {f2(prss)} | {f2(rr)} "
                         f"| {same} | {tg} |")
    return lines


BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def into_readme(readme, report):
    text = open(readme).read()
    if BEGIN not in text or END not in text:
        sys.exit(f"{readme}: markers {BEGIN} / {END} not found")
    body = open(report).read().replace("# Engine (`bench`) vs peers, CPU", "").strip()
    body = re.sub(r"^(#+) ", r"#\1 ", body, flags=re.M)  # one level down: under the README's "## Results"
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    with open(readme, "w") as f:
        f.write(f"{head}{BEGIN}\n{body}\n{END}{tail}")


def main():
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return
    if args[0] == "--into-readme" and len(args) == 3:
        into_readme(args[1], args[2])
        return
    out = args[0]
    stored_dir = args[args.index("--stored") + 1] if "--stored" in args else None
    m = kv_file(os.path.join(out, "machine.txt"))
    sm = kv_file(os.path.join(stored_dir, "machine.txt")) if stored_dir else {}
    stored_note = None
    if stored_dir and "--stored-any-cpu" not in args:
        here, there = m.get("cpu", "?").split(" (")[0], sm.get("cpu", "?").split(" (")[0]
        if here != there:
            stored_note = (f"- The peers' stored results ({stored_dir}, run {sm.get('date', '?')}) were measured on "
                           f"'{there}', this run on '{here}': not used (ratios across machines mean nothing).")
            stored_dir = None
    print("# Engine (`bench`) vs peers, CPU\n")
    print(f"**Machine:** {m.get('cpu', '?')}; cores: {m.get('cores', '?')}; flags: {m.get('flags', '').strip()}; "
          f"kernel: {m.get('kernel', '?')}  ")
    print(f"**Run:** {m.get('date', '?')}, commit {m.get('commit', '?')}\n")
    print("## SGEMM f32 (`bench gemm` vs gemm.py / rust_gemm)\n")
    print("\n".join(gemm_section(out, stored_dir)))
    print("## One training step: forward + backward + optimiser (`bench train-step` vs train_step.py)\n")
    print("\n".join(train_section(out, stored_dir)) + "\n")
    print("## Notes\n")
    print("- Each cell is one process; 1-thread runs are pinned to one CPU (taskset for ours, sched_setaffinity "
          "for the Python peers). GEMM: median of 7-100 calls after 2 warm-ups (~0.5 s per cell). Training: median "
          "of the timed steps after the warm-up steps. Peak RSS is each process's high-water mark.")
    if stored_dir:
        print(f"- † = peer not run live; taken from the peers' stored results ({stored_dir}, run "
              f"{sm.get('date', '?')}, best of their passes) on this machine, under a different load: indicative only.")
    if stored_note:
        print(stored_note)
    print("- train_step.py runs unet and gpt at 2 threads only, mlp at 1 and 2.")
    for f in ("peer_gemm.md", "peer_gemm_rust.md", "peer_train.md"):
        p = os.path.join(out, f)
        if os.path.exists(p):
            for line in open(p):
                if line.startswith("- ") and ("FAILED" in line or "foreign load" in line):
                    print(f"- {f.split('.')[0]}: {line[2:].strip()}")
    if os.path.exists(os.path.join(out, "notes.txt")):
        for line in open(os.path.join(out, "notes.txt")):
            if line.strip():
                print(f"- {line.strip()}")


if __name__ == "__main__":
    main()
