#!/usr/bin/env bash
# pact-tools.sh installs the Pact FFI library and the Pact CLI into the
# project-local, git-ignored folder .tools/pact/:
#
#   .tools/pact/lib/libpact_ffi.so     pact_ffi 0.4.28 (libpact_ffi.dylib on macOS),
#                                      what pact-go v2.4.2 links against
#   .tools/pact/bin/pact               Pact CLI 18.1.2 (broker client 0.8.8, verifier, mock server)
#
# Platforms: linux-x64 and linux-arm64 (glibc), darwin-x64 and darwin-arm64,
# from `uname -s`/`uname -m`, or PACT_PLATFORM=NAME to choose. Both come from
# npm packages (`npm pack` only downloads the tarball; nothing is installed
# into node_modules). Versions and checksums are pinned below per platform; a
# tarball or file whose sha256 differs is rejected. Running it again is a fast
# no-op when both files are present with the pinned checksums.
#
# The FFI versions differ per platform on purpose: npm has no 18.x of the
# arm64 and macOS packages; their 17.0.0 ships pact_ffi 0.4.28 too (checked
# in each tarball: the library's version string and the pactffi_verify and
# pactffi_create_mock_server symbols). Never 19.x/20.x: pact_ffi 0.5.x, which
# pact-go v2.4.2 does not link against.
#
# Usage: scripts/pact-tools.sh        (from any directory; no input needed)
#        PACT_PLATFORM=darwin-arm64 PACT_TOOLS_DIR=/tmp/pact-mac scripts/pact-tools.sh
set -euo pipefail

script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
repo_root="$(cd -- "$script_dir/.." && pwd -P)"
tools_dir="${PACT_TOOLS_DIR:-$repo_root/.tools/pact}" # PACT_TOOLS_DIR: elsewhere, e.g. to fetch for another platform

die() {
	printf 'pact-tools: %s\n' "$*" >&2
	exit 1
}

# sha256_of FILE: sha256sum on Linux, shasum -a 256 on macOS.
sha256_of() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum -- "$1" | cut -d' ' -f1
	else
		shasum -a 256 -- "$1" | cut -d' ' -f1
	fi
}

# --- pins, per platform -------------------------------------------------------
platform="${PACT_PLATFORM:-}"
if [[ -z "$platform" ]]; then
	case "$(uname -s)/$(uname -m)" in
	Linux/x86_64 | Linux/amd64) platform=linux-x64 ;;
	Linux/aarch64 | Linux/arm64) platform=linux-arm64 ;;
	Darwin/x86_64) platform=darwin-x64 ;;
	Darwin/arm64) platform=darwin-arm64 ;;
	*) die "no pinned Pact FFI/CLI for $(uname -s) $(uname -m): linux-x64, linux-arm64 (glibc), darwin-x64, darwin-arm64 (set PACT_PLATFORM to one of them)" ;;
	esac
fi
case "$platform" in
linux-x64)
	FFI_NPM_PACKAGE="@pact-foundation/pact-core-linux-x64-glibc" FFI_NPM_VERSION="18.1.0"
	FFI_TGZ_SHA256="b7cd02d81749ab11a8d388410a2c99d822620f525de9fdeaa32830b8cfe82025"
	FFI_TGZ_MEMBER="package/prebuilds/linux-x64/libpact_ffi.so"
	FFI_LIB_SHA256="f2e805e6433afa2cabc3ad3c309786a975075319dcb370c737e0041b4bff9887"
	CLI_TGZ_SHA256="fdc1bdd7e4e3183bcc5c269c379d5b93a51317095ccba6b98b17914b996bf782"
	CLI_BIN_SHA256="d69be30fb034789e9cbd8dc170fd2bc794860e8202c6b9144585adc2ecec345d"
	;;
linux-arm64)
	FFI_NPM_PACKAGE="@pact-foundation/pact-core-linux-arm64-glibc" FFI_NPM_VERSION="17.0.0"
	FFI_TGZ_SHA256="83d1894757706f2000699cfbb971c7a1a8dbdfe4cfd1e4160475926ff703abde"
	FFI_TGZ_MEMBER="package/prebuilds/linux-arm64/libpact_ffi.so"
	FFI_LIB_SHA256="4ac9db05a655e75d874f3bee73eb43e69bbf1f9eacbaf93c52c2a5ba74fe0ec1"
	CLI_TGZ_SHA256="d64b8ef99adc42f3fa5d777d7e533cc53e65876bfb47c5317002039f8d22dd52"
	CLI_BIN_SHA256="3871e5a0e71906ebe8c8a317b74d25db57422876988db0e2433573c9558c8513"
	;;
darwin-x64)
	FFI_NPM_PACKAGE="@pact-foundation/pact-core-darwin-x64" FFI_NPM_VERSION="17.0.0"
	FFI_TGZ_SHA256="91df95499071207f02a17f9a42d30a150ef00b34690067fe90a1731b13504942"
	FFI_TGZ_MEMBER="package/prebuilds/darwin-x64/libpact_ffi.dylib"
	FFI_LIB_SHA256="987992b862e00544d7b03caf93ada69599c1689b0be8f6cb795c8d7162d20740"
	CLI_TGZ_SHA256="2c362046a3e1c9787710817274769eefc16c4fdd735f52f8f8df3e726d3c5999"
	CLI_BIN_SHA256="8acd668d7671b27fb25f31d6376191e7b852944557f7641f9349531febd6095b"
	;;
