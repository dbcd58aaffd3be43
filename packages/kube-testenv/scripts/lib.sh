# Shared by build.sh and build-node.sh (sourced, not run): progress lines on stderr tagged [$LOG_TAG],
# the elapsed time since the script started, and step, which runs one build with a line when it starts,
# when it ends, and one every $progress_every s in between (a cold `go build` prints nothing for many
# minutes). The ticker's sleep writes nowhere and is killed with it, so nothing holds a caller's stderr
# pipe open after the step; it also ends when the script does.
log() { printf '[%s] %s\n' "${LOG_TAG:-build}" "$*" >&2; }
started=$(date +%s)
elapsed() { local s=$(( $(date +%s) - started )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
progress_every=${progress_every:-60}
# step WHAT CMD...
step() {
  local what=$1 t0 ticker rc=0
  shift
  t0=$(date +%s)
  log "$what: started ($(elapsed) elapsed)"
  (
    trap 'kill "$pid" 2>/dev/null; exit 0' TERM
    while :; do
      sleep "$progress_every" >/dev/null 2>&1 & pid=$!
      wait "$pid"
      kill -0 $$ 2>/dev/null || exit 0 # the build was interrupted (a background subshell ignores SIGINT)
      log "$what: still building, $(( ($(date +%s) - t0) / 60 )) min so far ($(elapsed) elapsed)"
    done
  ) &
  ticker=$!
  "$@" || rc=$?
  kill "$ticker" 2>/dev/null; wait "$ticker" 2>/dev/null || true
  if [ $rc = 0 ]; then log "$what: done in $(( $(date +%s) - t0 ))s ($(elapsed) elapsed)"; else log "$what: failed (exit $rc) after $(( $(date +%s) - t0 ))s"; fi
  return $rc
}
