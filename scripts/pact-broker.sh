#!/usr/bin/env bash
# pact-broker.sh runs the Pact Broker verbs of the pinned Pact CLI
# (.tools/pact/bin/pact, installed by scripts/pact-tools.sh) with the
# project's conventions, and says what is missing before calling it.
#
# Usage: scripts/pact-broker.sh publish|can-i-deploy|record-deployment [extra CLI args...]
#
# Environment (an empty variable counts as unset):
#   PACT_BROKER_BASE_URL      required: the broker's URL (docker-compose.yml's broker
#                             is http://127.0.0.1:9292, or a hosted one)
#   PACT_BROKER_TOKEN         bearer token, or
#   PACT_BROKER_USERNAME and PACT_BROKER_PASSWORD for basic auth (a token wins).
#                             The CLI reads these from its environment, so the
#                             secrets never appear on a command line.
#   PACT_BROKER_HTTP_RETRIES  retries on 5xx/408/429 (the CLI's default is 8)
#   PACT_CLI                  the pact binary (default .tools/pact/bin/pact)
# publish:
#   PACT_DIR                  folder of pact files (default contracts/pacts)
#   PACT_CONSUMER_VERSION     default: git rev-parse HEAD
#   PACT_BRANCH               default: the current git branch
#   PACT_BUILD_URL            optional CI build URL
# can-i-deploy, record-deployment:
#   PACTICIPANT, VERSION, ENVIRONMENT
#
# Exit status: the CLI's (can-i-deploy: 0 deployable, 1 not), or 2 when
# something is missing before the CLI runs.
set -euo pipefail

script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
repo_root="$(cd -- "$script_dir/.." && pwd -P)"

usage() {
	echo "usage: scripts/pact-broker.sh publish|can-i-deploy|record-deployment [extra pact CLI args...]" >&2
	exit 2
}

[[ $# -ge 1 ]] || usage
verb="$1"
shift
case "$verb" in
publish | can-i-deploy | record-deployment) ;;
*) usage ;;
esac

missing=()
need() { # need NAME HINT: records NAME as missing when it is empty or unset
	[[ -n "${!1:-}" ]] || missing+=("$1 ($2)")
}

need PACT_BROKER_BASE_URL "the Pact Broker's URL, e.g. http://127.0.0.1:9292 from docker compose (make up)"
if [[ -z "${PACT_BROKER_TOKEN:-}" && -n "${PACT_BROKER_USERNAME:-}" ]]; then
	need PACT_BROKER_PASSWORD "basic auth password for PACT_BROKER_USERNAME"
fi
if [[ -z "${PACT_BROKER_TOKEN:-}" && -n "${PACT_BROKER_PASSWORD:-}" ]]; then
	need PACT_BROKER_USERNAME "basic auth user for PACT_BROKER_PASSWORD"
fi

case "$verb" in
publish)
	PACT_DIR="${PACT_DIR:-$repo_root/contracts/pacts}"
	if [[ -z "${PACT_CONSUMER_VERSION:-}" ]]; then
		PACT_CONSUMER_VERSION="$(git -C "$repo_root" rev-parse HEAD 2>/dev/null || true)"
	fi
	if [[ -z "${PACT_BRANCH:-}" ]]; then
		PACT_BRANCH="$(git -C "$repo_root" branch --show-current 2>/dev/null || true)"
	fi
	need PACT_CONSUMER_VERSION "the consumer version, default git rev-parse HEAD, which failed"
	need PACT_BRANCH "the consumer's branch, default the current git branch (none on a detached HEAD)"
	;;
can-i-deploy | record-deployment)
	need PACTICIPANT "the pacticipant, e.g. inventory-service or order-service"
	need VERSION "the application version, e.g. the git SHA"
	need ENVIRONMENT "the environment name, e.g. production"
	;;
esac

if [[ ${#missing[@]} -gt 0 ]]; then
	echo "pact-broker $verb: missing configuration:" >&2
	printf '  %s\n' "${missing[@]}" >&2
	exit 2
fi

pact_cli="${PACT_CLI:-$repo_root/.tools/pact/bin/pact}"
if [[ ! -x "$pact_cli" ]]; then
	echo "pact-broker $verb: Pact CLI not found at $pact_cli: run \`make tools\`" >&2
	exit 2
fi

# The CLI reads the credentials from its environment; pass it only the ones in
# use, and none that are empty (an empty token would still be sent).
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

common=(--broker-base-url "$PACT_BROKER_BASE_URL")
if [[ -n "${PACT_BROKER_HTTP_RETRIES:-}" ]]; then
	common+=(--retries "$PACT_BROKER_HTTP_RETRIES")
fi
unset PACT_BROKER_HTTP_RETRIES

case "$verb" in
publish)
	if [[ ! -d "$PACT_DIR" ]] || ! compgen -G "$PACT_DIR/*.json" >/dev/null; then
		echo "pact-broker publish: no pact files (*.json) in $PACT_DIR: run the consumer pact tests first" >&2
		exit 2
	fi
	args=(broker publish "$PACT_DIR"
		--consumer-app-version "$PACT_CONSUMER_VERSION"
		--branch "$PACT_BRANCH")
	if [[ -n "${PACT_BUILD_URL:-}" ]]; then
		args+=(--build-url "$PACT_BUILD_URL")
	fi
	echo "pact-broker: publishing $PACT_DIR as version $PACT_CONSUMER_VERSION on branch $PACT_BRANCH to $PACT_BROKER_BASE_URL" >&2
	;;
can-i-deploy)
	args=(broker can-i-deploy
		--pacticipant "$PACTICIPANT" --version "$VERSION"
		--to-environment "$ENVIRONMENT")
	echo "pact-broker: can $PACTICIPANT $VERSION be deployed to $ENVIRONMENT? asking $PACT_BROKER_BASE_URL" >&2
	;;
record-deployment)
	args=(broker record-deployment
		--pacticipant "$PACTICIPANT" --version "$VERSION"
		--environment "$ENVIRONMENT")
	echo "pact-broker: recording deployment of $PACTICIPANT $VERSION to $ENVIRONMENT at $PACT_BROKER_BASE_URL" >&2
	;;
esac

exec "$pact_cli" "${args[@]}" "${common[@]}" "$@"
