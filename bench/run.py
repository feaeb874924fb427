"""Benchmark harness: `python -m bench.run` (full, ~10-15 min) or `python -m bench.run --smoke` (seconds).

Measures our engine and GUI side by side with the references (Keras `model.predict`, plain h5py,
a bare PySide6 window) in the same run and writes

* bench/results.json       - exactly the keys of issue 6, median values (null = not measured);
* bench/results_full.json  - every repeat, spreads, machine, versions, parity vs Keras;
* bench/RESULTS.md         - the readable table (+ bench/NOTES.md, + the 'before' column from
                             bench/results_before.json when present).

Every measurement runs in a subprocess with the same thread settings (`--threads`, default: all
cores): our engine in a process that never imports TensorFlow, Keras in its own process, their
repeats interleaved one call at a time so both see the same machine load.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench import models as bm
from bench.protocol import Worker

KEYS = (
    "predict_vs_keras_classic",
    "predict_vs_keras_large",
    "trace_overhead",
    "step_ms_classic_median",
    "step_ms_classic_p95",
    "step_ms_large_median",
    "open_vs_h5py_large",
    "ui_stall_ms_open_large",
    "rss_mb_open_large",
    "file_mb_large",
    "start_s_over_qt",
)
GOALS = {
    "predict_vs_keras_classic": ("<=", 0.25),  # issue 10's revised goals
    "predict_vs_keras_large": ("<=", 0.5),
    "trace_overhead": ("<=", 1.2),
    "step_ms_classic_median": ("<=", 16),
    "step_ms_classic_p95": ("<=", 33),
    "step_ms_large_median": ("<=", 33),
    "open_vs_h5py_large": ("<=", 1.0),
    "ui_stall_ms_open_large": ("<=", 100),
    "rss_mb_open_large": ("<=", "file_mb_large + 400"),
    "start_s_over_qt": ("<=", 2.0),
}
WHAT = {
    "predict_vs_keras_classic": "our predict / Keras predict, sample text model, batch 1, "
    "{classic_steps} steps",
    "predict_vs_keras_large": "same, 2 x LSTM({large_units}) over {large_features} features, "
    "{large_steps} steps",
    "trace_overhead": "trace (every gate kept) / predict, large model",
    "step_ms_classic_median": "one GUI step (engine + all views + paint), sample model, median ms",
    "step_ms_classic_p95": "same, 95th percentile ms",
    "step_ms_large_median": "one GUI step, large model, median ms",
    "open_vs_h5py_large": "open -> first weight heatmap painted / plain h5py read of every dataset",
    "ui_stall_ms_open_large": "longest gap of a 10 ms heartbeat while the big file opens",
    "rss_mb_open_large": "peak RSS (MiB) of the app (GUI + file-reader child) with the big file open",
    "file_mb_large": "size of the big file (MiB)",
    "start_s_over_qt": "launch -> window shown / bare PySide6 window",
}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def median(xs: list[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs, dtype=float), q)) if xs else float("nan")


def spread(xs: list[float]) -> dict:
    if not xs:
        return {}
    return {
        "n": len(xs),
        "min": min(xs),
        "p25": pct(xs, 25),
        "median": median(xs),
        "p75": pct(xs, 75),
        "max": max(xs),
    }


def load_avg() -> list[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "mem_gib": mem,
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def versions() -> dict:
    out = {}
    for mod in ("numpy", "h5py", "PySide6", "pyqtgraph"):
        try:
            out[mod] = __import__(mod).__version__
        except ImportError:
            out[mod] = None
    try:
        from inspector import __version__

        out["inspector"] = __version__
    except ImportError:
        pass
    try:
        cfg = np.show_config(mode="dicts")
        out["numpy_blas"] = cfg.get("Build Dependencies", {}).get("blas", {}).get("name")
    except Exception:  # noqa: BLE001 - informational only
        pass
    try:
        out["git"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=bm.REPO, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        pass
    return out


def tf_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("tensorflow", "keras", "tf_keras"))


# ------------------------------------------------------------------------------------------ engine


def engine_group(
    s: bm.Sizes,
    cache: Path,
    classic: bm.ModelFiles,
    large: bm.ModelFiles,
    use_keras: bool,
    env: dict,
    raw: dict,
) -> None:
    """predict_vs_keras_classic / _large and trace_overhead, our calls interleaved with Keras'."""
    from inspector.io import load

    n_feat = load(classic.h5).network.input_shapes[0][-1]
    xc, _ = bm.classic_input(classic, s.classic_steps, n_feat)
    xl = bm.large_input(s)
    np.save(cache / "in_classic.npy", xc)
    np.save(cache / "in_large.npy", xl)
    ours = Worker("bench.ours_side", env, bm.REPO, cache / "ours_side.log")
    keras = Worker("bench.keras_side", env, bm.REPO, cache / "keras_side.log") if use_keras else None
    try:
        raw["ours_versions"] = ours.call(cmd="versions")
        ours_cases = {
            "classic": ("predict", classic.h5, "in_classic.npy"),
            "large": ("predict", large.h5, "in_large.npy"),
            "large_trace": ("trace", large.h5, "in_large.npy"),
        }
        for case, (kind, path, inp) in ours_cases.items():
            r = ours.call(
                cmd="setup",
                case=case,
                kind=kind,
                model=path,
                input=str(cache / inp),
                out=str(cache / f"out_ours_{case}.npy"),
            )
            raw.setdefault("setup", {})[f"ours/{case}"] = r
        keras_cases: dict[str, tuple[str, str, str]] = {}
        if keras is not None:
            raw["keras_versions"] = keras.call(cmd="versions")
            for model, base in ((classic, "classic"), (large, "large")):
                inp = "in_classic.npy" if base == "classic" else "in_large.npy"
                if model.keras:
                    keras_cases[f"{base}/keras3"] = ("keras3", model.keras, inp)
                keras_cases[f"{base}/tf_keras"] = ("tf_keras", model.h5, inp)
            for case, (flavour, path, inp) in keras_cases.items():
                log(f"Keras setup {case} ...")
                r = keras.call(
                    cmd="setup",
                    case=case,
                    flavour=flavour,
                    model=path,
                    input=str(cache / inp),
                    out=str(cache / f"out_keras_{case.replace('/', '_')}.npy"),
                )
                raw.setdefault("setup", {})[f"keras/{case}"] = r
                ours_out = np.load(cache / f"out_ours_{case.split('/')[0]}.npy")
                ref = np.load(cache / f"out_keras_{case.replace('/', '_')}.npy")
                raw.setdefault("parity_max_abs_diff", {})[case] = float(np.max(np.abs(ours_out - ref)))
        times: dict[str, list[float]] = {
            k: [] for k in [*(f"ours/{c}" for c in ours_cases), *(f"keras/{c}" for c in keras_cases)]
        }
        log(f"engine: {s.repeats} interleaved repeats ...")
        for _ in range(s.repeats):
            for case in ours_cases:
                times[f"ours/{case}"].append(ours.call(cmd="time", case=case)["t"])
                time.sleep(0.05)  # let BLAS / Eigen worker threads stop spinning before the other side runs
                base = case.split("_")[0]
                if keras is not None and case != "large_trace":
                    for kc in keras_cases:
                        if kc.startswith(base + "/"):
                            times[f"keras/{kc}"].append(keras.call(cmd="time", case=kc)["t"])
                            time.sleep(0.05)
        raw["engine_s"] = times
    finally:
        ours.close()
        if keras is not None:
            keras.close()


