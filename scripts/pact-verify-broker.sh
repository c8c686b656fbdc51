#!/usr/bin/env bash
# pact-verify-broker.sh verifies both providers (inventory-service,
# order-service) against the pacts a Pact Broker selects for them, and
# publishes the verification results. It runs the provider tests of
# contracts/provider (build tag pact) with the broker settings below; they
# ask the broker for the consumers' main-branch pacts, the pacts of the
# branch matching ours and the deployed or released ones, with pending
# pacts enabled (a new, never verified pact does not fail the build).
#
# Usage: scripts/pact-verify-broker.sh [extra go test args...]
#        (make pact-verify-broker sets the defaults below)
#
# Environment (an empty variable counts as unset):
#   PACT_BROKER_BASE_URL               required: the broker's URL (docker compose's
#                                      is http://127.0.0.1:9292, or a hosted one)
#   PACT_BROKER_TOKEN                  bearer token, or
#   PACT_BROKER_USERNAME and PACT_BROKER_PASSWORD for basic auth (a token wins).
#                                      Read from the environment only, never put
#                                      on a command line.
#   PACT_PROVIDER_VERSION              default: git rev-parse HEAD
#   PACT_PROVIDER_BRANCH               default: the current git branch
#   PACT_PUBLISH_VERIFICATION_RESULTS  true (default) or false
#
# Exit status: go test's (0 verified, 1 failed), or 2 when something is
# missing before the tests run.
set -euo pipefail

script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
repo_root="$(cd -- "$script_dir/.." && pwd -P)"

if [[ -z "${PACT_PROVIDER_VERSION:-}" ]]; then
	PACT_PROVIDER_VERSION="$(git -C "$repo_root" rev-parse HEAD 2>/dev/null || true)"
fi
if [[ -z "${PACT_PROVIDER_BRANCH:-}" ]]; then
	PACT_PROVIDER_BRANCH="$(git -C "$repo_root" branch --show-current 2>/dev/null || true)"
fi
PACT_PUBLISH_VERIFICATION_RESULTS="${PACT_PUBLISH_VERIFICATION_RESULTS:-true}"

missing=()
need() { # need NAME HINT: records NAME as missing when it is empty or unset
	[[ -n "${!1:-}" ]] || missing+=("$1 ($2)")
}
need PACT_BROKER_BASE_URL "the Pact Broker's URL, e.g. http://127.0.0.1:9292 from docker compose (make up), or a hosted one"
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
export PACT_BROKER_BASE_URL PACT_PROVIDER_VERSION PACT_PROVIDER_BRANCH PACT_PUBLISH_VERIFICATION_RESULTS
unset PACT_URL # pact-go would add it as one more pact source

# shellcheck source=scripts/pact-env.sh
. "$script_dir/pact-env.sh"
if [[ ! -f "$PACT_LIB_DIR/libpact_ffi.so" ]]; then
	exit 2 # pact-env.sh said what to do
fi

echo "pact-verify-broker: verifying inventory-service and order-service $PACT_PROVIDER_VERSION (branch $PACT_PROVIDER_BRANCH) against $PACT_BROKER_BASE_URL; publish results: $PACT_PUBLISH_VERIFICATION_RESULTS" >&2
cd "$repo_root"
exec "${GO:-go}" test -tags pact -count=1 -v -run '^(TestInventoryProvider|TestOrderProvider)$' "$@" ./contracts/provider
