#!/usr/bin/env bash
# pact-verify-broker.sh verifies the providers against pacts from a Pact
# Broker. First it fetches what the verification is about to verify and
# lints it (pactlint -broker / -pact-url: a provider state without a
# handler, an unknown pair, a duplicate or a message without content fails
# here; an interaction this tree does not register only warns; a pending
# pact's problems only warn); then it runs the provider tests of
# contracts/provider (build tag pact) against the broker.
#
# Two modes:
#   broker (make pact-verify-broker): every pact the broker selects for each
#     provider: consumer version selectors mainBranch, matchingBranch and
#     deployedOrReleased, pending pacts enabled (a new, never verified pact
#     does not fail the build), work-in-progress pacts since
#     PACT_INCLUDE_WIP_PACTS_SINCE, and no pact at all fails (FailIfNoPactsFound).
#   changed (make pact-verify-changed PACT_URL=...): the one pact a webhook
#     named (contract_requiring_verification_published, ${pactbroker.pactUrl}),
#     verified by its provider (PACT_PROVIDER, or read from the URL).
#
# Usage: scripts/pact-verify-broker.sh [extra go test args...]
#
# Environment (an empty variable counts as unset):
#   PACT_BROKER_BASE_URL               the broker (required unless PACT_URL is set)
#   PACT_URL                           changed mode: the pact to verify
#   PACT_PROVIDER                      changed mode: its provider (default: from PACT_URL)
#   PACT_BROKER_TOKEN                  bearer token, or
#   PACT_BROKER_USERNAME and PACT_BROKER_PASSWORD for basic auth (a token wins).
#                                      Read from the environment only.
#   PACT_PROVIDER_VERSION              default: git rev-parse HEAD
#   PACT_PROVIDER_BRANCH               default: the current git branch
#   PACT_PUBLISH_VERIFICATION_RESULTS  true or false; default: true when CI=true,
#                                      else false (publish from CI only)
#   PACT_BUILD_URL                     the CI build's URL, sent with the results
#                                      (default: the GitHub Actions run, if any)
#   PACT_INCLUDE_WIP_PACTS_SINCE       YYYY-MM-DD, default 2026-12-01 (when this
#                                      project started verifying WIP pacts)
#   PACT_BROKER_HTTP_RETRIES           retries of the lint's broker requests, default 2
#   PACTLINT                           the pactlint command (default: go run ./contracts/pactlint)
#
# Exit status: 0 verified; 1 verification failed, or the fetched pacts
# failed the lint; 2 configuration missing or invalid, or no pact library;
# 3 the broker cannot be reached; 4 the broker answered with an error.
set -euo pipefail

script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
repo_root="$(cd -- "$script_dir/.." && pwd -P)"

if [[ -z "${PACT_PROVIDER_VERSION:-}" ]]; then
	PACT_PROVIDER_VERSION="$(git -C "$repo_root" rev-parse HEAD 2>/dev/null || true)"
fi
if [[ -z "${PACT_PROVIDER_BRANCH:-}" ]]; then
	PACT_PROVIDER_BRANCH="$(git -C "$repo_root" branch --show-current 2>/dev/null || true)"
fi
if [[ -z "${PACT_PUBLISH_VERIFICATION_RESULTS:-}" ]]; then
	PACT_PUBLISH_VERIFICATION_RESULTS=false
	[[ "${CI:-}" != true ]] || PACT_PUBLISH_VERIFICATION_RESULTS=true
fi
if [[ -z "${PACT_BUILD_URL:-}" && -n "${GITHUB_RUN_ID:-}" ]]; then
	PACT_BUILD_URL="${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY:-}/actions/runs/$GITHUB_RUN_ID"
fi
PACT_INCLUDE_WIP_PACTS_SINCE="${PACT_INCLUDE_WIP_PACTS_SINCE:-2026-12-01}"
PACT_BROKER_HTTP_RETRIES="${PACT_BROKER_HTTP_RETRIES:-2}"

missing=()
need() { # need NAME HINT: records NAME as missing when it is empty or unset
	[[ -n "${!1:-}" ]] || missing+=("$1 ($2)")
}
if [[ -z "${PACT_URL:-}" ]]; then
	need PACT_BROKER_BASE_URL "the Pact Broker's URL, e.g. http://127.0.0.1:9292 from docker compose (make up), or a hosted one"
fi
need PACT_PROVIDER_VERSION "the providers' version, default git rev-parse HEAD, which failed"
need PACT_PROVIDER_BRANCH "the providers' branch, default the current git branch (none on a detached HEAD)"
if [[ -z "${PACT_BROKER_TOKEN:-}" ]]; then
	if [[ -n "${PACT_BROKER_USERNAME:-}" ]]; then
		need PACT_BROKER_PASSWORD "basic auth password for PACT_BROKER_USERNAME"
	elif [[ -n "${PACT_BROKER_PASSWORD:-}" ]]; then
		need PACT_BROKER_USERNAME "basic auth user for PACT_BROKER_PASSWORD"
	fi
