#!/usr/bin/env bash
# pact-broker.sh runs the Pact Broker verbs of the pinned Pact CLI
# (.tools/pact/bin/pact, installed by scripts/pact-tools.sh) with the
# project's conventions: it says what is missing before calling the CLI,
# checks that the broker answers (bounded retries; the message names the
# URL and the cause), and maps the outcome to exit codes a CI system can
# tell apart.
#
# Usage: scripts/pact-broker.sh VERB [extra CLI args...]
#   publish             lint the pacts and check they were produced from this
#                       tree (pactlint -provenance), then publish them
#   can-i-deploy        ask whether PACTICIPANT VERSION can go to ENVIRONMENT
#   record-deployment   record that PACTICIPANT VERSION is in ENVIRONMENT
#   create-environment  create ENVIRONMENT on the broker
#   create-webhook      create, for each provider, the webhook that triggers
#                       its verification when a contract needing it is
#                       published (contract_requiring_verification_published)
#
# Environment (an empty variable counts as unset):
#   PACT_BROKER_BASE_URL      required: the broker's URL (docker-compose.yml's broker
#                             is http://127.0.0.1:9292, or a hosted one)
#   PACT_BROKER_TOKEN         bearer token, or
#   PACT_BROKER_USERNAME and PACT_BROKER_PASSWORD for basic auth (a token wins).
#                             Read from the environment only (the CLI reads them
#                             from its environment, curl from stdin), never put on
#                             a command line.
#   PACT_BROKER_HTTP_RETRIES  retries of a failed request (connection errors, 5xx, 408,
#                             429), default 2 (the CLI's own default, 8, takes ~64 s
#                             to give up on an unreachable broker)
#   PACT_BROKER_TIMEOUT       seconds each reachability check may take, default 10
#   PACT_CLI                  the pact binary (default .tools/pact/bin/pact)
#   PACTLINT                  the pactlint command (default: go run ./contracts/pactlint)
# publish:
#   PACT_DIR                  folder of pact files (default contracts/pacts)
#   PACT_CONSUMER_VERSION     default: git rev-parse HEAD
#   PACT_BRANCH               default: the current git branch
#   PACT_BUILD_URL            the CI build's URL (default: the GitHub Actions run, if any)
# can-i-deploy, record-deployment:
#   PACTICIPANT, VERSION, ENVIRONMENT
#   PACT_RETRY_WHILE_UNKNOWN  can-i-deploy: re-ask this many times while a verification
#                             result is unknown (default 6)
#   PACT_RETRY_INTERVAL       seconds between those (default 10). The CLI re-asks
#                             after a 5xx answer to the matrix query the same way.
# create-environment:
#   ENVIRONMENT; PACT_ENVIRONMENT_DISPLAY_NAME (default ENVIRONMENT),
#   PACT_ENVIRONMENT_PRODUCTION (true or false, default: true for "production")
# create-webhook:
#   PACT_WEBHOOK_URL          required: what the broker calls, e.g. a GitHub
#                             repository_dispatch URL
#                             (https://api.github.com/repos/OWNER/REPO/dispatches)
#   PACT_WEBHOOK_AUTH         the Authorization header value the broker sends with it
#                             (e.g. "Bearer <token>"); stored in the broker. The CLI
#                             takes headers on its command line only.
#   PACT_WEBHOOK_PROVIDERS    default: inventory-service order-service
#
# Exit status:
#   0  done (can-i-deploy: deployable)
#   1  the broker said no (can-i-deploy: not deployable, or still unknown after
#      PACT_RETRY_WHILE_UNKNOWN retries), or refused what was sent
#   2  configuration missing or invalid, Pact CLI not installed
#   3  the broker cannot be reached (DNS, connection, TLS, timeout) after
#      PACT_BROKER_HTTP_RETRIES retries
#   4  the broker answered with an error (authentication, not found, 5xx)
#   5  publish refused the pacts before sending anything: lint problems, or not
#      produced from the current tree
set -euo pipefail

script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
repo_root="$(cd -- "$script_dir/.." && pwd -P)"