def engine_results(raw: dict, res: dict, spreads: dict) -> None:
    t = raw.get("engine_s", {})
    for base, key in (("classic", "predict_vs_keras_classic"), ("large", "predict_vs_keras_large")):
        ours = t.get(f"ours/{base}", [])
        refs = {k: v for k, v in t.items() if k.startswith(f"keras/{base}/") and v}
        if ours and refs:
            # the faster Keras flavour is the reference (the harder goal)
            ref_key = min(refs, key=lambda k: median(refs[k]))
            res[key] = median(ours) / median(refs[ref_key])
            spreads[key] = {
                "paired_ratio": spread([a / b for a, b in zip(ours, refs[ref_key])]),
                "reference": ref_key,
                "ours_s": spread(ours),
                **{k: spread(v) for k, v in refs.items()},
            }
    pr, tr = t.get("ours/large", []), t.get("ours/large_trace", [])
    if pr and tr:
        res["trace_overhead"] = median(tr) / median(pr)
        spreads["trace_overhead"] = {
            "paired_ratio": spread([a / b for a, b in zip(tr, pr)]),
            "trace_s": spread(tr),
            "predict_s": spread(pr),
        }


# ------------------------------------------------------------------------------------------ GUI


def run_child(args: list[str], env: dict, what: str, timeout: float = 900) -> None:
    r = subprocess.run(
        [sys.executable, "-m", *args],
        env=env,
        cwd=bm.REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if r.returncode != 0:
        raise RuntimeError(f"{what} failed ({r.returncode}):\n{r.stderr[-4000:]}")


def gui_steps_group(
    s: bm.Sizes, cache: Path, classic: bm.ModelFiles, large: bm.ModelFiles, env: dict, raw: dict
) -> None:
    from inspector.io import load

    n_feat = load(classic.h5).network.input_shapes[0][-1]
    x, text = bm.classic_input(classic, s.classic_gui_steps, n_feat)
    args = [
        "bench.gui_side",
        "steps",
        classic.keras or classic.h5,
        str(cache / "steps_classic.json"),
        "--repeats",
        str(s.gui_step_repeats),
    ]
    if text is not None:
        (cache / "gui_text.txt").write_text(text, encoding="utf-8")
        args += ["--text", str(cache / "gui_text.txt")]
    else:
        np.save(cache / "gui_in_classic.npy", x)
        args += ["--input", str(cache / "gui_in_classic.npy")]
    log(f"GUI steps: classic ({s.classic_gui_steps} steps) ...")
    run_child(args, env, "GUI steps (classic)")
    raw["steps_classic"] = json.loads((cache / "steps_classic.json").read_text())
    np.save(cache / "in_large.npy", bm.large_input(s))
    log(f"GUI steps: large ({s.large_steps} steps) ...")
    run_child(
        [
            "bench.gui_side",
            "steps",
            large.h5,
            str(cache / "steps_large.json"),
            "--input",
            str(cache / "in_large.npy"),
            "--repeats",
            str(s.gui_step_repeats),
        ],
        env,
        "GUI steps (large)",
    )
    raw["steps_large"] = json.loads((cache / "steps_large.json").read_text())


def gui_steps_results(raw: dict, res: dict, spreads: dict) -> None:
    if "steps_classic" in raw:
        ms = [1000 * v for v in raw["steps_classic"]["step_s"]]
        res["step_ms_classic_median"] = median(ms)
        res["step_ms_classic_p95"] = pct(ms, 95)
        spreads["step_ms_classic_median"] = spreads["step_ms_classic_p95"] = spread(ms)
    if "steps_large" in raw:
        ms = [1000 * v for v in raw["steps_large"]["step_s"]]
        res["step_ms_large_median"] = median(ms)
        spreads["step_ms_large_median"] = {**spread(ms), "p95": pct(ms, 95)}


def warm_page_cache(path: str) -> None:
    with open(path, "rb") as fh:
        while fh.read(1 << 24):
            pass


def open_group(s: bm.Sizes, cache: Path, big: bm.ModelFiles, env: dict, raw: dict) -> None:
    files = {"h5": big.h5, **({"keras": big.keras} if big.keras else {})}
    raw["open"] = {
        fmt: {"file_bytes": os.path.getsize(p), "runs": [], "h5py": []} for fmt, p in files.items()
    }
    for path in files.values():
        warm_page_cache(path)
    for r in range(s.process_repeats):
        for fmt, path in files.items():
            log(f"open {fmt} repeat {r + 1}/{s.process_repeats} ...")
            # re-warm before each side: the shared machine's memory reclaim evicts the file now and then,
            # and a cold read (~0.3-0.6 s) in either process would decide the ratio
            warm_page_cache(path)
            out = cache / "h5read.json"
            run_child(["bench.gui_side", "h5read", path, str(out)], env, "h5py reference")
            raw["open"][fmt]["h5py"].append(json.loads(out.read_text()))
            warm_page_cache(path)
            out = cache / "open.json"
            run_child(["bench.gui_side", "open", path, str(out)], env, f"open {fmt}")
            raw["open"][fmt]["runs"].append(json.loads(out.read_text()))


def _app_rss(run: dict) -> float:
    """GUI + file-reader child (see gui_side.open_file); older runs had no reader child."""
    return run.get("rss_app_peak_mb", run["rss_peak_mb"])


def open_results(raw: dict, res: dict, spreads: dict) -> None:
    if "open" not in raw:
        return
    for fmt, o in raw["open"].items():
        opens = [r["open_s"] for r in o["runs"]]
        reads = [r["read_s"] for r in o["h5py"]]
        row = {
            "open_vs_h5py_large": median(opens) / median(reads),
            "ui_stall_ms_open_large": median([r["max_gap_ms"] for r in o["runs"]]),
            "rss_mb_open_large": median([_app_rss(r) for r in o["runs"]]),
            "file_mb_large": o["file_bytes"] / 2**20,
        }
        sp = {
            "open_vs_h5py_large": {
                "paired_ratio": spread([a / b for a, b in zip(opens, reads)]),
                "open_s": spread(opens),
                "h5py_read_s": spread(reads),
                "whole_file_s": spread([r.get("full_s", math.nan) for r in o["runs"]]),
            },
            "ui_stall_ms_open_large": spread([r["max_gap_ms"] for r in o["runs"]]),
            "rss_mb_open_large": {
                **spread([_app_rss(r) for r in o["runs"]]),
                "rss_before_open_mb": median([r["rss_before_mb"] for r in o["runs"]]),
                "gui_process_peak_mb": median([r["rss_peak_mb"] for r in o["runs"]]),
                "reader_process_peak_mb": median([r.get("rss_reader_peak_mb", 0.0) for r in o["runs"]]),
            },
        }
        raw["open"][fmt]["summary"] = row
        raw["open"][fmt]["spread"] = sp
        if fmt == "h5":  # the table's keys are the Keras 2 .h5; the .keras numbers are in results_full.json
            res.update(row)
            spreads.update(sp)


def start_group(s: bm.Sizes, classic: bm.ModelFiles, env: dict, raw: dict) -> None:
    sample = classic.keras or classic.h5
    starter = str(bm.REPO / "bench" / "start_app.py")  # the app's window, timed from outside
    cmds = {
        "ours": [sys.executable, starter, sample],
        "bare": [sys.executable, str(bm.REPO / "bench" / "bare_qt.py")],
        "ours_loaded": [sys.executable, starter, sample, "--loaded"],
    }  # until the sample is shown
    envs = {"ours": env, "bare": env, "ours_loaded": env}
    expect = {"ours": "window shown", "bare": "window shown", "ours_loaded": "model shown"}
    raw["start_s"] = {k: [] for k in cmds}
    reps = max(3, s.process_repeats) if s.process_repeats > 1 else 1
    for name, cmd in cmds.items():  # one untimed launch each: the first run after a change pays for .pyc
        subprocess.run(cmd, env=envs[name], cwd=bm.REPO, capture_output=True, timeout=120, check=False)
    for _ in range(reps):
        for name, cmd in cmds.items():
            t0 = time.perf_counter()
            p = subprocess.Popen(
                cmd, env=envs[name], cwd=bm.REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
            )
            line = p.stdout.readline() if p.stdout else ""
            dt = time.perf_counter() - t0
            p.wait(timeout=60)
            if expect[name] not in line:
                raise RuntimeError(f"{name} did not report {expect[name]!r} (got {line!r})")
            raw["start_s"][name].append(dt)
            time.sleep(0.1)


def start_results(raw: dict, res: dict, spreads: dict) -> None:
    if "start_s" in raw:
        ours, bare = raw["start_s"]["ours"], raw["start_s"]["bare"]
        res["start_s_over_qt"] = median(ours) / median(bare)
        spreads["start_s_over_qt"] = {
            "paired_ratio": spread([a / b for a, b in zip(ours, bare)]),
            "ours_s": spread(ours),
            "bare_qt_s": spread(bare),
        }


# ------------------------------------------------------------------------------------------ report


def goal_ok(key: str, res: dict) -> bool | None:
    v = res.get(key)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if key == "file_mb_large":
        return None
    limit = GOALS[key][1]
    if isinstance(limit, str):
        f = res.get("file_mb_large")
        if f is None:
            return None
        limit = f + 400
    return v <= limit


def fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}" if abs(v) < 1 else f"{v:.2f}"


