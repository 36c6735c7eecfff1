#!/usr/bin/env bash
# The real LLaMA-Factory in its own environment: llamafactory 0.9.5 pins transformers <= 5.6,
# beside the project's 5.23. tests/e2e/test_llamafactory.py runs check.py in it.
#   bash tests/llamafactory/build_env.sh [DIR]   (default .venv-llamafactory)
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-.venv-llamafactory}
python3.11 -m venv "$dir"
"$dir/bin/pip" install -q --upgrade pip
"$dir/bin/pip" install -q torch==2.14.1 torchvision==0.29.1 llamafactory==0.9.5