verbs="publish|can-i-deploy|record-deployment|create-environment|create-webhook"
usage() {
	echo "usage: scripts/pact-broker.sh $verbs [extra pact CLI args...]" >&2
	exit 2
}

[[ $# -ge 1 ]] || usage
verb="$1"
shift
case "$verb" in
publish | can-i-deploy | record-deployment | create-environment | create-webhook) ;;
*) usage ;;
esac

missing=()
need() { # need NAME HINT: records NAME as missing when it is empty or unset
	[[ -n "${!1:-}" ]] || missing+=("$1 ($2)")
}
number() { # number NAME DEFAULT: NAME must be a whole number
	local v="${!1:-$2}"
	[[ "$v" =~ ^[0-9]+$ ]] || missing+=("$1 (a whole number, got '$v')")
	printf -v "$1" '%s' "$v"
}

need PACT_BROKER_BASE_URL "the Pact Broker's URL, e.g. http://127.0.0.1:9292 from docker compose (make up)"
if [[ -z "${PACT_BROKER_TOKEN:-}" && -n "${PACT_BROKER_USERNAME:-}" ]]; then
	need PACT_BROKER_PASSWORD "basic auth password for PACT_BROKER_USERNAME"
fi
if [[ -z "${PACT_BROKER_TOKEN:-}" && -n "${PACT_BROKER_PASSWORD:-}" ]]; then
	need PACT_BROKER_USERNAME "basic auth user for PACT_BROKER_PASSWORD"
fi
number PACT_BROKER_HTTP_RETRIES 2
number PACT_BROKER_TIMEOUT 10

case "$verb" in
publish)
	PACT_DIR="${PACT_DIR:-$repo_root/contracts/pacts}"
	if [[ -z "${PACT_CONSUMER_VERSION:-}" ]]; then
		PACT_CONSUMER_VERSION="$(git -C "$repo_root" rev-parse HEAD 2>/dev/null || true)"
	fi
	if [[ -z "${PACT_BRANCH:-}" ]]; then
		PACT_BRANCH="$(git -C "$repo_root" branch --show-current 2>/dev/null || true)"
	fi
	if [[ -z "${PACT_BUILD_URL:-}" && -n "${GITHUB_RUN_ID:-}" ]]; then
		PACT_BUILD_URL="${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY:-}/actions/runs/$GITHUB_RUN_ID"
	fi
	need PACT_CONSUMER_VERSION "the consumer version, default git rev-parse HEAD, which failed"
	need PACT_BRANCH "the consumer's branch, default the current git branch (none on a detached HEAD)"
	;;
can-i-deploy | record-deployment)
	need PACTICIPANT "the pacticipant, e.g. inventory-service or order-service"
	need VERSION "the application version, e.g. the git SHA"
	need ENVIRONMENT "the environment name, e.g. production"
	number PACT_RETRY_WHILE_UNKNOWN 6
	number PACT_RETRY_INTERVAL 10
	;;
create-environment)
	need ENVIRONMENT "the environment name, e.g. production"
	PACT_ENVIRONMENT_DISPLAY_NAME="${PACT_ENVIRONMENT_DISPLAY_NAME:-${ENVIRONMENT:-}}"
	if [[ -z "${PACT_ENVIRONMENT_PRODUCTION:-}" ]]; then
		PACT_ENVIRONMENT_PRODUCTION=false
		[[ "${ENVIRONMENT:-}" != production ]] || PACT_ENVIRONMENT_PRODUCTION=true
	fi
	case "$PACT_ENVIRONMENT_PRODUCTION" in
	true | false) ;;
	*) missing+=("PACT_ENVIRONMENT_PRODUCTION (true or false, got '$PACT_ENVIRONMENT_PRODUCTION')") ;;
	esac
	;;
