#!/usr/bin/env bash
# test-steps.sh runs the steps of `make test` (test.mk's TEST_STEPS), each
# as `make STEP`, every one of them even when an earlier one failed, and
# times each. At the end it prints a table step -> seconds -> result and
# exits 1 when any step failed.
#
# Usage: scripts/test-steps.sh STEP...   (test.mk calls it; run `make test`)
#
# A STEP of the form A+B (more than two allowed) runs A and B at the same
# time: each is `make A`, `make B`, with its output printed as it comes,
# every line prefixed "[A] " (its log file keeps it without prefix). Each
# is timed and reported on its own; the group ends when the last of them
# does. test.mk groups steps that neither measure latency nor share files
# (contracts+report-check).
#
# Environment:
#   MAKE        the make command (test.mk passes $(MAKE), which keeps the
#               command line's variables)
#   OUT         output folder (default out)
#   JUNIT_DIR   JUnit folder (default $OUT/junit); every test step writes
#               its own file there, and this script adds make-test.xml: one
#               test case per step (time, failure with the log's last lines,
#               skipped with its reason), so a CI system shows the hygiene
#               steps too
#
# Per step, in $OUT/test-steps/: STEP.log (its whole output, also printed
# as it runs) and, when the step chose to skip, STEP.skipped (the reason,
# written by the step itself, e.g. vulncheck without its database). The
# table is also written to $OUT/test-steps/summary.tsv (step, seconds,
# result).
#
# Exit status: 0 every step passed or skipped; 1 a step failed; 2 usage.
set -uo pipefail

[[ $# -ge 1 ]] || {
	echo "usage: scripts/test-steps.sh STEP..." >&2
	exit 2
}
MAKE="${MAKE:-make}"
OUT="${OUT:-out}"
JUNIT_DIR="${JUNIT_DIR:-$OUT/junit}"
steps_dir="$OUT/test-steps"

rm -rf "$steps_dir" "$JUNIT_DIR"
mkdir -p "$steps_dir" "$JUNIT_DIR"
export JUNIT_DIR

names=() secs=() results=()
failed=0
start_all=$(date +%s)
loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime | sed 's/.*average[s]*: //'; }
load_start="$(loadavg)"

# record STEP RC SECONDS: one row of the table.
record() {
	local step="$1" rc="$2" dt="$3" result
	if [[ $rc -ne 0 ]]; then
		result="FAIL (exit $rc)"
		failed=1
	elif [[ -f "$steps_dir/$step.skipped" ]]; then
		result="skipped: $(head -1 "$steps_dir/$step.skipped")"
	else
		result="pass"
	fi
	names+=("$step") secs+=("$dt") results+=("$result")
	echo "== make test: $step: $result in ${dt}s"
}

# run_alone STEP: make STEP in the foreground, its output printed and logged.
run_alone() {
	local step="$1" t0 rc
	echo "== [$(($(date +%s) - start_all))s] make test: $step"
	t0=$(date +%s)
	# PIPESTATUS[0] is make's status.
	$MAKE --no-print-directory "$step" 2>&1 | tee "$steps_dir/$step.log"
	rc=${PIPESTATUS[0]}
	record "$step" "$rc" "$(($(date +%s) - t0))"
}

# run_together A B...: make A, make B... at the same time, each line of
# their output prefixed with its step's name; each step's own time and
# status (written by the step's subshell when it ends) go into the table.
run_together() {
	local step pids=() t0
	echo "== [$(($(date +%s) - start_all))s] make test: $* at the same time (lines prefixed [step])"
	for step in "$@"; do
		(
			t0=$(date +%s)
			$MAKE --no-print-directory "$step" 2>&1 | tee "$steps_dir/$step.log" | sed -u "s/^/[$step] /"
			rc=${PIPESTATUS[0]}
			echo "$rc $(($(date +%s) - t0))" >"$steps_dir/$step.status"
		) &
		pids+=($!)
	done
	wait "${pids[@]}"
	for step in "$@"; do
		local rc=1 dt=0
		if [[ -f "$steps_dir/$step.status" ]]; then
			read -r rc dt <"$steps_dir/$step.status"
			rm -f "$steps_dir/$step.status"
		fi
		# A status file cut short (the subshell killed while writing it)
		# is a failure, not a pass.
		[[ $rc =~ ^[0-9]+$ ]] || rc=1
		[[ $dt =~ ^[0-9]+$ ]] || dt=0
		record "$step" "$rc" "$dt"
	done
}

for group in "$@"; do
	if [[ "$group" == *+* ]]; then
		IFS=+ read -r -a together <<<"$group"
		run_together "${together[@]}"
	else
		run_alone "$group"
	fi
done
total=$(($(date +%s) - start_all))

# xml_escape TEXT: the five XML entities, and control characters dropped.
xml_escape() {
	sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g' -e "s/'/\&apos;/g" |
		tr -d '\000-\010\013\014\016-\037'
}

{
	n_fail=0 n_skip=0
	for r in "${results[@]}"; do
		case "$r" in
		FAIL*) n_fail=$((n_fail + 1)) ;;
		skipped*) n_skip=$((n_skip + 1)) ;;
		esac
	done
	printf '<?xml version="1.0" encoding="UTF-8"?>\n'
	printf '<testsuites name="make test" tests="%d" failures="%d" skipped="%d" time="%d">\n' "${#names[@]}" "$n_fail" "$n_skip" "$total"
	printf '  <testsuite name="make test steps" tests="%d" failures="%d" skipped="%d" time="%d">\n' "${#names[@]}" "$n_fail" "$n_skip" "$total"
	for i in "${!names[@]}"; do
		printf '    <testcase classname="make test" name="%s" time="%d">' "${names[$i]}" "${secs[$i]}"
		case "${results[$i]}" in
		FAIL*)
			printf '\n      <failure message="%s">' "$(printf '%s' "${results[$i]}" | xml_escape)"
			tail -n 60 "$steps_dir/${names[$i]}.log" | xml_escape
			printf '</failure>\n    ' ;;
		skipped*)
			printf '\n      <skipped message="%s"/>\n    ' "$(printf '%s' "${results[$i]#skipped: }" | xml_escape)" ;;
		esac
		printf '</testcase>\n'
	done
	printf '  </testsuite>\n</testsuites>\n'
} >"$JUNIT_DIR/make-test.xml"

{
	printf 'step\tseconds\tresult\n'
	for i in "${!names[@]}"; do
		printf '%s\t%s\t%s\n' "${names[$i]}" "${secs[$i]}" "${results[$i]}"
	done
} >"$steps_dir/summary.tsv"

echo
echo "== make test: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc 2>/dev/null || echo '?') cores, load average $load_start at start, $(loadavg) at end"
printf '%-14s %8s  %s\n' step seconds result
for i in "${!names[@]}"; do
	printf '%-14s %8s  %s\n' "${names[$i]}" "${secs[$i]}" "${results[$i]}"
done
printf '%-14s %8s  %s\n' total "$total" "$([[ $failed -eq 0 ]] && echo pass || echo FAIL)"
echo "JUnit: $JUNIT_DIR/   step logs: $steps_dir/"
exit "$failed"
