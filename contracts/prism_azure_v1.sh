#!/usr/bin/env bash
# Request checker for the Azure OpenAI v1 API ({resource}/openai/v1/...): a Stoplight
# Prism mock of the official spec contracts/specs/azure-v1-v1-generated.json, on
# loopback, validating every request (--errors): a body that breaks the spec, an
# unknown path or a missing auth header gets a 4xx instead of a mocked answer.
#
#   contracts/prism_azure_v1.sh          start (or reuse a running one); prints the
#                                        base URL, e.g. http://127.0.0.1:4012/openai/v1
#   contracts/prism_azure_v1.sh stop     stop exactly the process this script started
#   contracts/prism_azure_v1.sh status   print the base URL if running, else exit 1
#
# Only the base URL goes to stdout (BASE=$(contracts/prism_azure_v1.sh)); progress and
# errors go to stderr.
#
# How violations show: status 422 (body/query) or 401 (no api-key / authorization
# header), with the details as JSON in the `sl-violations` response header. The body
# is a placeholder AzureErrorResponse ({"error":{"code":"string",...}}). An unknown
# path gets 404 with an application/problem+json body (NO_PATH_MATCHED_ERROR).
#
# The spec goes through prepare_azure_v1.js first (mock-only copy in the work dir;
# see that file for the four mechanical changes). Prism is the copy shared with
# /work/shared/tools/prism (installed into $PRISM_HOME on first use).
#
# Knobs: PRISM_AZURE_V1_PORT (4012), PRISM_AZURE_V1_WORK_DIR (/tmp/prism-azure-v1),
#        PRISM_WAIT_SECS (60), PRISM_DYNAMIC=1 (random schema-valid answers), PRISM_HOME.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SPEC="$HERE/specs/azure-v1-v1-generated.json"
PREPARE="$HERE/prepare_azure_v1.js"
PRISM_HOME="${PRISM_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/prism-cli}"
PRISM="$PRISM_HOME/node_modules/.bin/prism"
HOST=127.0.0.1
PORT="${PRISM_AZURE_V1_PORT:-4012}"
WORK="${PRISM_AZURE_V1_WORK_DIR:-/tmp/prism-azure-v1}"
PIDFILE="$WORK/prism.pid"
LOG="$WORK/prism.log"
PREPARED="$WORK/azure-v1.prism.json"
WAIT_SECS="${PRISM_WAIT_SECS:-60}"
BASE_URL="http://$HOST:$PORT/openai/v1"

say() { echo "prism-azure-v1: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# True when the pid file names a live Prism process serving our port.
ours_alive() {
  local pid cmd
  [[ -f "$PIDFILE" ]] || return 1
  pid="$(cat "$PIDFILE" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmd" == *prism* && "$cmd" == *" -p $PORT "* ]]
}

port_answers() {
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$HOST:$PORT/" 2>/dev/null || true)"
  [[ -n "$code" && "$code" != 000 ]]
}

stop() {
  if ! [[ -f "$PIDFILE" ]]; then
    say "not running (no pid file $PIDFILE)"
    return 0
  fi
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  if ! ours_alive; then
    say "pid '${pid}' is not a running Prism on port $PORT; removing stale pid file"
    rm -f "$PIDFILE"
    return 0
  fi
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "pid $pid ignored SIGTERM for 10s; sending SIGKILL"
    kill -9 "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  kill -0 "$pid" 2>/dev/null && die "could not stop pid $pid"
  rm -f "$PIDFILE"
  say "stopped pid $pid"
}

start() {
  if ours_alive; then
    say "already running (pid $(cat "$PIDFILE")), reusing it"
    echo "$BASE_URL"
    return 0
  fi
  rm -f "$PIDFILE"
  port_answers && die "port $PORT is already in use by something this script did not start"

  command -v node >/dev/null || die "node not found"
  command -v curl >/dev/null || die "curl not found"
  [[ -f "$SPEC" ]] || die "missing $SPEC"
  if [[ ! -x "$PRISM" ]]; then
    say "installing @stoplight/prism-cli@5.16.0 into $PRISM_HOME (once)"
    npm install --silent --no-audit --no-fund --prefix "$PRISM_HOME" @stoplight/prism-cli@5.16.0 >/dev/null ||
      die "npm install of @stoplight/prism-cli failed"
  fi

  mkdir -p "$WORK"
  # Prism watches its spec file and reloads on change, so the prepared copy is written
  # whole to a temp name and moved into place before Prism starts.
  node "$PREPARE" "$SPEC" "$PREPARED.tmp" >"$WORK/prepare.log" 2>&1 ||
    { cat "$WORK/prepare.log" >&2; die "spec preparation failed"; }
  mv -f "$PREPARED.tmp" "$PREPARED"

  local extra=()
  [[ "${PRISM_DYNAMIC:-0}" == 1 ]] && extra+=(-d)
  local t0
  t0=$(date +%s)
  # setsid: own session, so the mock outlives the shell (or tool job) that started it.
  setsid nohup "$PRISM" mock -h "$HOST" -p "$PORT" --errors "${extra[@]}" "$PREPARED" \
    >"$LOG" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$PIDFILE"

  while :; do
    # The pid is ours; right after the fork its command line may not say prism yet.
    if ! kill -0 "$pid" 2>/dev/null; then
      say "Prism exited during startup; last log lines:"
      tail -n 20 "$LOG" >&2 || true
      rm -f "$PIDFILE"
      exit 1
    fi
    port_answers && break
    if (($(date +%s) - t0 >= WAIT_SECS)); then
      say "not ready within ${WAIT_SECS}s; last log lines:"
      tail -n 20 "$LOG" >&2 || true
      stop
      exit 1
    fi
    sleep 0.3
  done
  if grep -a -q -E 'terribly wrong|fatal' "$LOG"; then
    say "Prism reported a problem loading the spec (it may not validate); log: $LOG"
    stop
    exit 1
  fi
  say "ready after $(($(date +%s) - t0))s, pid $pid, log $LOG"
  echo "$BASE_URL"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status)
    if ours_alive; then echo "$BASE_URL"; else say "not running"; exit 1; fi
    ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac
