# Sourced by the integration tests (not a test: not executable). Gives each test a fresh
# scratch directory and mount point, starts build/test/dsymfs in the foreground in the
# background, waits for its readiness signal (-o ready_fd), and always unmounts and stops
# it on exit. The daemon must then exit with status 0 and no sanitizer report, or the
# test fails.
#
#   start_dsymfs [daemon options]   mount at $MNT (stdout and stderr in $LOG, pid in $PID)
#   stop_dsymfs                     unmount, wait, check the exit status and the log
#                                   (returns 1 if the daemon did not end cleanly)
#   ctl TEXT                        one write() of TEXT to a fresh control handle;
#                                   prints the result line (see ctl.py)
#   fail MESSAGE                    fail the test
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/tests/integration
DSYMFS=${DSYMFS:-$ROOT/build/test/dsymfs}
[ -x "$DSYMFS" ] || { echo "FAIL: $DSYMFS is not built (make build/test/dsymfs)" >&2; exit 1; }

T=$(mktemp -d /tmp/dsymfs-it.XXXXXX)
MNT=$T/mnt
LOG=$T/daemon.log
PID=
mkdir "$MNT"

# Everything that touches the mount runs under a timeout: a hung daemon fails the test
# instead of hanging it.
tmo() { timeout 30 "$@"; }

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# True while the daemon runs (a zombie has exited: kill -0 would still succeed).
alive() {
	[ -n "$PID" ] && [ -e "/proc/$PID" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$PID/status" 2>/dev/null
}

# The daemon runs as a process substitution, not a background job: `wait` still gives its
# exit status, but a test that kills it on purpose (SIGKILL) gets no "Killed" job-status
# line from this shell. Its stdout is the pipe it writes one byte to once mounted; the
# pipe's EOF without that byte means it exited first.
start_dsymfs() {
	local ready byte rc=0
	exec {ready}< <(exec "$DSYMFS" -f -o ready_fd=3 "$@" "$MNT" 3>&1 >"$LOG" 2>&1)
	PID=$!
	read -r -N 1 -t 20 -u "$ready" byte || rc=$?
	exec {ready}<&-
	if [ "$rc" -gt 128 ]; then
		fail "dsymfs did not mount $MNT within 20 s"
	elif [ "$rc" -ne 0 ]; then
		wait_exit 5 || true
		cat "$LOG" >&2
		fail "dsymfs exited before mounting (status ${DSTATUS:-unknown})"
	fi
}

# Waits up to $1 seconds for the daemon to exit; then sets DSTATUS to its exit status.
wait_exit() {
	local i
	for ((i = 0; i < $1 * 20; i++)); do
		if ! alive; then
			DSTATUS=0
			wait "$PID" || DSTATUS=$?
			PID=
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# Checks the daemon's end: exit status 0 and no sanitizer report. Returns 1 (with the
# log on stderr) otherwise.
check_exit() {
	if [ "$DSTATUS" != 0 ] || grep -q 'Sanitizer' "$LOG"; then
		cat "$LOG" >&2
		echo "FAIL: dsymfs exited with status $DSTATUS (log above)" >&2
		return 1
	fi
}

# Unmounts and waits for the daemon; returns 1 if it did not end cleanly.
stop_dsymfs() {
	[ -n "$PID" ] || return 0
	if mountpoint -q "$MNT"; then
		fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -u -z "$MNT"
	fi
	if ! wait_exit 20; then
		kill -TERM "$PID" 2>/dev/null
		wait_exit 5 || { kill -KILL "$PID" 2>/dev/null; wait_exit 5 || true; }
		echo "FAIL: dsymfs did not exit after unmount" >&2
		return 1
	fi
	check_exit
}

cleanup() {
	local rc=$?
	trap - EXIT
	set +e
	if [ -n "$PID" ]; then
		stop_dsymfs || rc=1
	fi
	mountpoint -q "$MNT" 2>/dev/null && fusermount3 -u -z "$MNT"
	if [ -n "${DSYMFS_KEEP_TMP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

ctl() {
	tmo python3 "$HERE/ctl.py" "$MNT/control" "$1"
}

# Prints the value of key=VALUE in status's line for image $1.
status_field() {
	tmo cat "$MNT/status" | awk -v img="$1" -v key="$2" \
		'$1 == img { for (i = 2; i <= NF; i++) if (index($i, key "=") == 1) print substr($i, length(key) + 2) }'
}
