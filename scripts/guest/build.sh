#!/usr/bin/env bash
# Builds the Typevisor default guest from Debian packages only: a Linux 6.1
# kernel Image (tinyconfig + scripts/guest/kernel.config), a static busybox
# 1.35 initramfs whose /init is scripts/guest/init, with a static dropbear
# SSH server, and an ext4 data disk.
#
# The result lands in ${TYPEVISOR_CACHE:-$HOME/.cache/typevisor}/guest/<hash>/,
# where <hash> covers this script, the files beside it (kernel config
# fragment, init script, dropbear options and crypt) and the versions of the Debian packages that shape the output. A build is
# installed by renaming a finished staging directory, so the cache never holds
# half a guest; a second run with the same recipe returns at once. The last
# line on stdout is the cache directory; progress goes to stderr.
#
# Usage: build.sh                    build (if needed), print the cache dir
#        build.sh --print-cache-dir  print the cache dir for this recipe only
# Environment: TYPEVISOR_CACHE (cache root), TYPEVISOR_BUILD_JOBS (make -j,
# default: nproc), TYPEVISOR_KEEP_WORK=1 (keep the temporary work directory).
set -euo pipefail
export LC_ALL=C TZ=UTC
umask 022

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_ROOT="${TYPEVISOR_CACHE:-$HOME/.cache/typevisor}/guest"
JOBS=${TYPEVISOR_BUILD_JOBS:-$(nproc)}

KERNEL_PACKAGE=linux-source-6.1
KERNEL_TARBALL=/usr/src/linux-source-6.1.tar.xz
BUSYBOX_SOURCE_VERSION='1:1.35.0-4+deb12u1'
DROPBEAR_SOURCE_VERSION='2022.83-1+deb12u3'
CROSS=riscv64-linux-gnu-
# Everything the build runs. Those in OUTPUT_PACKAGES also shape
# the bytes of the result, so their versions are part of the recipe hash.
PACKAGES=(gcc-riscv64-linux-gnu libc6-dev-riscv64-cross binutils-riscv64-linux-gnu
	"$KERNEL_PACKAGE" make gcc libc6-dev flex bison bc libssl-dev libelf-dev
	cpio xz-utils bzip2 gzip e2fsprogs dpkg-dev util-linux)
OUTPUT_PACKAGES=(gcc-riscv64-linux-gnu libc6-dev-riscv64-cross binutils-riscv64-linux-gnu
	"$KERNEL_PACKAGE" gzip e2fsprogs)

# Fixed time stamps and names make the outputs repeatable.
SOURCE_DATE_EPOCH=1767225600 # 2026-01-01T00:00:00Z
export SOURCE_DATE_EPOCH KCONFIG_NOTIMESTAMP=1
export KBUILD_BUILD_TIMESTAMP='Thu Jan  1 00:00:00 UTC 2026'
export KBUILD_BUILD_USER=typevisor KBUILD_BUILD_HOST=typevisor KBUILD_BUILD_VERSION=1
KERNEL_APPEND='console=ttyS0 earlycon=sbi'
READY_MARKER=TYPEVISOR-GUEST-READY
DATA_DISK_SIZE=64M
DATA_DISK_UUID=5479706f-7669-736f-722d-646174613031
DATA_FILE_NAME=hello.txt
DATA_FILE_TEXT='hello from the Typevisor data disk'

