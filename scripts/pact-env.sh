# shellcheck shell=bash
# pact-env.sh sets up a shell for pact-go tests and the Pact CLI, using the
# files that scripts/pact-tools.sh installs into .tools/pact/.
#
#   . scripts/pact-env.sh
#   go test -tags pact -count=1 ./contracts/consumer    # consumer phase first: writes contracts/pacts
#   go test -tags pact -count=1 ./contracts/provider    # then provider verification (make contracts does both, in order)
#
# Source it (bash or zsh); do not execute it. It links cgo against
# .tools/pact/lib with an rpath (without the rpath the test binary fails at
# start with "cannot open shared object file"; on macOS the library is
# libpact_ffi.dylib and DYLD_FALLBACK_LIBRARY_PATH names its folder), quiets the FFI, turns off
# Pact's usage tracking and puts the Pact CLI first on PATH. contracts/pact.mk
# sets the same variables for make.

if [ -n "${BASH_VERSION:-}" ]; then
	_pact_env_src="${BASH_SOURCE[0]}"
elif [ -n "${ZSH_VERSION:-}" ]; then
	# shellcheck disable=SC2296 # zsh: the path of the file being sourced
	_pact_env_src="${(%):-%x}"
else
	_pact_env_src="$0"
fi
_pact_env_root="$(cd -- "$(dirname -- "$_pact_env_src")/.." && pwd -P)"

export PACT_LIB_DIR="$_pact_env_root/.tools/pact/lib"
export PACT_BIN_DIR="$_pact_env_root/.tools/pact/bin"
# The library's file: libpact_ffi.so on Linux, libpact_ffi.dylib on macOS.
if [ "$(uname -s)" = Darwin ]; then
	export PACT_LIB="$PACT_LIB_DIR/libpact_ffi.dylib"
	# The npm dylib's install name is a bare file name, which the rpath does
	# not resolve: dyld also looks in DYLD_FALLBACK_LIBRARY_PATH.
	case ":${DYLD_FALLBACK_LIBRARY_PATH:-}:" in
	*":$PACT_LIB_DIR:"*) ;;
	*) export DYLD_FALLBACK_LIBRARY_PATH="$PACT_LIB_DIR${DYLD_FALLBACK_LIBRARY_PATH:+:$DYLD_FALLBACK_LIBRARY_PATH}" ;;
	esac
else
	export PACT_LIB="$PACT_LIB_DIR/libpact_ffi.so"
fi
export CGO_ENABLED=1
export CGO_LDFLAGS="-L$PACT_LIB_DIR -Wl,-rpath,$PACT_LIB_DIR"
export PACT_LOG_LEVEL="${PACT_LOG_LEVEL:-WARN}"
export PACT_DO_NOT_TRACK=true
case ":$PATH:" in
*":$PACT_BIN_DIR:"*) ;;
*) export PATH="$PACT_BIN_DIR:$PATH" ;;
esac

if [ ! -f "$PACT_LIB" ]; then
	echo "${PACT_LIB##*/} not found in .tools/pact/lib: run \`make tools\` (or \`pact-go install\` if you have GitHub access)" >&2
fi
unset _pact_env_src _pact_env_root
