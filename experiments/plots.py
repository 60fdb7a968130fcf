"""``mixbench plot``: figures and a Markdown summary from the raw records only.

Statistics with numpy: medians and 10th/90th percentiles over repetitions, and per phase a
least-squares fit ``t(N) = a·N + b`` on every successful run (``numpy.polyfit`` with its
covariance when there are enough points), reported with the standard errors of ``a`` and ``b`` and
the relative RMS error of the fit. Figures (matplotlib, Agg backend, PNG and SVG):

* ``phases_vs_n``: seconds per phase against N, log-log, with the fitted lines;
* ``throughput_vs_workers``: mixing throughput (ballots/s over all hops) and a node's hop
  throughput (N / (shuffle + prove + transfer)) against workers per node;
* ``groups``: seconds per phase for each group at the N most groups were run with;
* ``faults``: time to detect and to recover for each fault scenario.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from experiments.records import TIMED_PHASES, RecordError, load_records

PHASE_LABELS = {
    "keygen": "key generation (DKG)",
    "casting": "casting (HTTP, all ballots)",
    "hop_node_mean": "hop: shuffle+prove+transfer",
    "hop_verify_mean": "hop: server verification",
    "mixing": "mixing (all hops)",
    "decryption": "decryption (shares+combine)",
    "verify_record": "full-record verification",
}

Record = Mapping[str, Any]


def _ok(records: Iterable[Record]) -> list[Record]:
    return [r for r in records if r.get("status") == "ok"]


def _mode(values: Iterable[Any]) -> Any:
    counts: dict[Any, int] = defaultdict(int)
    for v in values:
        counts[v] += 1
    return max(counts, key=lambda v: counts[v]) if counts else None


def _select(records: Sequence[Record], **fixed: Any) -> list[Record]:
    return [r for r in records if all(r.get(k) == v for k, v in fixed.items())]


def baseline(records: Sequence[Record]) -> dict[str, Any]:
    """The most common setting of everything but N (fault ``none``): what the N-sweep uses."""
    clean = _select(_ok(records), fault="none")
    return {k: _mode(r[k] for r in clean) for k in ("group", "nodes", "threshold", "width",
                                                    "workers")}  # fmt: skip


def summarise(values: Sequence[float]) -> dict[str, float]:
    """Median, 10th and 90th percentiles and count."""
    arr = np.asarray(values, dtype=float)
    return {"median": float(np.median(arr)), "p10": float(np.percentile(arr, 10)),
            "p90": float(np.percentile(arr, 90)), "count": float(arr.size)}  # fmt: skip


def fit_linear(ns: Sequence[float], ts: Sequence[float]) -> dict[str, float] | None:
    """Least-squares ``t = a·N + b``; ``a_err``/``b_err`` are standard errors (None with fewer
    than four points, where the covariance is undefined) and ``rel_rms`` the relative RMS error."""
    x, y = np.asarray(ns, dtype=float), np.asarray(ts, dtype=float)
    if x.size < 2 or np.unique(x).size < 2:
        return None
    if x.size >= 4:
        coef, cov = np.polyfit(x, y, 1, cov=True)
        a_err, b_err = float(np.sqrt(cov[0, 0])), float(np.sqrt(cov[1, 1]))
    else:
        coef = np.polyfit(x, y, 1)
        a_err = b_err = float("nan")
    a, b = float(coef[0]), float(coef[1])
    pred = a * x + b
    rel = float(np.sqrt(np.mean(((y - pred) / np.where(y == 0, 1, y)) ** 2)))
    return {"a": a, "b": b, "a_err": a_err, "b_err": b_err, "rel_rms": rel, "points": float(x.size)}


def _figure() -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    return fig, ax


def _save(fig: Any, out: Path, name: str) -> list[Path]:
    import matplotlib.pyplot as plt

    paths = []
    fig.tight_layout()
    for ext in ("png", "svg"):
        path = out / f"{name}.{ext}"
        fig.savefig(path, dpi=110)
        paths.append(path)
    plt.close(fig)
    return paths


def _by(
    records: Iterable[Record], key: Callable[[Record], Any], field: str
) -> dict[Any, list[float]]:
    out: dict[Any, list[float]] = defaultdict(list)
    for r in records:
        if r.get(field) is not None:
            out[key(r)].append(float(r[field]))
    return dict(out)


def plot_phases_vs_n(records: Sequence[Record], out: Path) -> tuple[list[Path], dict[str, Any]]:
    base = baseline(records)
    sweep = _select(_ok(records), fault="none", **base)
    fits: dict[str, Any] = {}
    if len({r["ballots"] for r in sweep}) < 2:
        return [], fits
    fig, ax = _figure()
    for phase in TIMED_PHASES:
        groups = _by(sweep, lambda r: r["ballots"], phase)
        if len(groups) < 2:
            continue
        ns = sorted(groups)
        stats = [summarise(groups[n]) for n in ns]
        med = np.array([s["median"] for s in stats])
        lo = med - np.array([s["p10"] for s in stats])
        hi = np.array([s["p90"] for s in stats]) - med
        line = ax.errorbar(ns, med, yerr=[lo, hi], marker="o", ms=4, capsize=3, lw=1,
                           label=PHASE_LABELS.get(phase, phase))  # fmt: skip
        all_n = [n for n in ns for _ in groups[n]]
        all_t = [t for n in ns for t in groups[n]]
        fit = fit_linear(all_n, all_t)
        if fit:
            fits[phase] = fit
            xs = np.geomspace(min(ns), max(ns), 50)
            ys = fit["a"] * xs + fit["b"]
            # A negative intercept makes the fit meaningless at small N: draw it only where it is
            # within reach of the data, instead of plunging down the log axis.
            shown = ys >= 0.5 * min(med)
            ax.plot(xs[shown], ys[shown], ls="--", lw=0.8, color=line[0].get_color())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("ballots N")
    ax.set_ylabel("seconds (median, p10–p90); dashed: fit a·N+b")
    ax.set_title(f"Time per phase — {base['group']}, k={base['nodes']}, t={base['threshold']}, "
                 f"w={base['width']}, {base['workers']} worker(s)/node")  # fmt: skip
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, out, "phases_vs_n"), fits


def plot_workers(records: Sequence[Record], out: Path) -> list[Path]:
    base = baseline(records)
    fixed = {k: base[k] for k in ("group", "nodes", "threshold", "width")}
    runs = _select(_ok(records), fault="none", **fixed)
    by_n: dict[int, list[Record]] = defaultdict(list)
    for r in runs:
        by_n[r["ballots"]].append(r)
    series = {n: rs for n, rs in by_n.items() if len({r["workers"] for r in rs}) >= 2}
    if not series:
        return []
    fig, ax = _figure()
    for n, rs in sorted(series.items()):
        mix = _by(rs, lambda r: r["workers"], "mixing_ballots_per_s")
        hop = {w: [n / t for t in ts if t > 0]
               for w, ts in _by(rs, lambda r: r["workers"], "hop_node_mean").items()}  # fmt: skip
        for label, data, style in (("mixing, all hops", mix, "-o"),
                                   ("one node's hop", hop, "--s")):  # fmt: skip
            ws = sorted(w for w in data if data[w])
            if ws:
                ax.plot(ws, [np.median(data[w]) for w in ws], style, label=f"N={n}: {label}")
    ax.set_xticks(sorted({r["workers"] for rs in series.values() for r in rs}))
    ax.set_xlabel("worker processes per node (and server verifier)")
    ax.set_ylabel("ballots per second (median)")
    ax.set_title(f"Throughput against workers — {base['group']}, k={base['nodes']}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, out, "throughput_vs_workers")


def groups_point(records: Sequence[Record]) -> int | None:
    """The N at which the most groups were run (fault none), if more than one group was."""
    runs = _select(_ok(records), fault="none")
    groups_at: dict[int, set[str]] = defaultdict(set)
    for r in runs:
        groups_at[r["ballots"]].add(r["group"])
    best = max(groups_at.items(), key=lambda kv: (len(kv[1]), -kv[0]), default=None)
    return best[0] if best and len(best[1]) >= 2 else None


def plot_groups(records: Sequence[Record], out: Path) -> list[Path]:
    n = groups_point(records)
    if n is None:
        return []
    runs = _select(_ok(records), fault="none", ballots=n)
    names = sorted({r["group"] for r in runs})
    phases = [p for p in TIMED_PHASES if any(r.get(p) is not None for r in runs)]
    fig, ax = _figure()
    width = 0.8 / max(len(names), 1)
    x = np.arange(len(phases))
    for i, name in enumerate(names):
        rs = [r for r in runs if r["group"] == name]
        meds = [float(np.median([r[p] for r in rs if r.get(p) is not None] or [np.nan]))
                for p in phases]  # fmt: skip
        ax.bar(x + i * width, meds, width, label=name)
    ax.set_xticks(x + width * (len(names) - 1) / 2)
    ax.set_xticklabels([PHASE_LABELS.get(p, p) for p in phases], rotation=25, ha="right",
                       fontsize=7)  # fmt: skip
    ax.set_yscale("log")
    ax.set_ylabel("seconds (median)")
    ax.set_title(f"Group comparison at N={n}")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, out, "groups")


def plot_faults(records: Sequence[Record], out: Path) -> list[Path]:
    runs = [r for r in _ok(records) if r["fault"] != "none"]
    if not runs:
        return []
    faults = sorted({r["fault"] for r in runs})
    fig, ax = _figure()
    x = np.arange(len(faults))
    for i, (field, label) in enumerate((("fault_detect", "detect"), ("fault_recover", "recover"))):
        meds: list[float] = []
        errs: list[list[float]] = [[], []]
        for f in faults:
            vals = [r[field] for r in runs if r["fault"] == f and r.get(field) is not None]
            s = summarise(vals) if vals else {"median": np.nan, "p10": np.nan, "p90": np.nan}
            meds.append(s["median"])
            errs[0].append(s["median"] - s["p10"])
            errs[1].append(s["p90"] - s["median"])
        ax.bar(x + i * 0.38, meds, 0.38, yerr=errs, capsize=3, label=f"time to {label}")
    ax.set_xticks(x + 0.19)
    ax.set_xticklabels(faults)
    ax.set_ylabel("seconds (median, p10–p90)")
    ax.set_title("Faults: time to detect and to recover (cascade resumes)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, out, "faults")


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def summary_markdown(records: Sequence[Record], fits: Mapping[str, Any]) -> str:
    """The Markdown summary: runs, medians per configuration, fits, faults, failures."""
    ok = _ok(records)
    lines = [
        "# mixbench results",
        "",
        f"{len(records)} runs recorded, {len(ok)} succeeded. Hosts: "
        + ", ".join(sorted({str(r.get("host")) for r in records}))
        + ". Commits: "
        + ", ".join(sorted({str(r.get("commit"))[:12] for r in records}))
        + ".",
        "",
        "## Median seconds per phase",
        "",
        "hop = mean over a run's accepted hops; node = shuffle + prove + transfer, verify = the "
        "server's proof check; rate = ballots/s through the whole cascade.",
        "",
        "| group | N | k | t | w | workers | fault | runs | keygen | casting | hop node | "
        "hop verify | mixing | decryption | record verify | rate | proof B/hop | record B | "
        "peak MiB node |",
        "|" + "---|" * 19,
    ]
    configs: dict[tuple[Any, ...], list[Record]] = defaultdict(list)
    for r in ok:
        configs[tuple(r[k] for k in ("group", "ballots", "nodes", "threshold", "width",
                                     "workers", "fault"))].append(r)  # fmt: skip
    for key in sorted(configs, key=lambda k: (k[6] != "none", k[0], k[1], k[2], k[3], k[4], k[5])):
        rs = configs[key]

        def med(field: str, rs: list[Record] = rs) -> Any:
            vals = [r[field] for r in rs if r.get(field) is not None]
            return float(np.median(vals)) if vals else None

        cells = [*map(str, key), str(len(rs))]
        cells += [_fmt(med(p)) for p in ("keygen", "casting", "hop_node_mean", "hop_verify_mean",
                                         "mixing", "decryption", "verify_record")]  # fmt: skip
        cells += [_fmt(med("mixing_ballots_per_s"), 4), _fmt(med("proof_bytes_per_hop"), 6),
                  _fmt(med("record_bytes"), 6), _fmt(med("peak_rss_node_max_mb"))]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    if fits:
        base = baseline(records)
        lines += ["", f"## Fits t(N) = a·N + b ({base['group']}, k={base['nodes']}, "
                  f"t={base['threshold']}, w={base['width']}, workers={base['workers']})", "",
                  "| phase | a (ms per ballot) | ± | b (s) | ± | rel. RMS error | points |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        for phase, f in fits.items():
            lines.append(
                f"| {PHASE_LABELS.get(phase, phase)} | {_fmt(f['a'] * 1e3)} | "
                f"{_fmt(f['a_err'] * 1e3)} | {_fmt(f['b'])} | {_fmt(f['b_err'])} | "
                f"{_fmt(f['rel_rms'], 2)} | {int(f['points'])} |"
            )
    faults = [r for r in ok if r["fault"] != "none"]
    if faults:
        lines += [
            "", "## Faults", "",
            "| fault | N | runs | hops accepted/skipped/rejected | detect s (median) | "
            "recover s (median) |",
            "|---|---|---|---|---|---|",
        ]  # fmt: skip
        by: dict[tuple[str, int], list[Record]] = defaultdict(list)
        for r in faults:
            by[(r["fault"], r["ballots"])].append(r)
        for (fault, n), rs in sorted(by.items()):
            hops = "; ".join(sorted({f"{r.get('hops_accepted')}/{r.get('hops_skipped')}/"
                                     f"{r.get('hops_rejected')}" for r in rs}))  # fmt: skip
            det = [r["fault_detect"] for r in rs if r.get("fault_detect") is not None]
            rec = [r["fault_recover"] for r in rs if r.get("fault_recover") is not None]
            lines.append(f"| {fault} | {n} | {len(rs)} | {hops} | "
                         f"{_fmt(float(np.median(det)) if det else None)} | "
                         f"{_fmt(float(np.median(rec)) if rec else None)} |")  # fmt: skip
    failed = [r for r in records if r.get("status") != "ok"]
    if failed:
        lines += ["", "## Failed runs", ""]
        lines += [f"- `{r['key']}`: {r.get('error')}" for r in failed]
    return "\n".join(lines) + "\n"


def plot_results(results: Path, out: Path | None = None) -> list[Path]:
    """Draw every figure the records allow and write ``summary.md``; returns the files written."""
    records = load_records(results)
    if not records:
        raise RecordError(f"{results}: no records")
    out = out or (results if results.is_dir() else results.parent) / "plots"
    out.mkdir(parents=True, exist_ok=True)
    written, fits = plot_phases_vs_n(records, out)
    written += plot_workers(records, out)
    written += plot_groups(records, out)
    written += plot_faults(records, out)
    summary = out / "summary.md"
    summary.write_text(summary_markdown(records, fits), encoding="utf-8")
    return [*written, summary]
