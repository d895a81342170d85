#!/usr/bin/env bash
# Every benchmark in one go, on the CPU (default) or the GPU:
#
#     bash benchmarks/run_all.sh            # the CPU figures of the README's table
#     bash benchmarks/run_all.sh cuda       # the GPU figures (needs ember._cuda and a GPU;
#                                           # PyTorch with CUDA for the reference column)
#
# Each script prints ember's figure next to the reference library's, from the same run.
set -euo pipefail
cd "$(dirname "$0")"
device="${1:-cpu}"
python -c "import ember, platform; print('ember', ember.__version__, '|', platform.processor() or platform.machine(), '|', 'threads:', ember._C.num_threads())"
if [[ "$device" == "cuda" ]]; then
  python -c "import ember; ember.cuda.check_available('run_all.sh'); print('GPU:', ember.cuda.get_device_name())"
fi
for bench in bench_matmul.py bench_adam.py bench_attention.py bench_conv2d.py bench_train.py; do
  echo
  echo "== python benchmarks/$bench --device $device"
  python "$bench" --device "$device"
done
if [[ "$device" == "cuda" ]]; then
  echo
  echo "== python benchmarks/bench_matmul.py --device cuda --tf32 --dtype float32"
  python bench_matmul.py --device cuda --tf32 --dtype float32
fi