create-webhook)
	need PACT_WEBHOOK_URL "the URL the broker calls to trigger a provider verification, e.g. https://api.github.com/repos/OWNER/REPO/dispatches"
	PACT_WEBHOOK_PROVIDERS="${PACT_WEBHOOK_PROVIDERS:-inventory-service order-service}"
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
base_url="${PACT_BROKER_BASE_URL%/}"
retries="$PACT_BROKER_HTTP_RETRIES"
common=(--broker-base-url "$base_url" --retries "$retries")
unset PACT_BROKER_HTTP_RETRIES

# reachable fails fast, with exit 3 or 4, when the broker does not answer its
# index: curl, with the same bounded retries, says why (refused, no such host,
# TLS, timeout). Credentials go to curl on stdin, not on its command line.
reachable() {
	local cfg=() err status
	if [[ -n "${PACT_BROKER_TOKEN:-}" ]]; then
		cfg+=("header = \"Authorization: Bearer ${PACT_BROKER_TOKEN//\"/\\\"}\"")
	elif [[ -n "${PACT_BROKER_USERNAME:-}" ]]; then
		cfg+=("user = \"${PACT_BROKER_USERNAME//\"/\\\"}:${PACT_BROKER_PASSWORD//\"/\\\"}\"")
	fi
	err="$(mktemp)"
	status="$(printf '%s\n' "${cfg[@]+"${cfg[@]}"}" | curl -sS -o /dev/null -w '%{http_code}' -K - \
		-H 'Accept: application/hal+json' --connect-timeout "$PACT_BROKER_TIMEOUT" --max-time "$PACT_BROKER_TIMEOUT" \
		--retry "$retries" --retry-connrefused --retry-delay 1 "$base_url/" 2>"$err")" || {
		echo "pact-broker $verb: cannot reach the Pact Broker at $base_url: $(sed 's/^curl: //' "$err" | tr '\n' ' ')(after $retries retries)" >&2
		rm -f "$err"
		exit 3
	}
	rm -f "$err"
	case "$status" in
	2??) ;;
	401 | 403)
		echo "pact-broker $verb: the Pact Broker at $base_url answered $status: check PACT_BROKER_TOKEN, or PACT_BROKER_USERNAME and PACT_BROKER_PASSWORD" >&2
		exit 4
		;;
	*)
		echo "pact-broker $verb: the Pact Broker at $base_url answered GET / with $status (after $retries retries on 5xx): is it a Pact Broker, and is it up?" >&2
		exit 4
		;;
	esac
}

# cli runs the Pact CLI; a failure after the broker answered the check is a
# broker error (4), unless it is can-i-deploy's "no" (1).
cli() {
	local out code=0
	out="$(mktemp)"
	"$pact_cli" "$@" "${common[@]}" >"$out" 2>&1 || code=$?
	cat "$out"
	if [[ $code -ne 0 ]]; then
		if [[ "$verb" == can-i-deploy ]] && grep -q 'Computer says no' "$out"; then
			rm -f "$out"
			exit 1
		fi
		if grep -q -i -E 'error sending request|IO Error' "$out" && ! grep -q -E 'failed: [0-9]{3}' "$out"; then
			rm -f "$out"
			echo "pact-broker $verb: lost the Pact Broker at $base_url (exit $code)" >&2
			exit 3
		fi
		rm -f "$out"
		echo "pact-broker $verb: the Pact CLI failed (exit $code) talking to $base_url" >&2
		exit 4
	fi
	rm -f "$out"
}

