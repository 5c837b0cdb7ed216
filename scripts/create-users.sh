#!/bin/sh
# Creates the accounts postern needs, idempotently (run as root; running it
# again changes nothing):
#   group  postdrop  setgid_group: group of the setgid postdrop/postqueue
#                    commands and of queue_directory/maildrop and public/
#   user   postern   mail_owner: owns the queue, runs the unprivileged
#                    daemons; a system account with its own group, no
#                    login shell, home = the queue directory
# Override the names with MAIL_OWNER=... SETGID_GROUP=... QUEUE_DIR=... if
# main.cf sets other values. ROOT=DIR works on DIR/etc/passwd, group, shadow
# and gshadow instead of the system's (useradd --prefix; for image builds and
# tests). Afterwards: postern set-permissions (or start).
set -eu

MAIL_OWNER=${MAIL_OWNER:-postern}
SETGID_GROUP=${SETGID_GROUP:-postdrop}
QUEUE_DIR=${QUEUE_DIR:-/var/spool/postern}
ROOT=${ROOT:-}

# db DATABASE NAME: the entry of NAME in passwd or group.
db() {
	if [ -n "$ROOT" ]; then
		grep "^$2:" "$ROOT/etc/$1"
	else
		getent "$1" "$2"
	fi
}
PREFIX_OPT=
[ -z "$ROOT" ] || PREFIX_OPT="--prefix $ROOT"

if [ "$(id -u)" != 0 ]; then
	echo "create-users.sh: must run as root" >&2
	exit 1
fi

NOLOGIN=/usr/sbin/nologin
[ -x "$NOLOGIN" ] || NOLOGIN=/sbin/nologin
[ -x "$NOLOGIN" ] || NOLOGIN=/bin/false

if db group "$SETGID_GROUP" >/dev/null; then
	echo "group $SETGID_GROUP exists"
else
	# shellcheck disable=SC2086
	groupadd $PREFIX_OPT -r "$SETGID_GROUP"
	echo "created group $SETGID_GROUP"
fi

if db passwd "$MAIL_OWNER" >/dev/null; then
	echo "user $MAIL_OWNER exists"
else
	# -U: a group of the same name; -M: the queue directory is created by
	# "postern start" with the right modes, not by useradd.
	# shellcheck disable=SC2086
	useradd $PREFIX_OPT -r -U -M -d "$QUEUE_DIR" -s "$NOLOGIN" -c "postern mail system" "$MAIL_OWNER"
	echo "created user $MAIL_OWNER"
fi

# mail_owner must not be in setgid_group, nor share its uid with another
# account (DESIGN.md: a dedicated account).
uid=$(db passwd "$MAIL_OWNER" | cut -d: -f3)
if [ "$uid" = 0 ]; then
	echo "create-users.sh: $MAIL_OWNER has uid 0; mail_owner must be unprivileged" >&2
	exit 1
fi
if [ -n "$ROOT" ]; then all=$(cat "$ROOT/etc/passwd"); else all=$(getent passwd); fi
n=$(printf '%s\n' "$all" | awk -F: -v u="$uid" '$3 == u' | wc -l)
if [ "$n" -gt 1 ]; then
	echo "create-users.sh: warning: uid $uid of $MAIL_OWNER is shared with another account" >&2
fi
