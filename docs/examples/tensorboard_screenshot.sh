#!/usr/bin/env bash
# The README's TensorBoard picture, made again: two short runs of the demo in one folder, the first
# killed (SIGKILL) part way and resumed, then TensorBoard's own page over the folder, photographed
# by a headless Chromium (apt-get install chromium). Nothing here reaches the network.
#
#   bash docs/examples/tensorboard_screenshot.sh [RUNS_FOLDER] [OUT.png]
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-/tmp/synthvol-tensorboard}
OUT=${2:-docs/images/tensorboard.png}
PY=${PY:-.venv/bin/python}
rm -rf "$RUNS" && mkdir -p "$RUNS"
common=(--data resources/demo --preset quick --image-size 64 --iterations 300 --device cpu
        --val-every 25 --log-every 5 --checkpoint-every 100)

# run 1: killed without warning after its checkpoint at iteration 200, then resumed to 300
"$PY" main.py train --run "$RUNS/lr-4e-4" "${common[@]}" >/dev/null 2>&1 &
pid=$!
until grep -q '"iteration": 2[2-9][0-9]' "$RUNS/lr-4e-4/metrics.jsonl" 2>/dev/null; do sleep 1; done
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
"$PY" main.py train --run "$RUNS/lr-4e-4" "${common[@]}" --resume >/dev/null
# run 2: a lower learning rate, to compare
"$PY" main.py train --run "$RUNS/lr-1e-4" "${common[@]}" --lr-g 1e-4 --lr-d 1e-4 >/dev/null

.venv/bin/tensorboard --logdir "$RUNS" --host 127.0.0.1 --port 6123 >/dev/null 2>&1 &
tb=$!
trap 'kill $tb 2>/dev/null || true' EXIT
until curl -sf http://localhost:6123/ >/dev/null; do sleep 1; done
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,1000 \
  --virtual-time-budget=30000 --screenshot="$OUT" \
  "http://localhost:6123/?darkMode=false#timeseries&tagFilter=val%2F%7Closs%2Fgenerator" 2>/dev/null
echo "wrote $OUT"
