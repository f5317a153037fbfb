#!/usr/bin/env bash
# The GPU machine's single command (issue 23): install the carried wheels the image lacks (datasets, evaluate,
# dill, multiprocess from .whl/), then run benchmarks/gpu_run.py, which writes everything into OUT_DIR.
#   bash benchmarks/gpu_run.sh "$OUT" [gpu_run.py flags]        # on the GPU machine (carry .whl and .data)
#   bash benchmarks/gpu_run.sh /tmp/out --rehearsal              # anywhere: tiny sizes on CPU, synthetic data
# benchmarks/README.md gives the preparation, the device command and the stages' timings.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: bash benchmarks/gpu_run.sh OUT_DIR [gpu_run.py flags]}
shift
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
echo "gpu_run.sh: $(date -u +%FT%TZ) on $(hostname), $(nproc) cores"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "gpu_run.sh: installing the carried wheels failed" >&2; exit 1; }
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
  echo "gpu_run.sh: installed $(ls .whl | tr '\n' ' ')"
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
python3 -c "import torch, transformers, datasets; print('gpu_run.sh: torch', torch.__version__, \
'transformers', transformers.__version__, 'datasets', datasets.__version__)" || exit 1
exec python3 benchmarks/gpu_run.py "$out" "$@"
