#!/usr/bin/env bash
# One-shot GPU check (issue 14, item 6): the CUDA device tests, then every benchmark with --device cuda --quick.
#
#   benchmarks/gpu_check.sh OUT_DIR        # from the repository root, on a machine with a GPU
#
# Writes OUT_DIR/env.txt (GPU, torch), OUT_DIR/tests.txt (pytest -q tests/test_devices.py -k cuda), one
# OUT_DIR/bench_<name>.txt per benchmark and OUT_DIR/summary.txt (each step's exit status and seconds, and
# bench_focal's GPU goal lines). Sized for ~5 minutes on an H200: the whole run has a budget (GPU_CHECK_BUDGET
# seconds, default 300) and each step a cap, so a slow step (torch.compile) cannot eat the rest; the most important
# steps run first, and a step the budget cannot start is listed as skipped. Output is unbuffered, so a step cut
# short keeps what it printed. Exit status 0 when every step that ran passed.
#
# PYTHON chooses the interpreter (default: .venv/bin/python when present, else python3); the working tree's src/ is
# put first on PYTHONPATH, so the code under test is this checkout's. GPU_CHECK_DEVICE=cpu runs the same steps on
# the CPU (to check the script where there is no GPU; the CUDA tests then skip).
set -u

out=${1:?usage: benchmarks/gpu_check.sh OUT_DIR}
mkdir -p "$out" && out=$(cd "$out" && pwd) || exit 2
cd "$(dirname "$0")/.." || exit 2
if [ -n "${PYTHON:-}" ]; then py=$PYTHON; elif [ -x .venv/bin/python ]; then py=.venv/bin/python; else py=python3; fi
device=${GPU_CHECK_DEVICE:-cuda}
budget=${GPU_CHECK_BUDGET:-300}
export KERAS_BACKEND=torch PYTHONUNBUFFERED=1 PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}"

start=$SECONDS
failed=0
summary="$out/summary.txt"
: >"$summary"

# step NAME CAP COMMAND...: run COMMAND with a timeout of min(CAP, what is left of the budget), output to NAME.txt
step() {
    local name=$1 cap=$2
    shift 2
    local left=$((budget - (SECONDS - start)))
    if [ "$left" -lt 20 ]; then
        echo "$name: skipped (budget of ${budget}s spent)" | tee -a "$summary"
        return
    fi
    local limit=$((cap < left ? cap : left)) t0=$SECONDS rc
    timeout -k 5 "$limit" "$@" >"$out/$name.txt" 2>&1
    rc=$?
    if [ "$rc" -ne 0 ]; then failed=1; fi
    local note=""
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then note=" (timed out at ${limit}s; partial output kept)"; fi
    echo "$name: exit $rc, $((SECONDS - t0))s$note" | tee -a "$summary"
}

{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || echo "nvidia-smi: not available"
    "$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
"available", torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else "")'
} >"$out/env.txt" 2>&1
cat "$out/env.txt"

step tests 90 "$py" -m pytest -q -p no:cacheprovider tests/test_devices.py -k cuda -rs
# most important first: the focal GPU goals, then the families with the most users
for name in focal classification boxes segmentation tempered image segmentation_extra classification_breadth \
    boxes_extra distance; do
    cap=60
    if [ "$name" = focal ]; then cap=120; fi
    step "bench_$name" "$cap" "$py" -m "benchmarks.bench_$name" --device "$device" --quick
done

{
    echo
    echo "bench_focal goals:"
    grep -h "GOAL" "$out/bench_focal.txt" 2>/dev/null || echo "  (none printed: not on CUDA, or the step did not get that far)"
    echo "total: $((SECONDS - start))s of a ${budget}s budget"
} | tee -a "$summary"
exit $failed