def spread_text(sp: dict | None) -> str:
    if not sp:
        return ""
    d = sp.get("paired_ratio", sp)
    if "p25" not in d:
        return ""
    return f"{fmt(d['p25'])}–{fmt(d['p75'])} (min {fmt(d['min'])}, max {fmt(d['max'])}, n={d['n']})"


def render_md(full: dict, before: dict | None, notes: str) -> str:
    res, sp, s = full["results"], full["spreads"], full["sizes"]
    m, v = full["machine"], full["versions"]
    kv = full.get("raw", {}).get("keras_versions", {})
    lines = [
        "# Benchmarks (issue 6)",
        "",
        "Generated by `python -m bench.run` on "
        + full["date"]
        + ("  **(smoke run: tiny sizes)**" if full["smoke"] else "")
        + ".",
        "",
        "## How to rerun",
        "",
        "```",
        ". .venv/bin/activate",
        "python -m bench.run            # full run, ~10-15 min; makes the big models in bench/.cache once",
        "python -m bench.run --smoke    # tiny sizes, seconds (what tests/test_bench_smoke.py runs)",
        "```",
        "",
        "Options: `--repeats N`, `--threads N` (same BLAS/TF thread count on both sides), "
        "`--only engine,gui,open,start`, `--no-keras`.  Outputs: `bench/results.json` (the keys below, "
        "medians), `bench/results_full.json` "
        "(every repeat, spreads, parity vs Keras, the `.keras` variant of the open measurements).",
        "",
        "## Machine",
        "",
        f"* CPU: {m['cpu']}, {m['cores']} cores, {m['mem_gib']} GiB RAM; {m['os']}",
        f"* load average (1/5/15 min) at start {full['load_start']}, at end {full['load_end']} "
        "(the machine is shared: other jobs ran during the measurements)",
        f"* Python {m['python']}; numpy {v.get('numpy')} ({v.get('numpy_blas')}), h5py {v.get('h5py')}, "
        f"PySide6 {v.get('PySide6')}, pyqtgraph {v.get('pyqtgraph')}; inspector {v.get('inspector')} "
        f"@ {v.get('git')}",
        f"* reference: TensorFlow {kv.get('tensorflow', '–')} CPU, Keras {kv.get('keras', '–')}, "
        f"tf_keras {kv.get('tf_keras', '–')}",
        f"* threads: {full['threads']} for numpy/OpenBLAS and TensorFlow (intra- and inter-op) alike; our "
        "timings run in processes that never import TensorFlow",
        "",
        "## Results",
        "",
        "Median over repeats; spread = 25th–75th percentile of the per-repeat values (paired ratios "
        "for the ratio keys: each of our runs divided by the reference run next to it).",
        "",
        "| key | what | goal | " + ("before | " if before else "") + "result | spread | ok |",
        "|---|---|---|" + ("---|" if before else "") + "---|---|---|",
    ]
    for key in KEYS:
        goal = GOALS.get(key)
        goal_t = f"{goal[0]} {goal[1]}" if goal else ""
        ok = goal_ok(key, res)
        mark = {True: "✅", False: "❌", None: ""}[ok]
        b = f"{fmt(before.get(key))} | " if before else ""
        lines.append(
            f"| `{key}` | {WHAT[key].format(**s)} | {goal_t} | {b}{fmt(res.get(key))} | "
            f"{spread_text(sp.get(key))} | {mark} |"
        )
    if before and before.get("_note"):
        lines += ["", f"*before*: {before['_note']}."]
    raw = full.get("raw", {})
    extra = []
    for case, d in raw.get("parity_max_abs_diff", {}).items():
        extra.append(f"* parity: max |ours − Keras| on `{case}`: {d:.2g}")
    for case, st in (full["spreads"].get("predict_vs_keras_classic", {}) | {}).items():
        if case.startswith("keras/") or case == "ours_s":
            extra.append(f"* classic predict `{case}`: median {st['median'] * 1000:.1f} ms")
    for case, st in (full["spreads"].get("predict_vs_keras_large", {}) | {}).items():
        if case.startswith("keras/") or case == "ours_s":
            extra.append(f"* large predict `{case}`: median {st['median'] * 1000:.1f} ms")
    for fmt_, o in raw.get("open", {}).items():
        if "summary" in o:
            sm = o["summary"]
            sp_ = o["spread"]["open_vs_h5py_large"]
            rs = o["spread"]["rss_mb_open_large"]
            extra.append(
                f"* open `.{fmt_}` ({sm['file_mb_large']:.0f} MiB): open→heatmap "
                f"{sp_['open_s']['median'] * 1000:.0f} ms vs h5py "
                f"{sp_['h5py_read_s']['median'] * 1000:.0f} ms (ratio {sm['open_vs_h5py_large']:.2f}; "
                f"whole file read and shown after {sp_['whole_file_s']['median'] * 1000:.0f} ms), "
                f"stall {sm['ui_stall_ms_open_large']:.0f} ms, peak RSS {sm['rss_mb_open_large']:.0f} MiB "
                f"(GUI process {rs.get('gui_process_peak_mb', 0):.0f} MiB, reader child "
                f"{rs.get('reader_process_peak_mb', 0):.0f} MiB at their peaks; GUI before opening: "
                f"{rs['rss_before_open_mb']:.0f} MiB)"
            )
    if "start_s" in raw:
        extra.append(
            f"* start: ours {median(raw['start_s']['ours']):.2f} s to the window shown, "
            f"{median(raw['start_s'].get('ours_loaded', [math.nan])):.2f} s to the sample shown "
            f"(Weights page built, file read, default input run); bare PySide6 window "
            f"{median(raw['start_s']['bare']):.2f} s"
        )
    if extra:
        lines += ["", "Details:", "", *extra]
    if notes:
        lines += ["", notes.strip()]
    return "\n".join(lines) + "\n"