say() { printf '[guest] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
duration() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

installed_version() {
	dpkg-query -W -f '${db:Status-Abbrev}${Version}' "$1" 2>/dev/null | sed -n 's/^ii *//p'
}

missing_packages() {
	local p
	for p in "${PACKAGES[@]}"; do
		[[ -n $(installed_version "$p") ]] || printf '%s\n' "$p"
	done
}

APT_UPDATED=
apt_update_once() {
	[[ -n $APT_UPDATED ]] && return
	say "apt-get update"
	apt-get update -q >&2 || die "apt-get update failed"
	APT_UPDATED=1
}

ensure_packages() {
	local missing
	mapfile -t missing < <(missing_packages)
	((${#missing[@]} == 0)) && return
	if ((EUID != 0)); then
		say "missing Debian packages; install them as root with:"
		say "  apt-get install ${missing[*]}"
		exit 1
	fi
	apt_update_once
	say "apt-get install ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >&2 || die "apt-get install failed"
}

# The recipe: everything that decides the bytes of the guest. Its hash names
# the cache directory.
recipe() {
	local f p
	for f in build.sh kernel.config init dropbear-localoptions.h no-crypt.c; do
		printf 'file %s %s\n' "$f" "$(sha256sum <"$SCRIPT_DIR/$f" | cut -d' ' -f1)"
	done
	for p in "${OUTPUT_PACKAGES[@]}"; do
		printf 'package %s %s\n' "$p" "$(installed_version "$p" || true)"
	done
	# The compiler proper, which the gcc-riscv64-linux-gnu metapackage names.
	dpkg-query -W -f '${db:Status-Abbrev}${Package} ${Version}\n' 'gcc-[0-9]*-riscv64-linux-gnu' \
		2>/dev/null | sed -n 's/^ii *\(.*\)/package \1/p'
	printf 'source busybox %s\n' "$BUSYBOX_SOURCE_VERSION"
	printf 'source dropbear %s\n' "$DROPBEAR_SOURCE_VERSION"
}

RECIPE=
GUEST_DIR=
compute_guest_dir() {
	RECIPE=$(recipe)
	GUEST_DIR="$CACHE_ROOT/$(printf '%s\n' "$RECIPE" | sha256sum | cut -c1-16)"
}

guest_is_cached() { [[ -f $GUEST_DIR/manifest.json ]]; }

# --- progress -----------------------------------------------------------------
BUILD_START=$SECONDS
STEP_COUNT=7
STEP_NUMBER=0
STEP_NAME=
STEP_START=0
STEP_TIMES=()
# Seconds each step took in the newest earlier build in this cache (any
# recipe), in step order: the basis of the time estimates.
LAST_STEP_SECONDS=()
read_last_build_times() {
	local newest
	newest=$(ls -t "$CACHE_ROOT"/*/manifest.json 2>/dev/null | head -n 1) || true
	[[ -n $newest ]] || return 0
	mapfile -t LAST_STEP_SECONDS < <(sed -n '/"stepSeconds"/,/}/s/^ *"[^"]*": *\([0-9]*\),\{0,1\}$/\1/p' "$newest")
}
# "about 7m left" from the last build's later steps, or nothing without one.
# (A manifest records every step but the last, which writes it.)
estimate_from_step() {
	local i total=0 recorded=${#LAST_STEP_SECONDS[@]}
	((recorded == STEP_COUNT - 1)) || return 0
	for ((i = $1; i < recorded; i++)); do total=$((total + LAST_STEP_SECONDS[i])); done
	printf ' (about %s left, going by the last build here)' "$(duration "$total")"
}
step() {
	end_step
	STEP_NUMBER=$((STEP_NUMBER + 1))
	STEP_NAME=$1
	STEP_START=$SECONDS
	say "($STEP_NUMBER/$STEP_COUNT) $STEP_NAME$(estimate_from_step $((STEP_NUMBER - 1)))"
}
end_step() {
	[[ -n $STEP_NAME ]] || return 0
	local took=$((SECONDS - STEP_START))
	say "      $STEP_NAME: $(duration $took) (total $(duration $((SECONDS - BUILD_START))))"
	STEP_TIMES+=("$STEP_NAME=$took")
	STEP_NAME=
}

# Runs a long command with its output in a log file, reporting every 30 s;
# on failure shows the end of the log.
CURRENT_JOB=
run_logged() {
	local log=$1 next=$((SECONDS + 30))
	shift
	"$@" >"$log" 2>&1 &
	CURRENT_JOB=$!
	while kill -0 "$CURRENT_JOB" 2>/dev/null; do
		sleep 1
		if ((SECONDS >= next)); then
			say "      ... $(duration $((SECONDS - STEP_START))) $(tail -n 1 "$log" | cut -c1-70)"
			next=$((SECONDS + 30))
		fi
	done
	if ! wait "$CURRENT_JOB"; then
		CURRENT_JOB=
		tail -n 40 "$log" >&2
		die "failed: $* (TYPEVISOR_KEEP_WORK=1 keeps the full log, $log)"
	fi
	CURRENT_JOB=
}

# --- build steps ----------------------------------------------------------------
WORK=
STAGING=

cleanup() {
	local status=$?
	set +e
	if [[ -n $CURRENT_JOB ]]; then
		kill "$CURRENT_JOB" 2>/dev/null
		wait "$CURRENT_JOB" 2>/dev/null
	fi
	[[ -n $STAGING ]] && rm -rf "$STAGING"
	if [[ -n $WORK ]]; then
		if [[ ${TYPEVISOR_KEEP_WORK:-} == 1 ]]; then
			say "work directory kept: $WORK"
		else
			# A kernel tree takes minutes to delete: do it in the background,
			# detached from our output so whoever reads it is not kept waiting.
			nohup rm -rf "$WORK" </dev/null >/dev/null 2>&1 &
		fi
	fi
	return "$status"
}

# make commands as arrays, not functions, so that run_logged's background job
# is make itself and the cleanup can stop it.
KMAKE=()
BMAKE=()

build_kernel() {
	step "kernel: unpack $KERNEL_PACKAGE $(installed_version "$KERNEL_PACKAGE")"
	tar -C "$WORK" -xf "$KERNEL_TARBALL"
	mv "$WORK/linux-source-6.1" "$WORK/linux"
	mkdir "$WORK/kernel"
	KMAKE=(make -C "$WORK/linux" O="$WORK/kernel" ARCH=riscv CROSS_COMPILE="$CROSS")

	step "kernel: configure (tinyconfig + kernel.config) and build Image"
	{
		"${KMAKE[@]}" tinyconfig
		"$WORK/linux/scripts/kconfig/merge_config.sh" -m -O "$WORK/kernel" \
			"$WORK/kernel/.config" "$SCRIPT_DIR/kernel.config"
		"${KMAKE[@]}" olddefconfig
	} >"$WORK/kernel-config.log" 2>&1 || { tail -n 40 "$WORK/kernel-config.log" >&2; die "kernel configuration failed"; }
	check_kernel_config
	run_logged "$WORK/kernel-build.log" "${KMAKE[@]}" -j"$JOBS" Image
	cp "$WORK/kernel/arch/riscv/boot/Image" "$WORK/kernel/vmlinux" "$WORK/kernel/System.map" "$STAGING/"
	cp "$WORK/kernel/.config" "$STAGING/kernel-config"
}

# merge_config.sh only warns when Kconfig drops a requested option; a guest
# that silently lacks a driver is worse than a failed build.
check_kernel_config() {
	local line symbol bad=0
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			grep -qxF "$line" "$WORK/kernel/.config" || { say "kernel config lacks $line"; bad=1; } ;;
		"# CONFIG_"*" is not set")
			symbol=${line#\# }
			symbol=${symbol%% *}
			grep -q "^$symbol=" "$WORK/kernel/.config" && { say "kernel config still sets $symbol"; bad=1; } ;;
		esac
	done <"$SCRIPT_DIR/kernel.config"
	((bad == 0)) || die "kernel.config asks for options Kconfig did not keep (see above)"
}

# `apt-get source` needs a deb-src entry. As root, add one for this
# release's main archive, on the same mirror as its deb entry.
# Usage: ensure_source_listed PACKAGE VERSION VARIABLE
ensure_source_listed() {
	local package=$1 version=$2 variable=$3
	source_listed "$package" "$version" && return
	((EUID == 0)) || die "$package source $version is not in apt's source lists; as root, add a deb-src entry for the Debian archive (main) and run apt-get update"
	local list=/etc/apt/sources.list.d/typevisor-deb-src.sources
	if [[ ! -e $list ]]; then
		local codename mirror signed_by
		codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
		read -r mirror signed_by < <(debian_mirror "$codename") || true
		[[ -n ${mirror:-} ]] || die "found no deb entry for $codename in /etc/apt/sources.list*; add a deb-src entry for it by hand"
		say "adding $list (deb-src $mirror $codename main)"
		{
			printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\n' "$mirror" "$codename"
			[[ -n ${signed_by:-} ]] && printf 'Signed-By: %s\n' "$signed_by"
		} >"$list"
	fi
	APT_UPDATED=
	apt_update_once
	source_listed "$package" "$version" || die "the archive does not offer $package source $version; set $variable in $0 to a version that 'apt-cache showsrc $package' lists"
}

source_listed() {
	apt-cache showsrc --only-source "$1" 2>/dev/null | grep -qxF "Version: $2"
}

# Unpacks Debian's source package PACKAGE=VERSION (with Debian's patches) at
# $WORK/PACKAGE. Usage: fetch_source PACKAGE VERSION VARIABLE
fetch_source() {
	local package=$1 version=$2
	ensure_source_listed "$@"
	mkdir "$WORK/$package-source"
	(cd "$WORK/$package-source" && apt-get source -q "$package=$version") >"$WORK/$package-source.log" 2>&1 ||
		{ tail -n 20 "$WORK/$package-source.log" >&2; die "apt-get source $package failed"; }
	mv "$WORK/$package-source/$package"-[0-9]*/ "$WORK/$package"
}

# Fails the build when a program for the initramfs needs a dynamic loader.
require_static() {
	if "${CROSS}readelf" -l "$1" | grep -q INTERP; then
		die "$(basename "$1") is dynamically linked"
	fi
}

# Prints "URI [signed-by]" of the first deb entry for <codename>, from
# one-line (.list) and deb822 (.sources) files.
debian_mirror() {
	local codename=$1 f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -f $f ]] || continue
		awk -v c="$codename" '{ line = $0; gsub(/\[[^]]*\]/, "", line); split(line, w, /[ \t]+/)
			if (w[1] == "deb" && w[3] == c) { print w[2]; exit } }' "$f"
	done | head -n 1 | grep . && return
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] || continue
		awk -v c="$codename" '
			function flush() { if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " c " ") && uris != "") { split(uris, u, " "); print u[1], signed; found = 1; exit } types = suites = uris = signed = "" }
			/^[ \t]*$/ { flush(); next }
			/^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0 }
			/^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
			/^URIs:/ { sub(/^URIs:[ \t]*/, ""); uris = $0 }
			/^Signed-By:/ { sub(/^Signed-By:[ \t]*/, ""); signed = $0 }
			END { if (!found) flush() }' "$f"
	done | head -n 1
}

build_busybox() {
	step "busybox: fetch source $BUSYBOX_SOURCE_VERSION and build (defconfig + static)"
	fetch_source busybox "$BUSYBOX_SOURCE_VERSION" BUSYBOX_SOURCE_VERSION
	mkdir "$WORK/busybox-build"
	BMAKE=(make -C "$WORK/busybox" O="$WORK/busybox-build" CROSS_COMPILE="$CROSS")
	{
		"${BMAKE[@]}" defconfig
		sed -i 's/^# CONFIG_STATIC is not set$/CONFIG_STATIC=y/' "$WORK/busybox-build/.config"
		"${BMAKE[@]}" oldconfig </dev/null
	} >"$WORK/busybox-config.log" 2>&1 || { tail -n 40 "$WORK/busybox-config.log" >&2; die "busybox configuration failed"; }
	grep -qx 'CONFIG_STATIC=y' "$WORK/busybox-build/.config" || die "busybox config lost CONFIG_STATIC=y"
	run_logged "$WORK/busybox-build.log" "${BMAKE[@]}" -j"$JOBS"
	require_static "$WORK/busybox-build/busybox"
}

# Dropbear with its bundled libtomcrypt/libtommath (Debian links the
# system's; there are none for riscv64), no zlib and no login records (the
# guest keeps none), linked against no-crypt.c's crypt(): Debian's riscv64
# cross glibc has no libcrypt, and root's blank password never needs it.
# One static multi-call binary serves as dropbear and dropbearkey.
build_dropbear() {
	step "dropbear: fetch source $DROPBEAR_SOURCE_VERSION and build (static)"
	fetch_source dropbear "$DROPBEAR_SOURCE_VERSION" DROPBEAR_SOURCE_VERSION
	mkdir "$WORK/no-crypt"
	"${CROSS}gcc" -O2 -c "$SCRIPT_DIR/no-crypt.c" -o "$WORK/no-crypt/no-crypt.o"
	"${CROSS}ar" rcs "$WORK/no-crypt/libcrypt.a" "$WORK/no-crypt/no-crypt.o"
	cp "$SCRIPT_DIR/dropbear-localoptions.h" "$WORK/dropbear/localoptions.h"
	(cd "$WORK/dropbear" && ./configure --host=riscv64-linux-gnu --enable-static --enable-bundled-libtom \
		--disable-zlib --disable-lastlog --disable-utmp --disable-utmpx --disable-wtmp --disable-wtmpx \
		--disable-pututline --disable-pututxline LDFLAGS="-L$WORK/no-crypt") >"$WORK/dropbear-config.log" 2>&1 ||
		{ tail -n 40 "$WORK/dropbear-config.log" >&2; die "dropbear configuration failed"; }
	grep -qx '#define HAVE_CRYPT 1' "$WORK/dropbear/config.h" || die "dropbear's configure did not find crypt()"
	run_logged "$WORK/dropbear-build.log" make -C "$WORK/dropbear" -j"$JOBS" PROGRAMS="dropbear dropbearkey" MULTI=1
	require_static "$WORK/dropbear/dropbearmulti"
}

build_initramfs() {
	step "initramfs: assemble and compress"
	local root=$WORK/rootfs
	"${BMAKE[@]}" install CONFIG_PREFIX="$root" >"$WORK/busybox-install.log" 2>&1 || die "busybox install failed"
	rm -f "$root/linuxrc"
	mkdir -p "$root"/{dev,proc,sys,tmp,run,root,etc,mnt,data}
	chmod 1777 "$root/tmp"
	chmod 700 "$root/root"
	install -m 755 "$SCRIPT_DIR/init" "$root/init"
	"${CROSS}strip" -o "$root/usr/sbin/dropbearmulti" "$WORK/dropbear/dropbearmulti"
	ln -s dropbearmulti "$root/usr/sbin/dropbear"
	ln -s ../sbin/dropbearmulti "$root/usr/bin/dropbearkey"
	# root's password is blank: dropbear -B lets it log in over SSH
	# (docs/guest-images.md), and the console shell needs no login.
	printf 'root::0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\n' >"$root/etc/group"
	# gen_init_cpio stamps files with their own mtime, the rest with -t.
	find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
	cpio_list "$root" >"$WORK/initramfs.list"
	# gen_init_cpio (a kernel host tool) writes device nodes and root-owned
	# files without needing root, with one fixed time stamp.
	"$WORK/kernel/usr/gen_init_cpio" -t "$SOURCE_DATE_EPOCH" "$WORK/initramfs.list" >"$WORK/initramfs.cpio"
	cpio -it --quiet <"$WORK/initramfs.cpio" >"$WORK/initramfs.contents"
	grep -qx init "$WORK/initramfs.contents" || die "initramfs has no /init"
	gzip -n -9 <"$WORK/initramfs.cpio" >"$STAGING/initramfs.cpio.gz"
}

# gen_init_cpio's list format: every entry owned by root, modes as on disk.
cpio_list() {
	local root=$1 path full
	printf 'dir /dev 755 0 0\nnod /dev/console 600 0 0 c 5 1\n'
	(cd "$root" && find . -mindepth 1 | sort) | while IFS= read -r path; do
		path=${path#.}
		full=$root$path
		[[ $path == /dev ]] && continue
		if [[ -L $full ]]; then
			printf 'slink %s %s 777 0 0\n' "$path" "$(readlink "$full")"
		elif [[ -d $full ]]; then
			printf 'dir %s %s 0 0\n' "$path" "$(stat -c %a "$full")"
		else
			printf 'file %s %s %s 0 0\n' "$path" "$full" "$(stat -c %a "$full")"
		fi
	done
}

build_data_disk() {
	step "data disk: ext4 $DATA_DISK_SIZE"
	mkdir "$WORK/data"
	printf '%s\n' "$DATA_FILE_TEXT" >"$WORK/data/$DATA_FILE_NAME"
	touch -d "@$SOURCE_DATE_EPOCH" "$WORK/data/$DATA_FILE_NAME" "$WORK/data"
	E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH mkfs.ext4 -q -F -L typevisor-data -U "$DATA_DISK_UUID" \
		-E "lazy_itable_init=0,lazy_journal_init=0,root_owner=0:0,hash_seed=$DATA_DISK_UUID" \
		-d "$WORK/data" "$STAGING/data.ext4" "$DATA_DISK_SIZE" >"$WORK/mkfs.log" 2>&1 ||
		{ cat "$WORK/mkfs.log" >&2; die "mkfs.ext4 failed"; }
	# mkfs copies the builder's uid; debugfs stamps a real ctime when it
	# changes an inode, so reset that last.
	printf 'sif /%s %s\n' "$DATA_FILE_NAME" "uid 0" "$DATA_FILE_NAME" "gid 0" \
		"$DATA_FILE_NAME" "ctime @$SOURCE_DATE_EPOCH" >"$WORK/owner.debugfs"
	debugfs -w -f "$WORK/owner.debugfs" "$STAGING/data.ext4" >/dev/null 2>&1
	e2fsck -fn "$STAGING/data.ext4" >/dev/null 2>&1 || die "the new data disk fails e2fsck"
	[[ $(debugfs -R "cat /$DATA_FILE_NAME" "$STAGING/data.ext4" 2>/dev/null) == "$DATA_FILE_TEXT" ]] ||
		die "the data disk does not hold /$DATA_FILE_NAME"
}

write_manifest() {
	step "install into the cache"
	local kernel_release busybox_version dropbear_version f first=1 entry
	kernel_release=$("${KMAKE[@]}" -s kernelrelease)
	busybox_version=$(sed -n 's/^# Busybox version: //p' "$WORK/busybox-build/.config")
	dropbear_version=$(sed -n 's/^#define DROPBEAR_VERSION "\(.*\)"$/\1/p' "$WORK/dropbear/default_options.h" "$WORK/dropbear/sysoptions.h" | head -n 1)
	{
		printf '{\n  "format": 1,\n  "recipeHash": "%s",\n' "$(basename "$GUEST_DIR")"
		printf '  "builtAt": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
		printf '  "kernelRelease": "%s",\n  "busyboxVersion": "%s",\n' "$kernel_release" "$busybox_version"
		printf '  "dropbearVersion": "%s",\n' "$dropbear_version"
		printf '  "append": "%s",\n  "readyMarker": "%s",\n' "$KERNEL_APPEND" "$READY_MARKER"
		printf '  "dataDiskFile": { "path": "/%s", "text": "%s\\n" },\n' "$DATA_FILE_NAME" "$DATA_FILE_TEXT"
		printf '  "files": {\n'
		for f in Image initramfs.cpio.gz data.ext4 vmlinux System.map kernel-config; do
			((first)) || printf ',\n'
			first=0
			printf '    "%s": { "bytes": %d, "sha256": "%s" }' "$f" "$(stat -c %s "$STAGING/$f")" \
				"$(sha256sum <"$STAGING/$f" | cut -d' ' -f1)"
		done
		printf '\n  },\n  "stepSeconds": {\n'
		first=1
		for entry in "${STEP_TIMES[@]}"; do
			((first)) || printf ',\n'
			first=0
			printf '    "%s": %d' "${entry%=*}" "${entry##*=}"
		done
		printf '\n  },\n  "recipe": [\n'
		first=1
		while IFS= read -r entry; do
			((first)) || printf ',\n'
			first=0
			printf '    "%s"' "$entry"
		done <<<"$RECIPE"
		printf '\n  ]\n}\n'
	} >"$STAGING/manifest.json"
	printf '%s\n' "$RECIPE" >"$STAGING/recipe.txt"
}

main() {
	local print_only=
	case ${1:-} in
	--print-cache-dir) print_only=1 ;;
	"") ;;
	*) die "usage: $0 [--print-cache-dir]" ;;
	esac

	if [[ -n $print_only ]]; then
		compute_guest_dir
		printf '%s\n' "$GUEST_DIR"
		return
	fi

	ensure_packages
	compute_guest_dir
	if guest_is_cached; then
		printf '%s\n' "$GUEST_DIR"
		return
	fi

	mkdir -p "$CACHE_ROOT"
	exec 9>"$CACHE_ROOT/.lock"
	if ! flock -n 9; then
		say "another build holds $CACHE_ROOT/.lock; waiting"
		flock 9
	fi
	if guest_is_cached; then
		printf '%s\n' "$GUEST_DIR"
		return
	fi
	# Holding the lock, no other build is running: leftovers are stale.
	rm -rf "$CACHE_ROOT"/.staging-*

	trap cleanup EXIT
	trap 'exit 130' INT TERM HUP
	read_last_build_times
	say "building the default guest into $GUEST_DIR (make -j$JOBS)$(estimate_from_step 0)"
	STAGING=$(mktemp -d "$CACHE_ROOT/.staging-XXXXXX")
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/typevisor-guest.XXXXXX")

	build_kernel
	build_busybox
	build_dropbear
	build_initramfs
	build_data_disk
	write_manifest
	end_step
	chmod 755 "$STAGING"
	mv -T "$STAGING" "$GUEST_DIR"
	STAGING=
	say "done in $(duration $((SECONDS - BUILD_START)))"
	printf '%s\n' "$GUEST_DIR"
}

main "$@"
