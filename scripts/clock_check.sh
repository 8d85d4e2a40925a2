#!/usr/bin/env bash
# The clock check: runs the date- and time-sensitive test modules with the
# process clock moved (libfaketime) to instants where day boundaries bite:
# just after and before midnight UTC, before 10:00 UTC, a European DST change
# day, and a US one with VOXIE_TIMEZONE=America/New_York. A test that passes
# only at some hours of the day fails here.
#   bash scripts/clock_check.sh              # every instant
#   bash scripts/clock_check.sh '2026-12-02 00:05:00'   # one instant (UTC)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTEST="${PYTEST:-.venv/bin/pytest}"
MARKS="not slow and not browser"
MODULES=(
  tests/test_reports.py
  tests/test_rollups.py
  tests/test_states.py
  tests/test_analytics.py
  tests/test_calls.py
  tests/test_worker.py
  tests/test_call_analysis.py
  tests/test_recorder.py
  tests/test_state_auth.py
  tests/test_webhooks.py
  tests/test_livekit_webhook.py
  tests/test_api_auth.py
  tests/test_clock.py
)
if ! command -v faketime >/dev/null 2>&1; then
  echo "clock check: faketime is not installed (apt-get install faketime)" >&2
  exit 1
fi
# instant (UTC) and the VOXIE_TIMEZONE to run it with
INSTANTS=(
  "2026-12-02 00:05:00|UTC"
  "2026-12-02 09:59:00|UTC"
  "2026-12-02 23:55:00|UTC"
  "2026-03-29 01:30:00|Europe/Berlin"
  "2026-11-01 06:30:00|America/New_York"
)
if [ $# -gt 0 ]; then
  INSTANTS=()
  for at in "$@"; do INSTANTS+=("$at|${VOXIE_TIMEZONE:-UTC}"); done
fi
# Instants run CLOCK_JOBS at a time (default 2: the suite is mostly one busy
# process, and each run uses its own databases and ports); each run's output is
# printed whole when it ends, in the order the instants are listed.
JOBS="${CLOCK_JOBS:-2}"
LOGS="$(mktemp -d)"
trap 'rm -rf "$LOGS"' EXIT
run_instant() {
  local at="$1" zone="$2" log="$3"
  # "@" starts the clock at the instant and lets it run. Two libfaketime limits
  # (0.9.10) shaped this: a process started later (the app, the worker's CLI)
  # starts its own clock at the instant again, so processes disagree by the
  # time between their starts; and a relative offset ("-Ns"), which every
  # process would share, makes threading waits with a timeout hang, while
  # FAKETIME_DONT_FAKE_MONOTONIC=1 makes time.sleep fail with EINVAL.
  if TZ=UTC VOXIE_TIMEZONE="$zone" \
      faketime -f "@$at" "$PYTEST" -q -p no:cacheprovider -m "$MARKS" "${MODULES[@]}" \
      >"$log" 2>&1; then
    echo ok >"$log.rc"
  else
    echo failed >"$log.rc"
  fi
}
pids=()
i=0
for item in "${INSTANTS[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 1; done
  run_instant "${item%|*}" "${item#*|}" "$LOGS/$i" &
  pids+=("$!")
  i=$((i + 1))
done
wait "${pids[@]}" || true
failed=0
i=0
for item in "${INSTANTS[@]}"; do
  at="${item%|*}"
  zone="${item#*|}"
  echo "clock check: $at UTC, VOXIE_TIMEZONE=$zone"
  if [ "$(cat "$LOGS/$i.rc" 2>/dev/null)" = ok ]; then
    tail -n 3 "$LOGS/$i"
  else
    cat "$LOGS/$i"
    echo "clock check FAILED at $at UTC (VOXIE_TIMEZONE=$zone)"
    failed=1
  fi
  i=$((i + 1))
done
exit "$failed"
