#!/bin/sh
# Stop brun before its files go: on removal only, not on an upgrade
# (dpkg: "remove"; rpm: $1 = 0, no version left).
set -e
case "$1" in
remove | 0)
	if [ -d /run/systemd/system ]; then
		systemctl disable --now brun.service >/dev/null 2>&1 || true
	fi
	;;
esac
