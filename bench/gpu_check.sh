#!/usr/bin/env bash
# bench/gpu_check.sh OUTDIR: the one prepared command for a GPU machine (about 8 minutes at most).
#
# What it does, from the repository root, writing every log and JSON line into OUTDIR:
#   1. installs snnjax over the machine's own JAX: `pip install --no-deps -e .`, plus the wheels in
#      .whl/ (git-ignored) for what the machine lacks (ml-collections, spikingjelly, loguru, tqdm);
#   2. runs the fused-kernel tests on the default backend: tests/core/test_pallas_device.py (on a GPU:
#      the Triton-compiled kernels at the benchmark's sizes, spikes bit-identical to the lax.scan,
#      gradients to float32 rounding) and the CUDA-lowering tests;
#   3. runs `python -m bench.run --peer` for both loops (`--loop host device`, where bench.run has
#      that option; otherwise once, with a message) and both neuron impls (scan, pallas);
#   4. prints OUTDIR/summary.txt (python -m bench.table of each impl's JSON lines).
#
# Prepare the wheels once, on a machine with PyPI access, in the repository root:
#   pip download --no-deps ml-collections spikingjelly loguru tqdm -d .whl/
# (pure-Python wheels, so any platform will do; .whl/ is in .gitignore, carry it with the tree).
# The GPU machine we use has jax 0.11.2 (CUDA 13), flax, optax, chex, orbax and torch 2.11.
#
# On a machine without a GPU it degrades to the CPU checks: the same tests in Pallas interpret mode
# at small sizes, and `bench.run --quick`. Environment: PYTHON (default python3), SKIP_INSTALL=1
# (use the environment as it is), STEPS (timed steps per record; default 10, 1 on a CPU),
# BENCH_TIMEOUT (seconds per bench.run; default 130 on a GPU, 300 on a CPU), ONLY (workloads; default
# "seed_bn_lif seq_ce_lif" on a GPU, the issue's T = 8 and T = 784 nets, "seq_plif seq_ce_lif" on a
# CPU). Worst case on a GPU: ~1 min install + 150 s tests + 2 x 130 s bench, under 8 minutes; a
# bench run cut by its timeout keeps the JSON lines it printed.
set -uo pipefail

if [ $# -ne 1 ]; then
  echo "usage: bench/gpu_check.sh OUTDIR" >&2
  exit 2
fi
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
LOG="$OUT/gpu_check.log"
: >"$LOG"
say() { echo "[gpu_check $(date -u +%H:%M:%S)] $*" | tee -a "$LOG"; }
status=0

# 1. install ------------------------------------------------------------------------------------
if [ "${SKIP_INSTALL:-0}" != 1 ]; then
  for pair in ml_collections:ml-collections spikingjelly:spikingjelly loguru:loguru tqdm:tqdm; do
    module=${pair%%:*}
    dist=${pair#*:}
    if ! "$PY" -c "import $module" 2>/dev/null; then
      if ls .whl/*.whl >/dev/null 2>&1; then
        say "installing $dist from .whl/"
        "$PY" -m pip install --no-deps --no-index --find-links .whl "$dist" >>"$LOG" 2>&1 \
          || say "WARNING: $dist is not in .whl/ (see this script's header)"
      else
        say "WARNING: $module missing and no .whl/ folder (see this script's header)"
      fi
    fi
  done
  say "pip install --no-deps -e ."
  "$PY" -m pip install --no-deps -e . >>"$LOG" 2>&1 || { say "FAILED: pip install --no-deps -e ."; exit 1; }
fi
"$PY" - >"$OUT/environment.json" 2>>"$LOG" <<'EOF'
import json, platform
import jax
info = {"backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()], "jax": jax.__version__,
        "python": platform.python_version()}
try:
    import torch
    info["torch"] = torch.__version__
    info["torch_cuda"] = torch.cuda.is_available()
except ImportError:
    info["torch"] = None
print(json.dumps(info))
EOF
cat "$OUT/environment.json" | tee -a "$LOG"
BACKEND=$("$PY" -c "import jax; print(jax.default_backend())" 2>/dev/null)
if [ "$BACKEND" = gpu ]; then
  QUICK=(--only ${ONLY:-seed_bn_lif seq_ce_lif})
  STEPS=${STEPS:-10}
  BENCH_TIMEOUT=${BENCH_TIMEOUT:-130}
else
  say "no GPU here (JAX backend: $BACKEND): the CPU checks (interpret mode; bench --quick on the sequence nets)"
  QUICK=(--quick --only ${ONLY:-seq_plif seq_ce_lif})
  STEPS=${STEPS:-1}
  BENCH_TIMEOUT=${BENCH_TIMEOUT:-300}
fi

# 2. kernel tests -------------------------------------------------------------------------------
say "pytest tests/core/test_pallas_device.py and the CUDA-lowering tests"
timeout 150 "$PY" -m pytest -q -p no:cacheprovider tests/core/test_pallas_device.py \
  "tests/core/test_lif_pallas.py::test_lowers_to_triton_for_cuda" \
  "tests/core/test_alif_ce_lif_pallas.py::test_lowers_to_triton_for_cuda" \
  --junitxml="$OUT/pytest_kernels.xml" >"$OUT/pytest_kernels.log" 2>&1
rc=$?
tail -n 3 "$OUT/pytest_kernels.log" | tee -a "$LOG"
[ $rc -eq 0 ] || { say "FAILED: kernel tests (rc $rc), see pytest_kernels.log"; status=1; }

# 3. benchmarks ---------------------------------------------------------------------------------
if "$PY" -m bench.run --help 2>/dev/null | grep -q -- "--loop"; then
  LOOPS=(--loop host device)
else
  say "bench.run has no --loop option yet: timing its one (host) loop only"
  LOOPS=()
fi
for impl in scan pallas; do
  name="bench_${impl}"
  say "python -m bench.run --peer ${LOOPS[*]} --impl $impl ${QUICK[*]} --steps $STEPS"
  timeout "$BENCH_TIMEOUT" "$PY" -m bench.run --peer "${LOOPS[@]}" --impl "$impl" "${QUICK[@]}" \
    --steps "$STEPS" >"$OUT/$name.jsonl" 2>"$OUT/$name.log"
  rc=$?
  say "$name: $(wc -l <"$OUT/$name.jsonl") JSON lines (rc $rc)"
  [ $rc -eq 0 ] || { say "FAILED or timed out: $name (rc $rc), see $name.log"; status=1; }
done

# 4. summary ------------------------------------------------------------------------------------
for impl in scan pallas; do
  echo "impl = $impl"
  "$PY" -m bench.table --impl "$impl" "$OUT/bench_${impl}.jsonl"
  echo
done >"$OUT/summary.txt" 2>>"$LOG"
tee -a "$LOG" <"$OUT/summary.txt"
say "done (status $status); everything is in $OUT"
exit $status
