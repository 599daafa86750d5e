#!/usr/bin/env bash
# The GPU figures in one command, on a machine with an NVIDIA GPU (about 5 min):
#   1. a DeepLab-LargeFOV training step on EfficientNet-Lite0 and on VGG-16 (random weights: the
#      speed is the same): step time on the CPU and on the GPU, AMP off and on, peak GPU memory;
#   2. the share of a GPU training step spent waiting for the label inference in its workers
#      (busy share = 100 % - label wait; goal >= 80 %);
#   3. RAFT-large flow frames/s on real 854 x 480 DAVIS frames (mcnn.motion.raft);
#   4. that a `gpu=1` Snakemake training job really ran on CUDA (tiny workflow, allow_cpu false).
# Every figure comes from the project's own code on real DAVIS frames (../shared/data).
#
#     bash benchmarks/gpu_check.sh            # after `make install`
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || make install
export PATH="$PWD/.venv/bin:$PATH"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader \
  || { echo "gpu_check: nvidia-smi found no NVIDIA GPU" >&2; exit 1; }
python -c "import sys, torch; sys.exit(None if torch.cuda.is_available() else 'gpu_check: torch sees no CUDA device')"
python -c "import torch; print(f'torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name()}')"

# The label workers: all cores but one (the training process drives the GPU).
workers=$(( $(nproc) > 2 ? $(nproc) - 1 : 1 ))
speed="python benchmarks/train_speed.py --pretrained false --crop 321 --frame-size 427 240"
for backbone in efficientnet_lite0 vgg16; do
  echo
  echo "== 1. ${backbone}: CPU step (in-process labels, 3 iterations) =="
  $speed --backbones "$backbone" --device cpu --schemes sync --iterations 3
  for amp in false true; do
    echo "== 1-2. ${backbone}: GPU, AMP ${amp}: in-process labels, then ${workers} label workers with prefetch =="
    $speed --backbones "$backbone" --device cuda --amp "$amp" --schemes sync prefetch \
      --iterations 30 --workers "$workers" --prefetch 2
  done
done

echo
echo "== 3. RAFT-large flow =="
python benchmarks/raft_speed.py --device cuda --pairs 20

echo
echo "== 4. a gpu=1 Snakemake job =="
python benchmarks/gpu_job_check.py