case "$verb" in
publish)
	if [[ ! -d "$PACT_DIR" ]] || ! compgen -G "$PACT_DIR/*.json" >/dev/null; then
		echo "pact-broker publish: no pact files (*.json) in $PACT_DIR: run make contracts first" >&2
		exit 5
	fi
	if [[ -n "${PACTLINT:-}" ]]; then
		read -r -a pactlint <<<"$PACTLINT"
	else
		pactlint=("${GO:-go}" run ./contracts/pactlint)
	fi
	# Hold the pact folder (shared lock: make contracts installs under an
	# exclusive one) from the lint to the end of the upload.
	exec 9>"$PACT_DIR.lock"
	if command -v flock >/dev/null 2>&1; then
		flock -s 9
	fi
	echo "pact-broker publish: lint and provenance of $PACT_DIR" >&2
	lint_code=0
	(cd "$repo_root" && "${pactlint[@]}" -dir "$PACT_DIR" -provenance -repo "$repo_root") || lint_code=$?
	if [[ $lint_code -ne 0 ]]; then
		echo "pact-broker publish: refused: the pacts in $PACT_DIR failed the lint or were not produced from the current tree (pactlint exit $lint_code); nothing was published" >&2
		exit 5
	fi
	reachable
	args=(broker publish "$PACT_DIR"
		--consumer-app-version "$PACT_CONSUMER_VERSION"
		--branch "$PACT_BRANCH")
	if [[ -n "${PACT_BUILD_URL:-}" ]]; then
		args+=(--build-url "$PACT_BUILD_URL")
	fi
	echo "pact-broker: publishing $PACT_DIR as version $PACT_CONSUMER_VERSION on branch $PACT_BRANCH to $base_url" >&2
	cli "${args[@]}" "$@"
	;;
can-i-deploy)
	reachable
	echo "pact-broker: can $PACTICIPANT $VERSION be deployed to $ENVIRONMENT? asking $base_url (retrying $PACT_RETRY_WHILE_UNKNOWN times every ${PACT_RETRY_INTERVAL}s while results are unknown)" >&2
	cli broker can-i-deploy \
		--pacticipant "$PACTICIPANT" --version "$VERSION" \
		--to-environment "$ENVIRONMENT" \
		--retry-while-unknown "$PACT_RETRY_WHILE_UNKNOWN" --retry-interval "$PACT_RETRY_INTERVAL" "$@"
	;;
record-deployment)
	reachable
	echo "pact-broker: recording deployment of $PACTICIPANT $VERSION to $ENVIRONMENT at $base_url" >&2
	cli broker record-deployment \
		--pacticipant "$PACTICIPANT" --version "$VERSION" \
		--environment "$ENVIRONMENT" "$@"
	;;
create-environment)
	reachable
	args=(broker create-environment --name "$ENVIRONMENT" --display-name "$PACT_ENVIRONMENT_DISPLAY_NAME")
	if [[ "$PACT_ENVIRONMENT_PRODUCTION" == true ]]; then
		args+=(--production)
	fi
	echo "pact-broker: creating environment $ENVIRONMENT (production: $PACT_ENVIRONMENT_PRODUCTION) at $base_url" >&2
	cli "${args[@]}" "$@"
	;;
create-webhook)
	reachable
	# One -H, then every header (the CLI takes the option once, with values).
	headers=(-H 'Content-Type: application/json' 'Accept: application/vnd.github+json')
	if [[ -n "${PACT_WEBHOOK_AUTH:-}" ]]; then
		headers+=("Authorization: $PACT_WEBHOOK_AUTH")
	fi
	# The payload the CI receives (GitHub repository_dispatch shape): the
	# pact to verify and the provider to verify it with, from the broker's
	# webhook template parameters. The CI job runs
	#   make pact-verify-changed PACT_URL=<pact_url> PACT_PROVIDER=<provider>
	# shellcheck disable=SC2016 # ${pactbroker.*} are the broker's, not ours
	payload='{"event_type":"contract_requiring_verification_published","client_payload":{"pact_url":"${pactbroker.pactUrl}","provider":"${pactbroker.providerName}","consumer":"${pactbroker.consumerName}","provider_version":"${pactbroker.providerVersionNumber}","provider_branch":"${pactbroker.providerVersionBranch}","consumer_version":"${pactbroker.consumerVersionNumber}"}}'
	for provider in $PACT_WEBHOOK_PROVIDERS; do
		echo "pact-broker: creating the contract_requiring_verification_published webhook of $provider -> $PACT_WEBHOOK_URL at $base_url" >&2
		cli broker create-webhook "$PACT_WEBHOOK_URL" -X POST -d "$payload" \
			--provider "$provider" --contract-requiring-verification-published \
			--description "verify $provider when a contract needing it is published" "${headers[@]}" "$@"
	done
	;;
esac
