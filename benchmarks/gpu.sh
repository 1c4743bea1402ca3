#!/usr/bin/env bash
# GPU checks in one call (about 5-8 minutes on one H100): the GPU tests, the speed
# benchmark against PyOD on the same GPU, and training throughput as a fraction of
# the GPU's measured matmul peak.
#
#   bash benchmarks/gpu.sh            # from the repository root
#
# Installs nothing when torch with CUDA is already there except this package itself
# (editable, no build isolation, so an offline machine works as long as the
# dependencies are present); stops if torch cannot see a GPU. Output goes to the
# terminal and to $OUT/gpu-*.log when $OUT is set (else /tmp).
set -u
cd "$(dirname "$0")/.."
LOGS="${OUT:-/tmp}"
mkdir -p "$LOGS"
status=0
started=$SECONDS

section() { echo; echo "=== $1 ($((SECONDS - started))s elapsed) ==="; }

section "environment"
if ! python -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
    echo "torch with CUDA is not available here: $(python -c 'import torch; print(torch.__version__)' 2>&1)"
    echo "install a CUDA build of torch first; nothing was run"
    exit 1
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
python -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))'
echo "load average: $(cat /proc/loadavg)"

section "install"
# Dependencies already present: nothing is downloaded. Otherwise try the extras (needs
# the network) and fall back to the package alone; speed.py runs without PyOD.
if ! pip install --quiet --no-build-isolation -e '.[test,bench]' 2>"$LOGS/gpu-pip.log"; then
    echo "pip install -e .[test,bench] failed (offline?): see $LOGS/gpu-pip.log; installing the package alone"
    pip install --quiet --no-build-isolation --no-deps -e . || status=1
fi
python -c 'import anovae, pytest; print("anovae", anovae.__version__)' || exit 1
python -c 'import pyod; print("pyod", pyod.__version__)' || echo "PyOD missing: the speed table will show anovae only"

section "GPU tests"
timeout 180 python -m pytest -m gpu -q -p no:cacheprovider 2>&1 | tee "$LOGS/gpu-tests.log"
test "${PIPESTATUS[0]}" -eq 0 || status=1

section "speed against PyOD on the GPU"
timeout 330 python benchmarks/speed.py --device cuda --threads 0 2>&1 | tee "$LOGS/gpu-speed.log"
test "${PIPESTATUS[0]}" -eq 0 || status=1

section "training throughput as a fraction of the matmul peak"
timeout 150 python benchmarks/speed.py --peak --device cuda --threads 0 2>&1 | tee "$LOGS/gpu-peak.log"
test "${PIPESTATUS[0]}" -eq 0 || status=1

section "done (exit $status)"
exit $status
