#!/usr/bin/env bash
# Runs on the GPU machine: several check stages in one device call, most important first. Each
# stage gets at most what is left of the call's time (minus a reserve for copying results back),
# so one slow stage costs the stages after it their figures, never the figures already taken; a
# stage with too little time left is skipped and says so. Results go under OUT as they come:
# OUT/summary.txt (a line a stage: status, seconds, the stage's own summary) and a folder a stage.
#
#   bash scripts/gpu-session.sh BUNDLE OUT [SECONDS] [STAGES]
#     BUNDLE   build/gpu-bundle.tar.xz (scripts/gpu-bundle.sh) or an unpacked bundle directory
#     SECONDS  the call's limit (default 580: the device tool allows 600)
#     STAGES   comma list, run in this order (default tests,conformance,conformance-engine,smoke,models):
#              tests, conformance, conformance-engine, smoke, models, sanitize   (scripts/gpu-check.sh)
#              bench-ab   slimrt bench against BASE_BUNDLE (scripts/gpu-bench-ab.sh, AB_REPS, default 3)
#              load-ab    the load benchmark and read-mode A/B (scripts/gpu-load-ab.sh, about 8 minutes)
#
# Example (device tool, carrying build/gpu-bundle.tar.xz):
#   bash scripts/gpu-session.sh build/gpu-bundle.tar.xz $OUT 580 tests,conformance,conformance-engine,smoke
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bundle=${1:?usage: gpu-session.sh BUNDLE OUT [SECONDS] [STAGES]}
out=${2:?usage: gpu-session.sh BUNDLE OUT [SECONDS] [STAGES]}
limit=${3:-580}
stages=${4:-tests,conformance,conformance-engine,smoke,models}
reserve=20       # seconds kept for the tool to copy OUT back
min_stage=30     # a stage is not started with less than this left
start=$(date +%s)
mkdir -p "$out"
summary="$out/summary.txt"
: >"$summary"

left() { echo $((limit - reserve - ($(date +%s) - start))); }
note() { printf '%-20s %-8s %5ss  %s\n' "$1" "$2" "$3" "$4" | tee -a "$summary"; }

# Unpack once; every later stage uses the directory.
if [[ "$bundle" == *.tar.xz ]]; then
  dir=/tmp/slimrt-bundle
  rm -rf "$dir" && mkdir -p "$dir" && tar -xJf "$bundle" -C "$dir" || { note unpack FAIL 0 "$bundle"; exit 1; }
  archive=$bundle
  bundle=$dir
else
  archive=$bundle
fi

IFS=',' read -r -a list <<<"$stages"
for stage in "${list[@]}"; do
  budget=$(left)
  if ((budget < min_stage)); then
    note "$stage" SKIPPED 0 "only ${budget}s left of the call"
    continue
  fi
  t0=$(date +%s)
  case $stage in
    tests | conformance | conformance-engine | smoke | models | sanitize)
      timeout "$budget" bash "$here/gpu-check.sh" "$bundle" "$out/$stage" --only "$stage" >"$out/$stage.txt" 2>&1
      rc=$?
      # gpu-check.sh's rows, each cut to its first 200 characters (the GPU suite's row lists tests).
      detail=$(grep -E ' (PASS|FAIL|info) ' "$out/$stage.txt" | grep -vE '^gpu +info' | cut -c1-200 | tr -s ' ' |
        tr '\n' ';')
      ;;
    bench-ab)
      base=${BASE_BUNDLE:-}
      if [[ -z "$base" ]]; then
        note "$stage" FAIL 0 "set BASE_BUNDLE to the bundle to compare against"
        continue
      fi
      timeout "$budget" bash "$here/gpu-bench-ab.sh" "$base" "$archive" "$out/bench-ab" "${AB_REPS:-3}" \
        >"$out/bench-ab.txt" 2>&1
      rc=$?
      detail=$(tail -12 "$out/bench-ab.txt" | tr -s ' ' | tr '\n' ';' | cut -c1-400)
      ;;
    load-ab)
      mkdir -p "$out/load-ab"
      OUT="$out/load-ab" BUNDLE="$archive" timeout "$budget" bash "$here/gpu-load-ab.sh" >"$out/load-ab.txt" 2>&1
      rc=$?
      detail=$(tail -8 "$out/load-ab.txt" | tr -s ' ' | tr '\n' ';' | cut -c1-400)
      ;;
    *)
      note "$stage" FAIL 0 "unknown stage (see the usage at the top of scripts/gpu-session.sh)"
      continue
      ;;
  esac
  status=PASS
  ((rc == 124)) && status=TIMEOUT
  ((rc != 0 && rc != 124)) && status=FAIL
  note "$stage" "$status" $(($(date +%s) - t0)) "$detail"
done
echo "total $(($(date +%s) - start))s of ${limit}s"
