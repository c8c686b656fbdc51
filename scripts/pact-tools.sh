#!/usr/bin/env bash
# pact-tools.sh installs the Pact FFI library and the Pact CLI into the
# project-local, git-ignored folder .tools/pact/:
#
#   .tools/pact/lib/libpact_ffi.so   pact_ffi 0.4.28, what pact-go v2.4.2 links against
#   .tools/pact/bin/pact             Pact CLI (broker client 0.8.8, verifier, mock server)
#
# Both come from npm packages (`npm pack` only downloads the tarball; nothing is
# installed into node_modules). Versions and checksums are pinned below; a
# tarball or file whose sha256 differs is rejected. Running it again is a fast
# no-op when both files are present with the pinned checksums.
#
# Usage: scripts/pact-tools.sh        (from any directory; no input needed)
set -euo pipefail

# --- pins -------------------------------------------------------------------
# pact-core 18.1.0 (and 17.0.0) ship pact_ffi 0.4.28. Do not move to 19.x/20.x:
# they ship pact_ffi 0.5.x, which pact-go v2.4.2 does not link against.
readonly FFI_NPM_PACKAGE="@pact-foundation/pact-core-linux-x64-glibc"
readonly FFI_NPM_VERSION="18.1.0"
readonly FFI_TGZ_SHA256="b7cd02d81749ab11a8d388410a2c99d822620f525de9fdeaa32830b8cfe82025"
readonly FFI_TGZ_MEMBER="package/prebuilds/linux-x64/libpact_ffi.so"
readonly FFI_SO_SHA256="f2e805e6433afa2cabc3ad3c309786a975075319dcb370c737e0041b4bff9887"

readonly CLI_NPM_PACKAGE="@pact-foundation/pact-cli-linux-x64"
readonly CLI_NPM_VERSION="18.1.2"
readonly CLI_TGZ_SHA256="fdc1bdd7e4e3183bcc5c269c379d5b93a51317095ccba6b98b17914b996bf782"
readonly CLI_TGZ_MEMBER="package/standalone/pact" # a static binary: no sibling files needed
readonly CLI_BIN_SHA256="d69be30fb034789e9cbd8dc170fd2bc794860e8202c6b9144585adc2ecec345d"
# -----------------------------------------------------------------------------

script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
repo_root="$(cd -- "$script_dir/.." && pwd -P)"
tools_dir="$repo_root/.tools/pact"
lib_path="$tools_dir/lib/libpact_ffi.so"
cli_path="$tools_dir/bin/pact"

die() {
	printf 'pact-tools: %s\n' "$*" >&2
	exit 1
}

sha256_of() {
	sha256sum -- "$1" | cut -d' ' -f1
}

# has_file PATH SHA256: true when PATH exists with the expected checksum.
has_file() {
	[[ -f "$1" ]] && [[ "$(sha256_of "$1")" == "$2" ]]
}

print_paths() {
	printf 'libpact_ffi: %s (pact_ffi 0.4.28, npm %s@%s)\n' "$lib_path" "$FFI_NPM_PACKAGE" "$FFI_NPM_VERSION"
	printf 'pact CLI:    %s (npm %s@%s)\n' "$cli_path" "$CLI_NPM_PACKAGE" "$CLI_NPM_VERSION"
}

if has_file "$lib_path" "$FFI_SO_SHA256" && has_file "$cli_path" "$CLI_BIN_SHA256" && [[ -x "$cli_path" ]]; then
	print_paths
	exit 0
fi

[[ "$(uname -s)" == Linux && "$(uname -m)" == x86_64 ]] ||
	die "the pinned packages are for linux x86_64 (glibc); this machine is $(uname -s) $(uname -m)"
for tool in npm tar sha256sum; do
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

fetch "$FFI_NPM_PACKAGE" "$FFI_NPM_VERSION" "$FFI_TGZ_SHA256" "$FFI_TGZ_MEMBER" "$FFI_SO_SHA256" "$lib_path" 0644
fetch "$CLI_NPM_PACKAGE" "$CLI_NPM_VERSION" "$CLI_TGZ_SHA256" "$CLI_TGZ_MEMBER" "$CLI_BIN_SHA256" "$cli_path" 0755

"$cli_path" broker --version >/dev/null 2>&1 || die "$cli_path does not run on this machine"
print_paths