def write_md(out: Path, full: dict) -> None:
    """RESULTS.md: the table (+ 'before' from bench/results_before.json, + bench/NOTES.md) for full runs."""
    before_path = bm.REPO / "bench" / "results_before.json"
    before = json.loads(before_path.read_text()) if before_path.is_file() and not full["smoke"] else None
    notes_path = bm.REPO / "bench" / "NOTES.md"
    notes = notes_path.read_text(encoding="utf-8") if notes_path.is_file() and not full["smoke"] else ""
    (out / "RESULTS.md").write_text(render_md(full, before, notes), encoding="utf-8")


# ------------------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="tiny models, 1-2 repeats (the test suite's run)")
    p.add_argument("--out", type=Path, default=bm.REPO / "bench", help="where results*.json / RESULTS.md go")
    p.add_argument("--cache", type=Path, default=None, help="generated models (default bench/.cache)")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--no-keras", action="store_true", help="skip Keras (ratios vs Keras become null)")
    p.add_argument("--keras", action="store_true", help="use Keras even with --smoke")
    p.add_argument("--only", default="engine,gui,open,start")
    p.add_argument(
        "--render",
        action="store_true",
        help="only rewrite RESULTS.md from <out>/results_full.json (after editing bench/NOTES.md)",
    )
    a = p.parse_args(argv)
    if a.render:
        full = json.loads((a.out / "results_full.json").read_text())
        write_md(a.out, full)
        return 0

    s = bm.SMOKE if a.smoke else bm.FULL
    if a.repeats:
        s = bm.Sizes(**{**s.__dict__, "repeats": a.repeats, "process_repeats": a.repeats})
    cache = a.cache or (bm.DEFAULT_CACHE / ("smoke" if a.smoke else "full"))
    cache.mkdir(parents=True, exist_ok=True)
    use_keras = not a.no_keras and (not a.smoke or a.keras) and tf_available()
    only = set(a.only.split(","))
    env = bm.child_env(a.threads)
    full: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "smoke": a.smoke,
        "threads": a.threads,
        "sizes": s.__dict__,
        "machine": machine(),
        "versions": versions(),
        "load_start": load_avg(),
        "keras_used": use_keras,
    }
    raw: dict = {}
    log(
        f"{'smoke' if a.smoke else 'full'} run, Keras {'on' if use_keras else 'off'}, "
        f"load {full['load_start']}"
    )
    classic = bm.classic_model(s, cache, use_keras=use_keras, threads=a.threads, log=log)
    large = bm.ensure(bm.large_spec(s), cache, use_keras=use_keras, threads=a.threads, log=log)
    big = (
        bm.ensure(bm.open_spec(s), cache, use_keras=use_keras, threads=a.threads, log=log)
        if "open" in only
        else None
    )
    full["models"] = {"classic": classic.as_dict(), "large": large.as_dict(), "big": big and big.as_dict()}

    if "engine" in only:
        engine_group(s, cache, classic, large, use_keras, env, raw)
    if "gui" in only:
        gui_steps_group(s, cache, classic, large, env, raw)
    if big is not None:
        open_group(s, cache, big, env, raw)
    if "start" in only:
        start_group(s, classic, env, raw)

    res: dict = {}
    spreads: dict = {}
    engine_results(raw, res, spreads)
    gui_steps_results(raw, res, spreads)
    open_results(raw, res, spreads)
    start_results(raw, res, spreads)
    full["load_end"] = load_avg()
    results = {
        k: (None if res.get(k) is None or math.isnan(res[k]) else round(float(res[k]), 4)) for k in KEYS
    }
    full.update(results=results, spreads=spreads, raw=raw)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (a.out / "results_full.json").write_text(json.dumps(full, indent=1, default=str) + "\n")
    write_md(a.out, full)
    for k in KEYS:
        ok = goal_ok(k, results)
        log(f"{k:28s} {fmt(results[k]):>8s}  {'' if ok is None else ('ok' if ok else 'MISSED')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
