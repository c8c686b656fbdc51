#!/usr/bin/env bash
# pact-netns.sh runs a command in a private network namespace whose only
# interface is loopback, when this machine allows one. contracts/pact.mk
# runs the Pact provider test binaries through it (`go test -exec`):
# pact-go v2.4.2's verifier proxy listens on every interface (":<port>",
# pact-go proxy/http.go), and inside the namespace "every interface" is
# 127.0.0.1 and ::1 only. Everything else the tests start binds 127.0.0.1.
#
# Usage: scripts/pact-netns.sh COMMAND [ARGS...]
#
# Environment:
#   PACT_NETNS  auto (default): use a namespace when `unshare --net
#               --map-root-user` and `ip` work, else run COMMAND directly
#               with a warning; on: fail when no namespace can be made;
#               off: always run COMMAND directly.
#
# Not for verification against a Pact Broker: the namespace has no route
# out (make pact-verify-broker runs without it).
set -euo pipefail

[[ $# -ge 1 ]] || {
	echo "usage: scripts/pact-netns.sh COMMAND [ARGS...]" >&2
	exit 2
}

mode="${PACT_NETNS:-auto}"
case "$mode" in
auto | on | off) ;;
*)
	echo "pact-netns: PACT_NETNS=$mode: want auto, on or off" >&2
	exit 2
	;;
esac

if [[ "$mode" != off ]] && command -v unshare >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 &&
	unshare --net --map-root-user true 2>/dev/null; then
	# shellcheck disable=SC2016 # $@ is expanded by the inner shell
	exec unshare --net --map-root-user -- sh -c 'ip link set lo up && exec "$@"' pact-netns "$@"
fi

if [[ "$mode" == on ]]; then
	echo "pact-netns: cannot make a network namespace here (needs unshare, ip and unprivileged user namespaces); set PACT_NETNS=auto or off" >&2
	exit 1
fi
if [[ "$mode" == auto ]]; then
	echo "pact-netns: no private network namespace on this machine; running directly (pact-go's verifier proxy listens on all interfaces while the test runs)" >&2
fi
exec "$@"
