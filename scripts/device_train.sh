#!/usr/bin/env bash
# Train ConvNeXt-Tiny on a GPU machine lent by the workplace's `device` tool, in one call, and send the
# weights back through $OUT as float16 parts (a call returns at most 8 files of 16 MiB, 64 MiB in all).
# That machine has torch, timm, OpenCV and tqdm but not this project's other packages and not ../shared:
#
#   here, once:  mkdir -p .carry/mnist && cp ../shared/data/mnist/*.gz .carry/mnist/    (.carry/ is git-ignored)
#   there:       device run  command="bash scripts/device_train.sh"  carry=[".carry"]  timeout_s=600
#   here, after: actas-train unpack FILES_AT/pack --out runs/gpu/best.pt   (then docs/models.md, "Retraining")
#
# Settings come from the environment: EPOCHS, MINUTES (the training budget, below the call's 10 minutes;
# an unfinished run is packed as it stands and a later call on the same warm machine resumes it), MODEL,
# DATA, RUN, PY and TRAIN_ARGS (extra `actas-train train` options, e.g. "--init models/convnext_tiny.onnx").
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?OUT is unset: run this through the device tool, whose \$OUT folder comes back}"
PY=${PY:-python3}
MODEL=${MODEL:-convnext_tiny}
DATA=${DATA:-.carry/mnist}
RUN=${RUN:-/tmp/runs/$MODEL}
EPOCHS=${EPOCHS:-40}
MINUTES=${MINUTES:-8}
WORKERS=${WORKERS:-$(( $(nproc) > 2 ? $(nproc) - 2 : 0 ))}
export PYTHONUNBUFFERED=1

[ -d "$DATA" ] || { echo "device_train: no training data at $DATA (see the top of this script)" >&2; exit 2; }
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
# shellcheck disable=SC2086  # TRAIN_ARGS is a list of options
"$PY" -m training train --model "$MODEL" --data-dir "$DATA" --run-dir "$RUN" --epochs "$EPOCHS" \
    --batch-size 256 --lr 2e-3 --ema-decay 0.9995 --clean-fraction 0.3 --seed 0 --workers "$WORKERS" \
    --save-every 0 --max-minutes "$MINUTES" --resume ${TRAIN_ARGS:-} 2>&1 | tee "$OUT/train.log"
best="$RUN/best.pt"
[ -f "$best" ] || best="$RUN/last.pt"
"$PY" -m training pack --checkpoint "$best" --out "$OUT/pack" --part-mib 15
cp "$RUN/history.json" "$OUT/" 2>/dev/null || true
