#!/usr/bin/python3
"""Summarises a benchmark run (tests/bench/run.sh): the figures against their targets, the
per-concurrency tables, and a plot of requests/s against concurrency.

    report.py OUT                       # prints the summary (smoke runs)
    report.py OUT --docs FILE --plots DIR
        # also writes the summary between the bench markers of FILE and the plots into DIR

Every figure is the median of the run's repetitions; "peak" is the best such median over the
concurrency levels, so each side is compared at its own best.
"""

import argparse
import json
import os
import statistics
import sys
from collections import defaultdict

START, END = "<!-- bench:start -->", "<!-- bench:end -->"
SINGLE = ["discovery", "jwks", "client_credentials", "introspection"]
PEER = "oidc-provider"


def load(out):
    with open(os.path.join(out, "results.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def medians_by_level(rows, workload, server):
    """{concurrency: median per_sec} for one workload and server."""
    runs = defaultdict(list)
    for r in rows:
        if r.get("workload") == workload and r.get("server") == server:
            runs[r["concurrency"]].append(r["per_sec"])
    return {c: statistics.median(v) for c, v in sorted(runs.items())}


def peak(levels):
    if not levels:
        return None, None
    c = max(levels, key=levels.get)
    return levels[c], c


def one(rows, workload, server, key):
    vals = [r[key] for r in rows if r.get("workload") == workload and r.get("server") == server]
    return statistics.median(vals) if vals else None


def login_cpu(rows, level):
    """The median per-thread CPU split of the login runs at `level` (the peak)."""
    runs = [
        r["server_cpu_per_login"]
        for r in rows
        if r.get("workload") == "login"
        and r.get("server") == "stepgate"
        and r.get("concurrency") == level
        and r.get("server_cpu_per_login", {}).get("outside_over_blocking") is not None
    ]
    if not runs:
        return None
    return {k: statistics.median(r[k] for r in runs) for k in runs[0] if k != "ops"}


FLEET_SHAPES = {
    "shared": "16 keep-alive connections sharing 48 hosts (3 each)",
    "one-per-host": "16 hosts, one connection each; the per-host limit of 100 requests/s "
    "caps this at 16 × 100 ÷ 2 = 800/s",
}


def fleet_runs(rows, shape):
    return [r for r in rows if r.get("workload") == "hosts" and r.get("shape") == shape]


def fleet_rows(rows):
    lines = []
    for shape, label in FLEET_SHAPES.items():
        runs = fleet_runs(rows, shape)
        if not runs:
            continue
        rate = statistics.median(r["per_sec"] for r in runs)
        cap = " (capped)" if shape == "one-per-host" else ""
        lines.append(
            f"| fleet: host-protocol TOTP verifications/s (begin + check, both answered), "
            f"{label} | {fmt(rate)} | — | — | ≥ 1,000/s{cap} | {verdict(rate >= 1000)} |"
        )
    measured = sorted(
        (r for r in rows if r.get("workload") == "hosts" and "rss_before_kib" in r),
        key=lambda r: (r.get("rep", 0), r.get("shape") != "shared"),
    )
    idle = one(rows, "fleet_rss_idle", "stepgate", "kib")
    if measured:
        before, after = measured[0]["rss_before_kib"], measured[-1]["rss_after_kib"]
        lines.append(
            f"| fleet: server RSS before → after the measured host load (MiB; after a warm-up "
            f"run; straight after start-up it was {fmt(idle / 1024 if idle else None, 1)}) "
            f"| {before / 1024:.1f} → {after / 1024:.1f} | — | {after / before:.2f}× "
            f"| within 10% | {verdict(abs(after / before - 1) <= 0.10)} |"
        )
    return lines


def fleet_table(rows):
    lines = []
    runs = {s: fleet_runs(rows, s) for s in FLEET_SHAPES}
    if not any(runs.values()):
        return lines
    lines.append(
        "| fleet (median of the runs) | verifications/s | requests/s | p50 ms | p99 ms "
        "| server CPU ms per verification (workers / SQLite / other) | driver CPU ms "
        "| errors |"
    )
    lines.append("|---|---|---|---|---|---|---|---|")
    for shape, label in FLEET_SHAPES.items():
        rs = runs[shape]
        if not rs:
            continue
        med = lambda k: statistics.median(r[k] for r in rs)  # noqa: E731
        cpu = [r["server_cpu_per_verification"] for r in rs if "server_cpu_per_verification" in r]
        cm = lambda k: statistics.median(c[k] for c in cpu) if cpu else None  # noqa: E731
        kinds = defaultdict(int)
        for r in rs:
            for k, n in r.get("errors_by_kind", {}).items():
                kinds[k] += n
        errors = ", ".join(f"{k}: {n}" for k, n in sorted(kinds.items())) or "none"
        lines.append(
            f"| {shape} ({rs[0].get('hosts')} hosts) | {fmt(med('per_sec'))} "
            f"| {fmt(med('requests_per_sec'))} | {fmt(med('p50_ms'), 1)} | {fmt(med('p99_ms'), 1)} "
            f"| {fmt(cm('total_ms'), 2)} ({fmt(cm('tokio_workers_ms'), 2)} / "
            f"{fmt(cm('sqlite_threads_ms'), 2)} / {fmt(cm('other_threads_ms'), 2)}) "
            f"| {fmt(med('driver_cpu_ms_per_verification'), 2)} | {errors} |"
        )
    lines.append("")
    return lines


def verdict(ok):
    return "**met**" if ok else "**not met**"


def fmt(x, digits=0):
    return "—" if x is None else f"{x:,.{digits}f}"


def summary(out, rows, plots_rel=None):
    lines = []
    machine = {}
    with open(os.path.join(out, "machine.txt")) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            machine[k] = v
    lines.append(
        f"Run of {machine.get('date')} on {machine.get('cores')} cores ({machine.get('cpu')}), "
        f"Linux {machine.get('kernel')}; {machine.get('rustc')}; Node {machine.get('node')}, "
        f"oidc-provider {machine.get('oidc_provider')}; {machine.get('wrk')}. "
        f"Settings: {machine.get('mode')}."
    )
    lines.append("")
    lines.append("| workload | Stepgate | peer | Stepgate / peer | target | |")
    lines.append("|---|---|---|---|---|---|")
    errors = [r for r in rows if r.get("errors") or r.get("socket_errors")]

    for w in SINGLE:
        sg, sgc = peak(medians_by_level(rows, w, "stepgate"))
        pe, pec = peak(medians_by_level(rows, w, PEER))
        ratio = sg / pe if sg and pe else None
        lines.append(
            f"| {w.replace('_', ' ')} (peak req/s) | {fmt(sg)} (c={sgc}) | {fmt(pe)} (c={pec}) "
            f"| {fmt(ratio, 2)}× | ≥ 2× | {verdict(ratio is not None and ratio >= 2)} |"
        )

    argon = [r["per_sec"] for r in rows if "verifications" in r]
    bound = statistics.median(argon) if argon else None
    refresh, rc = peak(medians_by_level(rows, "refresh", "stepgate"))
    lines.append(
        f"| refresh with rotation, SQLite (peak/s) | {fmt(refresh)} (c={rc}) | Keycloak sizing: "
        f"120/s per vCPU = {120 * int(machine.get('cores', '2'))}/s | "
        f"{fmt(refresh / (120 * int(machine.get('cores', '2'))) if refresh else None, 1)}× "
        f"| ≥ 1,000/s | {verdict(refresh is not None and refresh >= 1000)} |"
    )
    login, lc = peak(medians_by_level(rows, "login", "stepgate"))
    frac = login / bound if login and bound else None
    lines.append(
        f"| full login: authorize → password → TOTP → code → token (peak/s) | {fmt(login, 1)} "
        f"(c={lc}) | argon2id bound {fmt(bound, 1)} verifications/s; Keycloak sizing 15/s per "
        f"vCPU = {15 * int(machine.get('cores', '2'))}/s | {fmt(frac * 100 if frac else None, 0)}% "
        f"of the bound | ≥ 85% | {verdict(frac is not None and frac >= 0.85)} |"
    )

    cpu = login_cpu(rows, lc)
    if cpu:
        lines.append(
            f"| full login: server CPU outside the argon2 hash, against the hash's (c={lc}; "
            f"per login: hash {cpu['blocking_pool_ms']:.1f} ms; the rest "
            f"{cpu['outside_blocking_ms']:.1f} ms = tokio workers {cpu['tokio_workers_ms']:.1f}, "
            f"SQLite threads {cpu['sqlite_threads_ms']:.1f}, other {cpu['other_threads_ms']:.1f}) "
            f"| {cpu['outside_over_blocking'] * 100:.0f}% | — | — | ≤ 25% "
            f"| {verdict(cpu['outside_over_blocking'] <= 0.25)} |"
        )

    pam = next((r for r in rows if r.get("workload") == "pam"), None)
    if pam:
        sg = statistics.median(pam["stepgate_us"]) / 1000
        ga = statistics.median(pam["google_us"]) / 1000
        lines.append(
            f"| PAM: pamtester TOTP login (median ms) | {sg:.1f} | pam_google_authenticator "
            f"{ga:.1f} | {sg / ga:.2f}× | ≤ 1.5× | {verdict(sg / ga <= 1.5)} |"
        )
        if pam.get("stepgate_remote_us"):
            rm = statistics.median(pam["stepgate_remote_us"]) / 1000
            lines.append(
                f"| PAM remote mode (fleet): pamtester TOTP login through `stepgate serve` over "
                f"HTTPS, a new TLS connection each (median ms) | {rm:.1f} | "
                f"pam_google_authenticator {ga:.1f} | {rm / ga:.2f}× | ≤ 2× "
                f"| {verdict(rm / ga <= 2)} |"
            )
    lines.extend(fleet_rows(rows))
    for kind, label in (
        ("rss_idle", "idle, existing database"),
        ("rss_peak", "peak under the token load"),
    ):
        sg = one(rows, kind, "stepgate", "kib")
        pe = one(rows, kind, PEER, "kib")
        ratio = sg / pe if sg and pe else None
        lines.append(
            f"| memory: RSS {label} (MiB) | {fmt(sg / 1024 if sg else None, 1)} | "
            f"{fmt(pe / 1024 if pe else None, 1)} | {fmt(ratio, 2)}× | ≤ 0.25× "
            f"| {verdict(ratio is not None and ratio <= 0.25)} |"
        )
    first = one(rows, "rss_idle_first_start", "stepgate", "kib")
    if first:
        lines.append(
            f"| memory: RSS idle after the first start on a new database, signing keys just "
            f"generated (MiB; for information) | {first / 1024:.1f} | — | — | — | — |"
        )
    start = one(rows, "startup", "stepgate", "median_ms")
    lines.append(
        f"| start-up to ready, existing database (median ms) | {fmt(start, 1)} | — | — "
        f"| < 200 ms | {verdict(start is not None and start < 200)} |"
    )
    for w in ("login", "refresh"):
        by = {}
        for size in ("large", "small"):
            vals = [
                r["per_sec"]
                for r in rows
                if r.get("workload") == f"scale_{w}" and r.get("users") == size
            ]
            by[size] = statistics.median(vals) if vals else None
        ratio = by["large"] / by["small"] if by["large"] and by["small"] else None
        lines.append(
            f"| scale: {w} with the large database vs 100 users (/s) | {fmt(by['large'], 1)} "
            f"| {fmt(by['small'], 1)} | {fmt(ratio, 2)}× | ≥ 0.90× | "
            f"{verdict(ratio is not None and ratio >= 0.9)} |"
        )
    lines.append("")
    if errors:
        which = "; ".join(
            f"{r.get('server')} {r.get('workload')} c={r.get('concurrency')}: "
            f"{r.get('socket_errors') or r.get('errors')}"
            for r in errors
        )
        lines.append(
            f"Errors during the run: {len(errors)} result(s) with failed requests ({which}) "
            "— see results.jsonl."
        )
        lines.append("")

    lines.append("Requests/s (median of the runs) by concurrency:")
    lines.append("")
    for w in SINGLE:
        sg = medians_by_level(rows, w, "stepgate")
        pe = medians_by_level(rows, w, PEER)
        levels = sorted(set(sg) | set(pe))
        lines.append(f"| {w.replace('_', ' ')} | " + " | ".join(f"c={c}" for c in levels) + " |")
        lines.append("|---|" + "---|" * len(levels))
        lines.append("| Stepgate | " + " | ".join(fmt(sg.get(c)) for c in levels) + " |")
        lines.append(f"| {PEER} | " + " | ".join(fmt(pe.get(c)) for c in levels) + " |")
        lines.append(
            "| ratio | "
            + " | ".join(
                fmt(sg[c] / pe[c], 2) + "×" if sg.get(c) and pe.get(c) else "—" for c in levels
            )
            + " |"
        )
        lines.append("")
    for w, unit in (("login", "logins/s"), ("refresh", "refreshes/s")):
        lv = medians_by_level(rows, w, "stepgate")
        p50 = defaultdict(list)
        for r in rows:
            if r.get("workload") == w and r.get("server") == "stepgate":
                p50[r["concurrency"]].append(r["p50_ms"])
        lines.append(f"| {w} ({unit}) | " + " | ".join(f"c={c}" for c in lv) + " |")
        lines.append("|---|" + "---|" * len(lv))
        lines.append("| Stepgate | " + " | ".join(fmt(v, 1) for v in lv.values()) + " |")
        lines.append(
            "| median latency ms | "
            + " | ".join(fmt(statistics.median(p50[c]), 1) for c in lv)
            + " |"
        )
        lines.append("")
    lines.extend(fleet_table(rows))
    if plots_rel:
        lines.append(f"![requests/s against concurrency]({plots_rel}/rps-vs-concurrency.svg)")
        lines.append("")
    return "\n".join(lines)


def plot(rows, plots_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    for ax, w in zip(axes.flat, SINGLE):
        for server, style in (("stepgate", "o-"), (PEER, "s--")):
            lv = medians_by_level(rows, w, server)
            if lv:
                ax.plot(list(lv), list(lv.values()), style, label=server)
        ax.set_xscale("log", base=2)
        ax.set_title(w.replace("_", " "))
        ax.set_xlabel("concurrent connections")
        ax.set_ylabel("requests/s")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend()
    argon = [r["per_sec"] for r in rows if "verifications" in r]
    for ax, w in zip(list(axes.flat)[4:], ("login", "refresh")):
        lv = medians_by_level(rows, w, "stepgate")
        if lv:
            ax.plot(list(lv), list(lv.values()), "o-", label="stepgate")
        if w == "login" and argon:
            ax.axhline(statistics.median(argon), color="grey", linestyle=":", label="argon2id bound")
        ax.set_xscale("log", base=2)
        ax.set_title("full login (TOTP)" if w == "login" else "refresh with rotation")
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel("per second")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle("Stepgate and oidc-provider on the same machine (median of the runs)")
    fig.tight_layout()
    os.makedirs(plots_dir, exist_ok=True)
    for ext in ("svg", "png"):
        fig.savefig(os.path.join(plots_dir, f"rps-vs-concurrency.{ext}"), dpi=80)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--docs")
    ap.add_argument("--plots")
    args = ap.parse_args()
    rows = load(args.out)
    plots_rel = None
    if args.plots:
        plot(rows, args.plots)
        plot(rows, args.out)
        if args.docs:
            plots_rel = os.path.relpath(args.plots, os.path.dirname(args.docs))
    else:
        plot(rows, args.out)
    text = summary(args.out, rows, plots_rel)
    with open(os.path.join(args.out, "summary.md"), "w") as f:
        f.write(text + "\n")
    print(text)
    if args.docs:
        with open(args.docs) as f:
            doc = f.read()
        if START not in doc or END not in doc:
            sys.exit(f"{args.docs} has no {START} … {END} section")
        head, rest = doc.split(START, 1)
        _, tail = rest.split(END, 1)
        with open(args.docs, "w") as f:
            f.write(head + START + "\n" + text + "\n" + END + tail)


if __name__ == "__main__":
    main()
