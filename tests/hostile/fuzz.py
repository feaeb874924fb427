"""Mutation fuzzer for the readers: mutate valid files, load them, classify, summarise.

    python tests/hostile/fuzz.py --cases 300 --seed 20261126 --out tests/.generated/hostile [--only 17]

Seeds are the hand-made valid files of `hostile.files.write_seeds` (every format), plus small
files of the shared keras corpus when it is present.  Each case picks a seed and one or two
mutations:

* truncate at an offset (biased towards headers and the end of the file);
* flip 1-16 bytes (anywhere, or within the first/last 4 KiB where the metadata lives);
* HDF5 corruption through h5py: attributes replaced by junk / wrong types / invalid UTF-8,
  datasets reshaped, retyped, filled with NaN, declared huge, deleted or turned into groups,
  groups renamed or deleted, soft/hard link cycles, external links (applied to the inner
  model.weights.h5 of a .keras);
* JSON corruption of the architecture (model_config, config.json or the config= sidecar): a
  random node replaced (None, -1, 2**31, 1e308, NaN, strings, deep nesting ...), deleted or
  duplicated, class names swapped, or the text cut / spliced.

Every case runs in this process under a SIGALRM guard (`--timeout`), and records its outcome
(see `hostile.harness`) and memory growth.  Each case is announced in `fuzz_cases.jsonl` *before*
it runs, so a hard crash names the guilty case; the mutated file of every non-clean case is kept in
`fuzz_failures/`.  The summary goes to `fuzz_summary.json`.

Run it in a subprocess (the test does, with RLIMIT_AS set) so a crash cannot take pytest down.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import resource
import shutil
import sys
import time
import warnings
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for _p in (str(REPO), str(HERE.parent)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from hostile import files, harness  # noqa: E402

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
CORPUS_MAX_BYTES = 600_000  # corpus files up to this size are used as extra seeds


@dataclass
class SeedFile:
    name: str
    data: bytes
    suffix: str
    config: bytes | None  # architecture JSON for weights-only seeds


def load_seeds(seed_dir: Path, corpus: Path | None) -> list[SeedFile]:
    out = []
    for s in files.write_seeds(seed_dir).values():
        out.append(
            SeedFile(
                s.name,
                s.path.read_bytes(),
                "".join(s.path.suffixes[-2:]) or ".h5",
                s.config.read_bytes() if s.config else None,
            )
        )
    if corpus is not None and corpus.is_dir():
        for p in sorted(corpus.iterdir()):
            if p.suffix in (".h5", ".hdf5", ".keras") and p.stat().st_size <= CORPUS_MAX_BYTES:
                arch = p.with_name(p.name.replace(".h5", ".arch.json"))
                out.append(
                    SeedFile(
                        f"corpus:{p.name}",
                        p.read_bytes(),
                        p.suffix,
                        arch.read_bytes() if arch.exists() else None,
                    )
                )
    return out


# ------------------------------------------------------------------------------------------------
# byte-level mutations


def truncate(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    n = len(data)
    where = rng.choice(["head", "tail", "any"], p=[0.3, 0.3, 0.4])
    if where == "head":
        k = int(rng.integers(0, min(n, 4096)))
    elif where == "tail":
        k = n - 1 - int(rng.integers(0, min(n, 4096)))
    else:
        k = int(rng.integers(0, n))
    return data[:k], f"truncate at {k}/{n}"


def flip(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    buf = bytearray(data)
    n = len(buf)
    k = int(rng.integers(1, 17))
    region = rng.choice(["head", "tail", "any"], p=[0.35, 0.25, 0.4])
    if region == "head":
        pos = rng.integers(0, min(n, 4096), k)
    elif region == "tail":
        pos = n - 1 - rng.integers(0, min(n, 4096), k)
    else:
        pos = rng.integers(0, n, k)
    for i in pos:
        buf[int(i)] ^= int(rng.integers(1, 256))
    return bytes(buf), f"flip {k} bytes in {region}"


# ------------------------------------------------------------------------------------------------
# JSON mutations

_JUNK_VALUES: list[Any] = [
    None,
    -1,
    0,
    1,
    2**31,
    2**63,
    -(2**31),
    1e308,
    -1e308,
    0.5,
    float("nan"),
    float("inf"),
    "",
    "x",
    "tanh",
    "hard_sigmoid",
    "\udcff",
    [],
    {},
    [None],
    True,
    False,
    [2**31, 2**31],
    {"class_name": "Lambda"},
]
_CLASSES = [
    "LSTM",
    "GRU",
    "SimpleRNN",
    "Dense",
    "Embedding",
    "Bidirectional",
    "TimeDistributed",
    "Masking",
    "InputLayer",
    "Sequential",
    "Functional",
    "Model",
    "Lambda",
    "Conv1D",
    "BatchNormalization",
    "CuDNNLSTM",
    "CuDNNGRU",
    "Merge",
    "Dropout",
    "Activation",
    "NoSuchLayer",
    "__lambda__",
    "__keras_tensor__",
    "RNN",
    "LSTMCell",
    "Attention",
]


def _nodes(obj: Any, path: tuple = ()) -> list[tuple[Any, Any]]:
    """(container, key) of every value in a JSON tree."""
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.append((obj, k))
            out += _nodes(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.append((obj, i))
            out += _nodes(v, path + (i,))
    return out


def mutate_json(text: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        obj = None
    op = rng.choice(["replace", "delete", "duplicate", "class", "text"], p=[0.4, 0.15, 0.1, 0.2, 0.15])
    if obj is None or op == "text":
        s = bytearray(text)
        sub = rng.choice(["cut", "splice", "bracket"])
        if sub == "cut":
            k = int(rng.integers(0, len(s)))
            return bytes(s[:k]), f"json cut at {k}"
        if sub == "bracket":
            k = int(rng.integers(0, len(s)))
            return bytes(s[:k]) + b"[" * int(rng.integers(1, 3000)) + bytes(s[k:]), "json brackets inserted"
        a, b = sorted(int(x) for x in rng.integers(0, len(s), 2))
        return bytes(s[:a]) + bytes(s[b:]) + bytes(s[a:b]), f"json splice {a}:{b}"
    nodes = _nodes(obj)
    if not nodes:
        return b"[]", "json emptied"
    if op == "class":
        cls_nodes = [(c, k) for c, k in nodes if k == "class_name"]
        if cls_nodes:
            c, k = cls_nodes[int(rng.integers(0, len(cls_nodes)))]
            new = _CLASSES[int(rng.integers(0, len(_CLASSES)))]
            old = c[k]
            c[k] = new
            return json.dumps(obj).encode(), f"class {old!r} -> {new!r}"
        op = "replace"
    c, k = nodes[int(rng.integers(0, len(nodes)))]
    if op == "delete":
        del c[k]
        return json.dumps(obj).encode(), f"json delete {k!r}"
    if op == "duplicate" and isinstance(c, list):
        c.insert(k, copy.deepcopy(c[k]))
        return json.dumps(obj).encode(), f"json duplicate item {k}"
    if rng.random() < 0.1:
        depth = int(rng.integers(150, 400))
        val: Any = []
        for _ in range(depth):
            val = [val]
        c[k] = val
        what = f"nested {depth}"
    else:
        c[k] = copy.deepcopy(_JUNK_VALUES[int(rng.integers(0, len(_JUNK_VALUES)))])
        what = repr(c[k])[:40]
    try:
        out = json.dumps(obj)
    except (ValueError, RecursionError, UnicodeEncodeError):
        return text, "json unchanged"
    return out.encode("utf8", "surrogatepass"), f"json {k!r} = {what}"


# ------------------------------------------------------------------------------------------------
# HDF5 mutations (through h5py, on bytes)


def _objects(f: h5py.File) -> list[str]:
    names = ["/"]
    f.visit(lambda n: names.append("/" + n) and None)
    return names


def _junk_attr(rng: np.random.Generator, old: Any) -> Any:
    choices: list[Any] = [
        b"\xff\xfe",
        b"",
        "nonsense",
        np.int64(2**31),
        np.int64(-1),
        np.arange(3),
        np.array([b"a", b"b"]),
        np.float64(np.nan),
        np.void(b"\x00\xff"),
        np.array([], dtype=np.float64),
        b"3.0",
        b"1",
        b"2.1.6",
        np.array([b"lstm", b"lstm", b"gru"]),
    ]
    if isinstance(old, np.ndarray) and old.size > 1:  # shuffle / drop / duplicate a list attribute
        lst = list(old.reshape(-1))
        sub = int(rng.integers(0, 3))
        if sub == 0:
            rng.shuffle(lst)
        elif sub == 1:
            lst.pop(int(rng.integers(0, len(lst))))
        else:
            lst.append(lst[int(rng.integers(0, len(lst)))])
        choices.append(np.array(lst, dtype=old.dtype) if lst else np.array([], dtype=np.float64))
        choices.append(choices[-1])
    return choices[int(rng.integers(0, len(choices)))]


def mutate_h5(data: bytes, rng: np.random.Generator, config_bytes: bytes | None = None) -> tuple[bytes, str]:
    """One random structural/attribute corruption of the HDF5 file `data` (bytes in, bytes out)."""
    bio = io.BytesIO(data)
    with h5py.File(bio, "r+") as f:
        objs = _objects(f)
        dsets = [n for n in objs if isinstance(f[n], h5py.Dataset)]
        groups = [n for n in objs if isinstance(f[n], h5py.Group) and n != "/"]
        attrs = [(n, a) for n in objs for a in f[n].attrs]
        ops = ["attr"] * 4 + ["dataset"] * 3 + ["group"] * 2 + ["link"]
        op = ops[int(rng.integers(0, len(ops)))]
        if op == "attr" and attrs:
            n, a = attrs[int(rng.integers(0, len(attrs)))]
            old = f[n].attrs[a]
            if a == "model_config" and rng.random() < 0.6:
                raw = old.encode() if isinstance(old, str) else bytes(old)
                new, what = mutate_json(raw, rng)
                try:
                    f[n].attrs[a] = new
                except (OSError, ValueError):
                    return data, "model_config too large to store"
                return bio_value(f, bio), f"model_config: {what}"
            if rng.random() < 0.15:
                del f[n].attrs[a]
                return bio_value(f, bio), f"delete attr {n}@{a}"
            val = _junk_attr(rng, old)
            try:
                f[n].attrs[a] = val
            except (OSError, ValueError, TypeError):
                return data, "attr unchanged"
            return bio_value(f, bio), f"attr {n}@{a} = {repr(val)[:40]}"
        if op == "dataset" and dsets:
            n = dsets[int(rng.integers(0, len(dsets)))]
            ds = f[n]
            value = ds[()] if ds.size < 1_000_000 else np.zeros(1, np.float32)
            parent, leaf = n.rsplit("/", 1)
            parent = parent or "/"
            sub = int(rng.integers(0, 9))
            del f[n]
            g = f[parent]
            if sub == 0:
                new = np.asarray(value).reshape(-1)[: max(0, np.asarray(value).size - 1)]
                g.create_dataset(leaf, data=new)
                what = "shrunk"
            elif sub == 1:
                new = np.asarray(value).T if np.ndim(value) > 1 else np.ones((2, 2), "f4")
                g.create_dataset(leaf, data=new)
                what = "transposed"
            elif sub == 2:
                g.create_dataset(leaf, data=np.asarray(value, dtype=np.float16))
                what = "float16"
            elif sub == 3:
                g.create_dataset(leaf, data=np.array([b"abc"] * max(1, int(np.size(value)))))
                what = "strings"
            elif sub == 4:
                v = np.array(value, dtype=np.float32, copy=True)
                v.reshape(-1)[:: max(1, v.size // 3 or 1)] = np.nan
                g.create_dataset(leaf, data=v)
                what = "NaN"
            elif sub == 5:
                g.create_dataset(leaf, shape=(2**20, 2**20), dtype="f4", chunks=(32, 32))
                what = "declared 4 TiB"
            elif sub == 6:
                g.create_group(leaf)
                what = "group instead"
            elif sub == 7:
                g.create_dataset(leaf, data=np.float32(1.0))
                what = "scalar"
            else:
                what = "deleted"
            return bio_value(f, bio), f"dataset {n}: {what}"
        if op == "group" and groups:
            n = groups[int(rng.integers(0, len(groups)))]
            if rng.random() < 0.5:
                del f[n]
                return bio_value(f, bio), f"delete group {n}"
            parent, leaf = n.rsplit("/", 1)
            new = (b"\xff" + leaf.encode()) if rng.random() < 0.3 else leaf + "_x"
            try:
                f[parent or "/"].move(leaf, new)
            except (ValueError, KeyError, OSError):
                return data, "move failed"
            return bio_value(f, bio), f"rename group {n} -> {new!r}"
        if groups:
            n = groups[int(rng.integers(0, len(groups)))]
            sub = int(rng.integers(0, 3))
            if sub == 0:
                f[n]["loop"] = f["/"]
                what = "hard link to /"
            elif sub == 1:
                f[n]["soft"] = h5py.SoftLink(n + "/soft")
                what = "soft link to itself"
            else:
                f[n]["ext"] = h5py.ExternalLink("/nonexistent/kwi_fuzz.h5", "/x")
                what = "external link"
            return bio_value(f, bio), f"{what} in {n}"
    return data, "no-op"


def bio_value(f: h5py.File, bio: io.BytesIO) -> bytes:
    f.flush()
    f.close()
    return bio.getvalue()


# ------------------------------------------------------------------------------------------------
# archive-aware mutation


def _zip_members(data: bytes) -> dict[str, bytes] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return {i.filename: zf.read(i) for i in zf.infolist()}
    except Exception:  # noqa: BLE001 - not a zip: the caller falls back to bytes
        return None


def _zip(members: dict[str, bytes]) -> bytes:
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", zipfile.ZIP_STORED) as zf:
        for k, v in members.items():
            zf.writestr(k, v)
    return bio.getvalue()


def mutate(seed: SeedFile, rng: np.random.Generator) -> tuple[bytes, bytes | None, str]:
    """One case: (file bytes, config bytes or None, description).

    HDF5 bytes are only handed to h5py (for structural mutations) while no byte-level mutation has
    touched them: h5py opening a corrupted file is exactly what can crash or hang, and the mutator
    must not.
    """
    data, config = seed.data, seed.config
    pristine = True  # no truncation / flip applied yet: safe to open with h5py
    steps = []
    for _ in range(1 if rng.random() < 0.8 else 2):
        kind = str(rng.choice(["truncate", "flip", "h5", "json"], p=[0.2, 0.3, 0.28, 0.22]))
        is_h5 = data[:8] == HDF5_MAGIC
        members = None if is_h5 else _zip_members(data)
        if (
            kind in ("h5", "json")
            and not pristine
            and not (
                kind == "json" and (config is not None or (members is not None and "config.json" in members))
            )
        ):
            kind = "flip"
        try:
            if kind == "truncate" and data:
                data, what = truncate(data, rng)
                pristine = False
            elif kind == "flip" and data:
                data, what = flip(data, rng)
                pristine = False
            elif kind == "json":
                if members is not None and "config.json" in members:
                    members["config.json"], what = mutate_json(members["config.json"], rng)
                    data = _zip(members)
                elif config is not None:
                    config, what = mutate_json(config, rng)
                    what = "config= " + what
                elif is_h5:
                    data, what = mutate_h5(data, rng)
                else:
                    data, what = flip(data, rng)
                    pristine = False
            elif is_h5:
                data, what = mutate_h5(data, rng)
            elif members is not None and "model.weights.h5" in members:
                members["model.weights.h5"], what = mutate_h5(members["model.weights.h5"], rng)
                data = _zip(members)
                what = "model.weights.h5: " + what
            elif data:
                data, what = flip(data, rng)
                pristine = False
            else:
                what = "empty"
        except Exception as exc:  # noqa: BLE001 - the mutator must never stop the run
            what = f"({kind} impossible: {type(exc).__name__})"
            if data:
                data, w = flip(data, rng)
                what += "; " + w
                pristine = False
        steps.append(f"{kind}: {what}")
    return data, config, " | ".join(steps)


# ------------------------------------------------------------------------------------------------
# the run: a worker process runs cases in order; a driver restarts it past hangs and crashes


def _paths(out: Path) -> dict[str, Path]:
    return {
        "log": out / "fuzz_cases.jsonl",
        "work": out / "fuzz_work",
        "fails": out / "fuzz_failures",
        "summary": out / "fuzz_summary.json",
        "seeds": out / "seeds",
    }


def case_files(i: int, seed: int, seeds: list[SeedFile], work: Path) -> tuple[Path, Path | None, str, str]:
    """Write case `i` (deterministic in `seed`, `i`): (file, config or None, seed name, mutation)."""
    rng = np.random.default_rng([seed, i])
    s = seeds[int(rng.integers(0, len(seeds)))]
    data, config, what = mutate(s, rng)
    path = work / f"case{i:05d}{s.suffix}"
    path.write_bytes(data)
    cfg_path = None
    if config is not None:
        cfg_path = work / f"case{i:05d}.json"
        cfg_path.write_bytes(config)
    return path, cfg_path, s.name, what


def _keep(path: Path, cfg: Path | None, fails: Path) -> str:
    fails.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, fails / path.name)
    if cfg is not None and cfg.exists():
        shutil.copyfile(cfg, fails / cfg.name)
    return str(fails / path.name)


def work_loop(start: int, stop: int, seed: int, out: Path, corpus: Path | None, timeout: float) -> None:
    """Run cases start..stop-1 in this process, appending one 'start' and one 'done' line per case."""
    P = _paths(out)
    P["work"].mkdir(parents=True, exist_ok=True)
    seeds = load_seeds(P["seeds"], corpus)
    # import the reader and the engine once, outside the timed cases
    import inspector.core.engine  # noqa: F401
    import inspector.io  # noqa: F401

    with open(P["log"], "a") as log:
        for i in range(start, stop):
            path, cfg_path, seed_name, what = case_files(i, seed, seeds, P["work"])
            log.write(
                json.dumps(
                    {
                        "case": i,
                        "seed": seed_name,
                        "mutation": what,
                        "status": "start",
                        "file": str(path),
                        "config": str(cfg_path) if cfg_path else None,
                    }
                )
                + "\n"
            )
            log.flush()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                res = harness.open_file(path, cfg_path, engine=True, timeout=timeout)
            rec = res.as_dict()
            rec.update(
                case=i,
                seed=seed_name,
                mutation=what,
                status="done",
                warnings=sorted({f"{w.category.__name__}: {str(w.message)[:80]}" for w in caught}),
            )
            if _needs_sandbox(rec):  # Python saw it (slow / huge): what does the app's loader do?
                rec["sandbox"] = sandbox_check(path, cfg_path, timeout)
            if not _clean(rec):
                rec["kept"] = _keep(path, cfg_path, P["fails"])
            log.write(json.dumps(rec, default=str) + "\n")
            log.flush()
            path.unlink()
            if cfg_path is not None:
                cfg_path.unlink()


MAX_GROWTH_MB = 1024  # peak-RSS growth of one in-process case beyond which it counts as a blow-up


def _needs_sandbox(rec: dict) -> bool:
    """libhdf5 crashed, hung, timed out or allocated gigabytes: only the sandbox can contain that."""
    return rec["outcome"] in ("hang", "crash", "timeout") or rec.get("maxrss_growth_mb", 0) > MAX_GROWTH_MB


def _clean(rec: dict) -> bool:
    if _needs_sandbox(rec):  # fine iff the app's loader (the sandbox) answers cleanly and in time
        sb = rec.get("sandbox", {})
        return sb.get("outcome") in ("refused", "loaded") and sb.get("seconds", 1e9) < 10.0
    return (
        rec["outcome"] in ("refused", "loaded")
        and rec.get("engine") != "bug"
        and not rec.get("unflagged_nonfinite")
    )


def sandbox_check(path: Path, config: Path | None, timeout: float) -> dict:
    """What the app's loader (`inspector.io.sandbox.load_isolated`) makes of a file that crashed or
    hung the in-process reader: it must be refused cleanly, within `timeout` (+ start-up)."""
    from inspector.io.errors import ModelFileError
    from inspector.io.sandbox import load_isolated

    t0 = time.perf_counter()
    try:
        load_isolated(path, config=config, timeout=timeout)
        outcome, msg = "loaded", ""
    except ModelFileError as exc:
        outcome, msg = "refused", str(exc)
    except Exception as exc:  # noqa: BLE001 - report, do not crash the driver
        outcome, msg = "bug", f"{type(exc).__name__}: {exc}"
    return {"outcome": outcome, "seconds": round(time.perf_counter() - t0, 2), "message": msg[:300]}


def drive(
    cases: int,
    seed: int,
    out: Path,
    *,
    corpus: Path | None = None,
    timeout: float = 5.0,
    mem_mb: int = 4096,
    hang_s: float | None = None,
    only: int | None = None,
) -> dict:
    """Run `cases` cases in worker subprocesses (RLIMIT_AS `mem_mb`) and summarise them.

    A case that stops the worker for `hang_s` seconds (stuck in C code, where SIGALRM cannot
    reach) is recorded as 'hang' and the worker killed; a worker that dies is recorded as
    'crash'.  Either way the run resumes with the next case.
    """
    import subprocess

    P = _paths(out)
    hang_s = hang_s if hang_s is not None else timeout + 3.0
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(P["work"], ignore_errors=True)
    shutil.rmtree(P["fails"], ignore_errors=True)
    P["log"].write_text("")
    files.write_seeds(P["seeds"])  # once, before the workers (they only read them)
    first, last = (only, only + 1) if only is not None else (0, cases)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONFAULTHANDLER="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    t0 = time.perf_counter()
    nxt = first
    while nxt < last:
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            "--start",
            str(nxt),
            "--stop",
            str(last),
            "--seed",
            str(seed),
            "--out",
            str(out),
            "--timeout",
            str(timeout),
            "--mem-mb",
            str(mem_mb),
        ]
        if corpus is not None:
            cmd += ["--corpus", str(corpus)]
        errf = open(out / "fuzz_worker.stderr", "w+")  # noqa: SIM115 - a file, not a pipe that could fill up
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=errf, text=True)
        size, idle = P["log"].stat().st_size, 0.0
        while proc.poll() is None:
            time.sleep(0.2)
            new = P["log"].stat().st_size
            idle = 0.0 if new != size else idle + 0.2
            size = new
            if idle > hang_s:
                proc.kill()
                break
        proc.wait()
        errf.seek(0)
        err = errf.read()
        errf.close()
        recs = [json.loads(ln) for ln in P["log"].read_text().splitlines() if ln.strip()]
        done = {r["case"] for r in recs if r["status"] == "done"}
        started = [r for r in recs if r["status"] == "start" and r["case"] not in done]
        if not started:
            if proc.returncode not in (0, None):
                raise RuntimeError(
                    f"fuzz worker failed outside any case (exit {proc.returncode}):\n{err[-3000:]}"
                )
            break
        s = started[-1]
        outcome = "hang" if idle > hang_s else "crash"
        rec = {
            "case": s["case"],
            "seed": s["seed"],
            "mutation": s["mutation"],
            "status": "done",
            "outcome": outcome,
            "seconds": hang_s if outcome == "hang" else 0.0,
            "message": f"worker {'stuck' if outcome == 'hang' else 'died, exit ' + str(proc.returncode)}",
            "error_type": outcome,
            "traceback": err[-3000:],
            "engine": "",
        }
        cfg = Path(s["config"]) if s.get("config") else None
        rec["kept"] = _keep(Path(s["file"]), cfg, P["fails"])
        rec["sandbox"] = sandbox_check(Path(rec["kept"]), P["fails"] / cfg.name if cfg else None, timeout)
        with open(P["log"], "a") as log:
            log.write(json.dumps(rec) + "\n")
        nxt = s["case"] + 1
    summary = summarize(
        P["log"], seed=seed, timeout=timeout, mem_mb=mem_mb, seconds=time.perf_counter() - t0, corpus=corpus
    )
    P["summary"].write_text(json.dumps(summary, indent=2, default=str))
    shutil.rmtree(P["work"], ignore_errors=True)
    return summary


def summarize(log: Path, **meta: Any) -> dict:
    """Counts over the 'done' records of a fuzz log."""
    recs = [json.loads(ln) for ln in log.read_text().splitlines() if ln.strip()]
    recs = [r for r in recs if r["status"] == "done"]
    counts: Counter[str] = Counter(r["outcome"] for r in recs)
    engine: Counter[str] = Counter(r.get("engine") or "-" for r in recs if r["outcome"] == "loaded")
    generic: Counter[str] = Counter()
    warn: Counter[str] = Counter()
    for r in recs:
        msg = r.get("message", "")
        if r["outcome"] == "refused" and "cannot read (" in msg:
            generic[msg.split("cannot read (", 1)[1].split(":")[0].rstrip(")")] += 1
        for w in r.get("warnings", []):
            warn[w] += 1
    refusals = [r for r in recs if r["outcome"] == "refused"]
    slow_ref = max(refusals, key=lambda r: r["seconds"], default=None)
    slow = max(recs, key=lambda r: r["seconds"], default=None)
    bugs = [r for r in recs if not _clean(r)]
    contained = [r for r in recs if _needs_sandbox(r) and _clean(r)]

    def brief(r: dict | None) -> dict | None:
        if r is None:
            return None
        return {
            k: r.get(k)
            for k in (
                "case",
                "seed",
                "mutation",
                "outcome",
                "seconds",
                "message",
                "error_type",
                "engine",
                "engine_message",
                "unflagged_nonfinite",
                "maxrss_growth_mb",
                "kept",
                "sandbox",
                "traceback",
                "engine_traceback",
            )
            if r.get(k) not in (None, "", [])
        }

    try:
        from inspector.core import stats  # noqa: F401

        stats_checked = True
    except ImportError:
        stats_checked = False
    return {
        "cases": len(recs),
        "loaded": counts["loaded"],
        "refused": counts["refused"],
        "bugs": len(bugs),
        "outcomes": dict(counts),
        "contained_by_sandbox": [brief(r) for r in contained],
        "engine_after_load": dict(engine),
        "refusals_from_catch_all": dict(generic.most_common()),
        "warnings": dict(warn.most_common(20)),
        "slowest_refusal": brief(slow_ref),
        "slowest_case": brief(slow),
        "max_rss_growth_per_case_mb": round(max((r.get("maxrss_growth_mb", 0) for r in recs), default=0), 1),
        "nonfinite_flags_checked": stats_checked,
        **{k: (round(v, 2) if isinstance(v, float) else v) for k, v in meta.items()},
        "bug_cases": [brief(r) for r in bugs[:50]],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=300)
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--out", type=Path, default=REPO / "tests" / ".generated" / "hostile")
    ap.add_argument("--corpus", type=Path, default=None, help="keras corpus folder (extra seeds)")
    ap.add_argument("--timeout", type=float, default=5.0, help="per-case limit (SIGALRM), seconds")
    ap.add_argument(
        "--hang", type=float, default=None, help="seconds without progress = a hang (default: timeout + 3)"
    )
    ap.add_argument("--mem-mb", type=int, default=4096, help="RLIMIT_AS of the worker (0: none)")
    ap.add_argument("--only", type=int, default=None, help="run only this case index (reproduce)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--stop", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        if args.mem_mb:
            lim = args.mem_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
        work_loop(args.start, args.stop, args.seed, args.out, args.corpus, args.timeout)
        return 0
    summary = drive(
        args.cases,
        args.seed,
        args.out,
        corpus=args.corpus,
        timeout=args.timeout,
        mem_mb=args.mem_mb,
        hang_s=args.hang,
        only=args.only,
    )
    short = {k: v for k, v in summary.items() if k != "bug_cases"}
    print(json.dumps(short, indent=2, default=str))
    for b in summary["bug_cases"][:20]:
        print(
            f"BUG case {b.get('case')} ({b.get('seed')}; {b.get('mutation')}): {b.get('outcome')} "
            f"{b.get('error_type', '')} {b.get('message', '')[:200]} {b.get('engine', '')} "
            f"{b.get('engine_message', '')[:200]}  -> {b.get('kept')}"
        )
    return 0 if summary["bugs"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
