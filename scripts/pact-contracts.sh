#!/usr/bin/env bash
# pact-contracts.sh runs the Pact contract phases of this checkout (make
# contracts, make mutants). Every run writes and reads a pact folder of its
# own (mktemp), so two runs in one checkout never touch each other's files;
# `install` then replaces PACT_DIR by the run's folder in one step, under a
# lock, so PACT_DIR always holds one complete run (never half of two).
#
# Usage: scripts/pact-contracts.sh PHASE...
#
# Phases, run in the order given:
#   consumer  the consumer tests, one process (several writing one pact file
#             lose interactions), into the run's folder
#   lint      the lint (stale interactions, messages without content), then
#             a provenance stamp: commit, clean tree, file hashes (pact-publish
#             refuses pacts whose stamp does not match the tree)
#   provider  provider verification of inventory-service and order-service,
#             and the check that a provider state without a handler fails
#   wire      the wire check (outbox relay -> embedded Kafka -> order-placed pact)
#   mutants   the mutant catalogue (contracts/mutants): every breaking mutant
#             caught, every harmless one passed
#   tooling   tests that need the pact library but no cgo of their own: broker
#             verification against a recording broker, two concurrent runs
#   plain     the plain contract tests, with the race detector
#             ("tooling plain" in a row run at the same time, each with its
#             own output, printed when both end: both mostly wait on child
#             processes)
#   install   replace PACT_DIR by the run's folder (under PACT_DIR.lock)
#
# Environment:
#   PACT_DIR        where install puts the pacts (default contracts/pacts)
#   PACT_RACE       -race (default) or empty: race detector for the pact phases
#   PACT_NETNS      auto (default), on, off: scripts/pact-netns.sh
#   PACT_KEEP_RUN   1 keeps the run's folder after a green run (it is kept
#                   after a failure anyway, and its path printed)
#   JUNIT_DIR       when set, every phase that runs go test runs it through
#                   gotestsum (pinned in go.mod) and writes
#                   $JUNIT_DIR/contracts-PHASE.xml (make test sets it)
#   GO              the go command (default go)
#
# Exit status: 0 every phase passed; 1 a phase failed; 2 usage or a missing
# pact library.
set -euo pipefail

script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
repo_root="$(cd -- "$script_dir/.." && pwd -P)"
GO="${GO:-go}"
PACT_RACE="${PACT_RACE--race}"
PACT_DIR="${PACT_DIR:-$repo_root/contracts/pacts}"

usage() {
	echo "usage: scripts/pact-contracts.sh consumer|lint|provider|wire|mutants|tooling|plain|install..." >&2
	exit 2
}
[[ $# -ge 1 ]] || usage
for phase in "$@"; do
	case "$phase" in
	consumer | lint | provider | wire | mutants | tooling | plain | install) ;;
	*) usage ;;
	esac
done

# shellcheck source=scripts/pact-env.sh
. "$script_dir/pact-env.sh"
if [[ ! -f "$PACT_LIB" ]]; then
	exit 2 # pact-env.sh said what to do
fi

run_dir="$(mktemp -d "${TMPDIR:-/tmp}/faultline-pacts.XXXXXX")"
start=$(date +%s)
current=""
finish() {
	local code=$?
	if [[ $code -ne 0 ]]; then
		echo "== contracts: FAILED in phase ${current:-setup} after $(($(date +%s) - start))s; this run's pact files: $run_dir" >&2
	elif [[ "${PACT_KEEP_RUN:-}" == 1 ]]; then
		echo "== contracts: this run's pact files kept in $run_dir"
	else
		rm -rf "$run_dir"
	fi
}
trap finish EXIT

step() {
	current="$1"
	echo "== [$(($(date +%s) - start))s] contracts: $2"
}

cd "$repo_root"
# Local pact files only: broker settings in the developer's environment must
# not turn a phase into a broker verification.
unset PACT_BROKER_BASE_URL PACT_URL
install_dir="$PACT_DIR"
export PACT_DIR="$run_dir"
# go_test ARGS...: `go test ARGS...`, or through gotestsum with a JUnit file
# of the current phase when JUNIT_DIR is set.
go_test() {
	if [[ -z "${JUNIT_DIR:-}" ]]; then
		"$GO" test "$@"
		return
	fi
	mkdir -p "$JUNIT_DIR"
	local format=pkgname-and-test-fails
	[[ " $* " == *" -v "* ]] && format=standard-verbose
	"$GO" tool gotestsum --format "$format" --junitfile "$JUNIT_DIR/contracts-$current.xml" \
		--junitfile-testsuite-name relative --junitfile-testcase-classname relative -- "$@"
}
pact_test=(go_test -tags pact -count=1)
if [[ -n "$PACT_RACE" ]]; then
	pact_test+=("$PACT_RACE")