darwin-arm64)
	FFI_NPM_PACKAGE="@pact-foundation/pact-core-darwin-arm64" FFI_NPM_VERSION="17.0.0"
	FFI_TGZ_SHA256="651a20586bd5dfbd78be3755828878f7855258b652d38b33c32f52e405ee2370"
	FFI_TGZ_MEMBER="package/prebuilds/darwin-arm64/libpact_ffi.dylib"
	FFI_LIB_SHA256="4c2a762fb7d930bcc1296751a4c3270cf3d36aab5eb2152692f0e0108bf943a7"
	CLI_TGZ_SHA256="2721b9eec9d28f92c8f2bb40eb30e4e299b5a0561adce4c360b4472369eab8bd"
	CLI_BIN_SHA256="97f2f2d5e8c9fdcf85527706fb55df58d2f769d53c6e878210de4ba2f4c8b34c"
	;;
*) die "PACT_PLATFORM=$platform: want linux-x64, linux-arm64, darwin-x64 or darwin-arm64" ;;
esac
readonly CLI_NPM_PACKAGE="@pact-foundation/pact-cli-$platform" CLI_NPM_VERSION="18.1.2"
readonly CLI_TGZ_MEMBER="package/standalone/pact" # a static binary: no sibling files needed
lib_path="$tools_dir/lib/${FFI_TGZ_MEMBER##*/}"
cli_path="$tools_dir/bin/pact"
# -----------------------------------------------------------------------------

# has_file PATH SHA256: true when PATH exists with the expected checksum.
has_file() {
	[[ -f "$1" ]] && [[ "$(sha256_of "$1")" == "$2" ]]
}

print_paths() {
	printf 'libpact_ffi: %s (pact_ffi 0.4.28, npm %s@%s, %s)\n' "$lib_path" "$FFI_NPM_PACKAGE" "$FFI_NPM_VERSION" "$platform"
	printf 'pact CLI:    %s (npm %s@%s)\n' "$cli_path" "$CLI_NPM_PACKAGE" "$CLI_NPM_VERSION"
}

if has_file "$lib_path" "$FFI_LIB_SHA256" && has_file "$cli_path" "$CLI_BIN_SHA256" && [[ -x "$cli_path" ]]; then
	print_paths
	exit 0
fi

for tool in npm tar; do
	command -v "$tool" >/dev/null 2>&1 || die "'$tool' is required but not on PATH"
done

work_dir="$(mktemp -d "${TMPDIR:-/tmp}/pact-tools.XXXXXX")"
trap 'rm -rf -- "$work_dir"' EXIT

# fetch PACKAGE VERSION TGZ_SHA256 MEMBER FILE_SHA256 DEST MODE
# downloads the npm tarball, checks both checksums and moves MEMBER into DEST
# atomically (a rename within DEST's folder), so an interrupted run never
# leaves a half-written file behind.
fetch() {
	local package="$1" version="$2" tgz_sha="$3" member="$4" file_sha="$5" dest="$6" mode="$7"
	local spec="$package@$version" pack_dir="$work_dir/${package##*/}" tgz got

	if has_file "$dest" "$file_sha"; then
		chmod "$mode" -- "$dest"
		return 0
	fi
	printf 'pact-tools: fetching %s\n' "$spec" >&2
	mkdir -p -- "$pack_dir"
	# --ignore-scripts: only a download; the cwd is the empty temp dir so no
	# project package.json is consulted.
	(cd -- "$pack_dir" && npm pack --silent --ignore-scripts --no-fund --no-audit \
		--pack-destination "$pack_dir" "$spec" >/dev/null) ||
		die "npm pack $spec failed (is the npm registry reachable?)"
	tgz="$(find "$pack_dir" -maxdepth 1 -name '*.tgz' -print -quit)"
	[[ -n "$tgz" ]] || die "npm pack $spec produced no tarball"

	got="$(sha256_of "$tgz")"
	[[ "$got" == "$tgz_sha" ]] ||
		die "checksum mismatch for $spec tarball: got $got, pinned $tgz_sha (not installing; if the pin was updated on purpose, update it in $0)"

	tar -xzf "$tgz" -C "$pack_dir" -- "$member" || die "$spec has no $member"
	got="$(sha256_of "$pack_dir/$member")"
	[[ "$got" == "$file_sha" ]] ||
		die "checksum mismatch for $member in $spec: got $got, pinned $file_sha"

	mkdir -p -- "$(dirname -- "$dest")"
	install -m "$mode" -- "$pack_dir/$member" "$dest.tmp.$$"
	mv -f -- "$dest.tmp.$$" "$dest"
}

fetch "$FFI_NPM_PACKAGE" "$FFI_NPM_VERSION" "$FFI_TGZ_SHA256" "$FFI_TGZ_MEMBER" "$FFI_LIB_SHA256" "$lib_path" 0644
fetch "$CLI_NPM_PACKAGE" "$CLI_NPM_VERSION" "$CLI_TGZ_SHA256" "$CLI_TGZ_MEMBER" "$CLI_BIN_SHA256" "$cli_path" 0755

if [[ -z "${PACT_PLATFORM:-}" ]]; then # only a CLI for this machine can run here
	"$cli_path" broker --version >/dev/null 2>&1 || die "$cli_path does not run on this machine"
fi
print_paths
