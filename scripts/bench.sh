#!/usr/bin/env bash
# `npm run bench` (issue 11): every side-by-side benchmark, one after the other on this machine, each
# part's table printed and its JSON kept in one directory (docs/benchmarks.md says how to read them):
#   page    time to page: gm-prober vs a Prometheus pipeline (kube-prometheus and tuned profiles)
#   lag     consumer lag: gm-prober vs kafka-consumer-groups.sh vs Burrow, and who calls a stall first
#   cost    probing cost: gm-prober vs blackbox_exporter + Prometheus, 10 … 10,000 targets; lag reads
#   gameday the full drill suite's wall time with each drill's detect / page / recover times
# then one table of every part's headline numbers beside the peers' and the goals (bench-summary.ts).
# --runs N (default 5) is the runs of each fault, stall, cost measurement and game day.
# Peers come from `bash scripts/setup.sh --bench`. Numbers, not assertions: nothing here fails on a
# slow result; a part that cannot run says why and the others still run (the exit code says how many failed).
#   bash scripts/bench.sh [--runs N] [--parts page,lag,cost,gameday] [--out DIR]
set -uo pipefail
cd "$(dirname "$0")/.."
runs=5
parts="page,lag,cost,gameday"
out="reports/bench/$(date -u +%Y-%m-%dT%H-%M-%SZ)"
usage() { echo "usage: npm run bench -- [--runs N] [--parts page,lag,cost,gameday] [--out DIR]" >&2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="${2:-}"; shift 2 ;;
    --parts) parts="${2:-}"; shift 2 ;;
    --out) out="${2:-}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench: unknown option \"$1\" (expected --runs, --parts or --out)" >&2; usage; exit 2 ;;
  esac
done
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then echo "bench: --runs: expected a whole number ≥ 1, got \"$runs\"" >&2; exit 2; fi
IFS=, read -ra wanted <<< "$parts"
for p in "${wanted[@]}"; do
  case "$p" in page|lag|cost|gameday) ;; *) echo "bench: --parts: unknown part \"$p\" (expected page, lag, cost or gameday)" >&2; exit 2 ;; esac
done
mkdir -p "$out"
npx turbo run build --output-logs=errors-only >/dev/null || { echo "bench: the build failed" >&2; exit 1; }
NODE=node_modules/.bin/node
[ -x "$NODE" ] || NODE=node
failed=0
part() {
  local name="$1"; shift
  echo "== $name ($(date -u +%H:%M:%S)): $*"
  local t0=$SECONDS
  if "$@" 2>&1 | tee "$out/$name.log"; then
    echo "== $name done in $((SECONDS - t0)) s"
  else
    echo "== $name FAILED after $((SECONDS - t0)) s (see $out/$name.log)"
    failed=$((failed + 1))
  fi
}
for p in "${wanted[@]}"; do
  case "$p" in
    page) part page "$NODE" apps/chaos-runner/dist/bench/page-bench.js --runs "$runs" --json "$out/page.json" ;;
    lag) part lag "$NODE" apps/prober/dist/bench/lag-bench.js --repeat "$runs" --json "$out/lag.json" ;;
    cost) part cost "$NODE" apps/prober/dist/bench/prober-bench.js --runs "$runs" --out "$out/cost" ;;
    gameday) part gameday "$NODE" apps/chaos-runner/dist/bench/gameday-bench.js --runs "$runs" --json "$out/gameday.json" ;;
  esac
done
echo "== summary: every part's headline numbers, peers and goals in one table ($out/summary.md)"
"$NODE" apps/chaos-runner/dist/bench/bench-summary.js "$out" || failed=$((failed + 1))
echo "bench: results in $out ($failed part(s) failed)"
exit $((failed > 0 ? 1 : 0))