fi
case "$PACT_PUBLISH_VERIFICATION_RESULTS" in
true | false) ;;
*) missing+=("PACT_PUBLISH_VERIFICATION_RESULTS (true or false, got '$PACT_PUBLISH_VERIFICATION_RESULTS')") ;;
esac
[[ "$PACT_INCLUDE_WIP_PACTS_SINCE" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] ||
	missing+=("PACT_INCLUDE_WIP_PACTS_SINCE (a date, YYYY-MM-DD, got '$PACT_INCLUDE_WIP_PACTS_SINCE')")
[[ "$PACT_BROKER_HTTP_RETRIES" =~ ^[0-9]+$ ]] ||
	missing+=("PACT_BROKER_HTTP_RETRIES (a whole number, got '$PACT_BROKER_HTTP_RETRIES')")

# test_of prints the provider test of a pacticipant, nothing for another name.
test_of() {
	case "$1" in
	inventory-service) echo TestInventoryProvider ;;
	order-service) echo TestOrderProvider ;;
	esac
}
providers=(inventory-service order-service)
if [[ -n "${PACT_URL:-}" ]]; then
	if [[ -z "${PACT_PROVIDER:-}" && "$PACT_URL" =~ /pacts/provider/([^/]+)/ ]]; then
		PACT_PROVIDER="${BASH_REMATCH[1]}"
	fi
	if [[ -z "${PACT_PROVIDER:-}" ]]; then
		missing+=("PACT_PROVIDER (the provider of PACT_URL: inventory-service or order-service; the URL does not name one)")
	elif [[ -z "$(test_of "$PACT_PROVIDER")" ]]; then
		missing+=("PACT_PROVIDER (inventory-service or order-service, got '$PACT_PROVIDER')")
	fi
	providers=("${PACT_PROVIDER:-}")
fi
if [[ ${#missing[@]} -gt 0 ]]; then
	echo "pact-verify-broker: missing configuration:" >&2
	printf '  %s\n' "${missing[@]}" >&2
	exit 2
fi

# Pass on only the credentials in use, none that are empty.
if [[ -n "${PACT_BROKER_TOKEN:-}" ]]; then
	export PACT_BROKER_TOKEN
	unset PACT_BROKER_USERNAME PACT_BROKER_PASSWORD
else
	unset PACT_BROKER_TOKEN
	if [[ -n "${PACT_BROKER_USERNAME:-}" ]]; then
		export PACT_BROKER_USERNAME PACT_BROKER_PASSWORD
	else
		unset PACT_BROKER_USERNAME PACT_BROKER_PASSWORD
	fi
fi
export PACT_PROVIDER_VERSION PACT_PROVIDER_BRANCH PACT_PUBLISH_VERIFICATION_RESULTS PACT_INCLUDE_WIP_PACTS_SINCE
if [[ -n "${PACT_BUILD_URL:-}" ]]; then
	export PACT_BUILD_URL
fi
if [[ -n "${PACT_URL:-}" ]]; then
	export PACT_URL
	unset PACT_BROKER_BASE_URL
else
	export PACT_BROKER_BASE_URL
	unset PACT_URL
fi

# shellcheck source=scripts/pact-env.sh
. "$script_dir/pact-env.sh"
if [[ ! -f "$PACT_LIB" ]]; then
	exit 2 # pact-env.sh said what to do
fi
cd "$repo_root"
if [[ -n "${PACTLINT:-}" ]]; then
	read -r -a pactlint <<<"$PACTLINT"
else
	pactlint=("${GO:-go}" run ./contracts/pactlint)
fi

fetched="$(mktemp -d "${TMPDIR:-/tmp}/faultline-fetched.XXXXXX")"
trap 'rm -rf "$fetched"' EXIT
tests=()
for provider in "${providers[@]}"; do
	if [[ -n "${PACT_URL:-}" ]]; then
		source_args=(-pact-url "$PACT_URL")
		where="$PACT_URL"
	else
		source_args=(-broker "$PACT_BROKER_BASE_URL" -branch "$PACT_PROVIDER_BRANCH" -wip-since "$PACT_INCLUDE_WIP_PACTS_SINCE")
		where="$PACT_BROKER_BASE_URL"
	fi
	echo "pact-verify-broker: fetching and linting what $where has for $provider" >&2
	code=0
	"${pactlint[@]}" "${source_args[@]}" -provider "$provider" -retries "$PACT_BROKER_HTTP_RETRIES" -dir "$fetched/$provider" || code=$?
	case "$code" in
	0) ;;
	1)
		echo "pact-verify-broker: the pacts $where has for $provider failed the lint; not verified" >&2
		exit 1
		;;
	3 | 4) exit "$code" ;; # pactlint named the URL and the cause
	*) exit 2 ;;
	esac
	tests+=("$(test_of "$provider")")
done

run_re="^($(
	IFS='|'
	echo "${tests[*]}"
))\$"
echo "pact-verify-broker: verifying ${providers[*]} $PACT_PROVIDER_VERSION (branch $PACT_PROVIDER_BRANCH) against ${PACT_URL:-$PACT_BROKER_BASE_URL}; WIP pacts since $PACT_INCLUDE_WIP_PACTS_SINCE; publish results: $PACT_PUBLISH_VERIFICATION_RESULTS${PACT_BUILD_URL:+ (build $PACT_BUILD_URL)}" >&2
"${GO:-go}" test -tags pact -count=1 -v -run "$run_re" "$@" ./contracts/provider || exit 1
