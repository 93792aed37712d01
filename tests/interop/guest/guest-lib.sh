# shellcheck shell=sh
# Helpers for guest scripts (busybox sh). Installed as /vh/lib.sh: `. /vh/lib.sh` in a script.

# vh_log MSG...: one line on the console, prefixed so it stands out in the console log.
vh_log()
{
	echo "guest: $*"
}

# vh_die MSG...: report and exit 1 (the init turns that into the FAIL marker).
vh_die()
{
	echo "guest: FAIL: $*" >&2
	exit 1
}

# vh_run CMD...: run a command, die with its name and status if it fails.
vh_run()
{
	"$@" || vh_die "$* (exit $?)"
}

# vh_wait_path PATH [TENTHS]: wait until PATH exists (default 10 s).
vh_wait_path()
{
	_n=0
	while [ ! -e "$1" ] && [ "$_n" -lt "${2:-100}" ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
	[ -e "$1" ] || vh_die "$1 did not appear"
}

# vh_feature_bit DEV BIT: print the negotiated virtio feature bit (0/1) of /sys/block/DEV's device.
vh_feature_bit()
{
	_f=$(cat "/sys/block/$1/device/features") || vh_die "no features for $1"
	echo "$_f" | cut -c "$(($2 + 1))"
}