fi
netns=(-exec "$script_dir/pact-netns.sh")

install_pacts() {
	local dest="$install_dir"
	mkdir -p "$(dirname "$dest")"
	(
		if command -v flock >/dev/null 2>&1; then
			flock -x 9
		fi
		rm -rf "$dest.new" "$dest.old"
		cp -R "$run_dir" "$dest.new"
		if [[ -e "$dest" ]]; then
			mv "$dest" "$dest.old"
		fi
		mv "$dest.new" "$dest"
		rm -rf "$dest.old"
	) 9>"$dest.lock"
}

# run_phase PHASE: one phase, in the foreground.
run_phase() {
	case "$1" in
	consumer)
		step consumer "consumer phase (order-service, inventory-service as consumers) -> $run_dir"
		"${pact_test[@]}" ./contracts/consumer
		;;
	lint)
		step lint "lint (stale interactions, messages without content) and provenance stamp"
		"$GO" run ./contracts/pactlint -dir "$run_dir" -stamp -repo "$repo_root"
		;;
	provider)
		step provider "provider phase (inventory-service HTTP + messages, order-service messages; unhandled states fail)"
		"${pact_test[@]}" "${netns[@]}" -run '^(TestInventoryProvider|TestOrderProvider|TestUnhandledStateFailsVerification)$' ./contracts/provider
		;;
	wire)
		step wire "wire check (outbox relay -> kfake -> sarama -> order-placed pact)"
		"${pact_test[@]}" "${netns[@]}" -run '^TestOrderPlacedOnTheWire$' ./contracts/provider
		;;
	mutants)
		step mutants "mutants (contracts/mutants: breaking ones caught, harmless ones passed)"
		# Without the race detector: the mutants' children and builds are
		# many, the code under test is the same as the provider phase's.
		go_test -tags pact -count=1 -v "${netns[@]}" -run '^TestMutants$' ./contracts/provider
		;;
	tooling)
		step tooling "tooling (broker verification against a recording broker, two concurrent runs)"
		go_test -tags pact -count=1 -run '^(TestVerifyBroker.*|TestVerifyChanged.*|TestConcurrentRuns)$' ./contracts/brokerwire ./contracts/runs
		;;
	plain)
		step plain "plain contract tests (registry, mutants, pactlint, degraded, brokerwire)"
		go_test -race -count=1 ./contracts/...
		;;
	install)
		step install "install -> $install_dir"
		install_pacts
		;;
	esac
}

# run_beside A B: phases A and B at the same time, each output kept in a
# file of the run's folder and printed when both are done; fails when
# either failed. For tooling and plain: their time is mostly waiting on
# child processes (scripts, curl retries, the Pact CLI, go builds), and
# they share no file (each test works in temporary folders of its own).
run_beside() {
	local a="$1" b="$2" pa pb ra=0 rb=0
	step "$a" "$a and $b at the same time (outputs follow when both end)"
	(current="$a" && run_phase "$a") >"$run_dir/$a.log" 2>&1 &
	pa=$!
	(current="$b" && run_phase "$b") >"$run_dir/$b.log" 2>&1 &
	pb=$!
	wait "$pa" || ra=$?
	wait "$pb" || rb=$?
	cat "$run_dir/$a.log" "$run_dir/$b.log"
	rm -f "$run_dir/$a.log" "$run_dir/$b.log"
	if [[ $ra -ne 0 || $rb -ne 0 ]]; then
		current="$a+$b"
		echo "== contracts: $a exit $ra, $b exit $rb" >&2
		return 1
	fi
}

phases=("$@")
for ((k = 0; k < ${#phases[@]}; k++)); do
	phase="${phases[$k]}"
	if [[ "$phase" == tooling && "${phases[$((k + 1))]:-}" == plain ]]; then
		run_beside tooling plain
		k=$((k + 1))
		continue
	fi
	run_phase "$phase"
done
echo "== contracts: $* green in $(($(date +%s) - start))s"
