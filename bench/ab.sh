#!/usr/bin/env bash
# Speed of the code at a base revision against the working tree, measured in the same run, alternating:
#
#     bash bench/ab.sh BASE_REV SYNTH_DIR [REAL_DIR ...]
#
# For each side: `python -m bench.read_actas --repeat 3` on the real scans (default ../shared/data/actas),
# then `actas ingest --workers 2 --cpu` of SYNTH_DIR (wall time, start-up included) and of the real scans;
# then the readings of both sides compared field by field (`bench.compare_readings`; exit 1 when they
# differ). The base is checked out in a temporary worktree; its outputs are deleted at the end.
set -euo pipefail
base=${1:?base revision}; synth=${2:?folder of synthetic actas}; shift 2
real=("$@"); [ ${#real[@]} -gt 0 ] || real=(../shared/data/actas)
here=$(git rev-parse --show-toplevel); py=${PYTHON:-$here/.venv/bin/python}
tmp=$(mktemp -d); trap 'git -C "$here" worktree remove --force "$tmp/base" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
git -C "$here" worktree add --detach -q "$tmp/base" "$base"
real_abs=(); for d in "${real[@]}"; do real_abs+=("$(cd "$d" && pwd)"); done
synth_abs=$(cd "$synth" && pwd)
side() {  # side NAME ROOT
  echo "== $1 ($(git -C "$2" rev-parse --short HEAD)$( [ "$2" = "$here" ] && ! git -C "$here" diff --quiet && echo ' + working tree'))"
  (cd "$2" && PYTHONPATH="$2" "$py" -m bench.read_actas --repeat 3 "${real_abs[@]}" | tail -7)
  local s e n; s=$(date +%s.%N)
  (cd "$2" && PYTHONPATH="$2" "$py" -m actas.cli ingest "$synth_abs" --out "$tmp/synth-$1" --workers 2 --cpu --no-progress >/dev/null)
  e=$(date +%s.%N); n=$(wc -l < "$tmp/synth-$1/results.jsonl")
  echo "ingest: $n actas in $(printf '%.1f' "$(echo "$e - $s" | bc)") s = $(printf '%.2f' "$(echo "$n / ($e - $s)" | bc -l)") actas/s"
  (cd "$2" && PYTHONPATH="$2" "$py" -m actas.cli ingest "${real_abs[@]}" --out "$tmp/real-$1" --workers 2 --cpu --no-progress >/dev/null) || true
}
side base "$tmp/base"
side now "$here"
echo "== readings, synthetic"; status=0
"$py" -m bench.compare_readings "$tmp/synth-base/results.jsonl" "$tmp/synth-now/results.jsonl" || status=1
echo "== readings, real"
"$py" -m bench.compare_readings "$tmp/real-base/results.jsonl" "$tmp/real-now/results.jsonl" || status=1
exit $status
