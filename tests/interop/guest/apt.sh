# shellcheck shell=bash
# A private apt state for fetching packages of another suite (bookworm-backports) into a cache
# without touching the host's apt configuration or installing anything. Sourced by kernel.sh and
# qemu.sh; needs bash.
#
# vh_apt_init SUITE DIR: make DIR/apt an apt state that sees only SUITE of the host's Debian
# mirror, update its lists and set the array VH_APT_OPTS for apt-get / apt-cache.
# vh_apt_fetch DEST PKG...: download PKG/SUITE (each a package name) into DEST and unpack each into
# DEST/root with dpkg-deb -x (no maintainer scripts run).
# vh_apt_locked DIR CMD...: run CMD holding DIR/.lock (flock, up to 300 s): tests that start
# together on a fresh machine must not fetch into the same cache at once (one would unpack while
# the other removes the tree). CMD checks again whether the work is done.

vh_apt_locked()
{
	local dir=$1 fd st=0
	shift
	mkdir -p "$dir" && exec {fd}>"$dir/.lock" || return 1
	if ! flock -w 300 "$fd"; then
		echo "apt: waited 300 s for another test's download into $dir" >&2
		exec {fd}>&-
		return 1
	fi
	"$@" || st=$?
	exec {fd}>&-
	return "$st"
}

vh_apt_init()
{
	local suite=$1 aptdir=$2/apt mirror
	mkdir -p "$aptdir/lists/partial" "$aptdir/archives/partial" "$aptdir/parts" || return 1
	# The host's configured mirror (the workplace reaches only Debian's archive through it).
	mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
		head -n 1)
	[ -n "$mirror" ] || mirror=$(sed -n 's/^deb \(\[[^]]*\] \)\?\([^ ]*\) .*/\2/p' \
		/etc/apt/sources.list 2>/dev/null | head -n 1)
	if [ -z "$mirror" ]; then
		echo "apt: no Debian mirror configured in /etc/apt" >&2
		return 1
	fi
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" \
		>"$aptdir/sources.list"
	VH_APT_SUITE=$suite
	VH_APT_OPTS=(-q -o "Dir::Etc::SourceList=$aptdir/sources.list"
		-o "Dir::Etc::SourceParts=$aptdir/parts" -o "Dir::State::Lists=$aptdir/lists"
		-o "Dir::Cache=$aptdir" -o "Debug::NoLocking=1" -o "APT::Get::List-Cleanup=0"
		-o "APT::Sandbox::User=root")
	apt-get "${VH_APT_OPTS[@]}" update >&2
}

vh_apt_fetch()
{
	local dest=$1 p deb
	shift
	mkdir -p "$dest/debs" "$dest/root" || return 1
	for p in "$@"; do
		(cd "$dest/debs" && apt-get "${VH_APT_OPTS[@]}" download "$p/$VH_APT_SUITE") >&2 ||
			return 1
	done
	for deb in "$dest"/debs/*.deb; do
		dpkg-deb -x "$deb" "$dest/root" || return 1
		rm -f "$deb"
	done
}
