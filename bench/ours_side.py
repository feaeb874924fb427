"""Our side of the engine benchmark: `python -m bench.ours_side serve` (never imports TensorFlow).

Times `inspector.core.engine.predict` / `trace` on a model read with `inspector.io.load`; the
harness interleaves these calls with the Keras side's (bench.protocol).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from bench.protocol import serve


class _Ours:
    def __init__(self) -> None:
        self.cases: dict[str, tuple] = {}

    def setup(self, req: dict) -> dict:
        from inspector.core import engine
        from inspector.io import load

        t0 = time.perf_counter()
        mf = load(req["model"])
        load_s = time.perf_counter() - t0
        x = np.load(req["input"])
        fn = engine.trace if req["kind"] == "trace" else engine.predict
        t0 = time.perf_counter()
        out = fn(mf.network, x, mf.semantics)
        first = time.perf_counter() - t0
        for _ in range(int(req.get("warmup", 2))):
            fn(mf.network, x, mf.semantics)
        ys = out.outputs if req["kind"] == "trace" else out
        np.save(req["out"], np.asarray(ys[0], dtype=np.float32))
        self.cases[req["case"]] = (fn, mf, x)
        return {"first_s": first, "load_s": load_s}

    def time(self, req: dict) -> dict:
        fn, mf, x = self.cases[req["case"]]
        t0 = time.perf_counter()
        fn(mf.network, x, mf.semantics)
        return {"t": time.perf_counter() - t0}

    def versions(self, _req: dict) -> dict:
        import h5py
        import numpy

        cfg = {}
        try:
            from threadpoolctl import threadpool_info  # optional

            cfg = {
                "blas": [
                    {k: i.get(k) for k in ("internal_api", "version", "num_threads")}
                    for i in threadpool_info()
                ]
            }
        except ImportError:
            pass
        return {
            "numpy": numpy.__version__,
            "h5py": h5py.__version__,
            "tf_imported": "tensorflow" in sys.modules,
            **cfg,
        }


def main(argv: list[str]) -> None:
    if argv[0] == "serve":
        o = _Ours()
        serve({"setup": o.setup, "time": o.time, "versions": o.versions})


if __name__ == "__main__":
    main(sys.argv[1:])
