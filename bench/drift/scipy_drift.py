"""bench/drift's baseline: scipy computing the statistics of the CLI's report on the same data.

usage: python3 scipy_drift.py REF.f64 CUR.f64 COLUMNS
The files are the benchmark's data as raw little-endian float64 rows (ClickHouse RowBinary of
COLUMNS Float64 columns), read with numpy. Per column: scipy.stats.ks_2samp and
scipy.stats.wasserstein_distance (normalised by the reference's population std, as the drift
conventions say). Prints one JSON object: per-column statistics and the time of each phase.
"""
import json
import sys
import time

t0 = time.perf_counter()
import numpy as np
from scipy import stats

t_import = time.perf_counter()
ref_path, cur_path, ncols = sys.argv[1], sys.argv[2], int(sys.argv[3])
ref = np.fromfile(ref_path, dtype="<f8").reshape(-1, ncols)
cur = np.fromfile(cur_path, dtype="<f8").reshape(-1, ncols)
t_read = time.perf_counter()

columns = []
for k in range(ncols):
    r = ref[:, k]
    c = cur[:, k]
    r = r[np.isfinite(r)]
    c = c[np.isfinite(c)]
    ks = stats.ks_2samp(r, c)
    w = stats.wasserstein_distance(r, c) / max(float(np.std(r)), 0.001)
    columns.append({"ks": float(ks.statistic), "ks_p": float(ks.pvalue), "wasserstein": float(w)})
t_stats = time.perf_counter()

json.dump(
    {
        "columns": columns,
        "seconds": {"import": t_import - t0, "read": t_read - t_import, "statistics": t_stats - t_read},
    },
    sys.stdout,
)
