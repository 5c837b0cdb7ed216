#!/bin/sh
# Creates the accounts postern needs, idempotently (run as root; running it
# again changes nothing):
#   group  postdrop  setgid_group: group of the setgid postdrop/postqueue
#                    commands and of queue_directory/maildrop and public/
#   user   postern   mail_owner: owns the queue, runs the unprivileged
#                    daemons; a system account with its own group, no
#                    login shell, home = the queue directory
# Override the names with MAIL_OWNER=... SETGID_GROUP=... QUEUE_DIR=... if
# main.cf sets other values. Afterwards: postern set-permissions (or start).
set -eu

MAIL_OWNER=${MAIL_OWNER:-postern}
SETGID_GROUP=${SETGID_GROUP:-postdrop}
QUEUE_DIR=${QUEUE_DIR:-/var/spool/postern}

if [ "$(id -u)" != 0 ]; then
	echo "create-users.sh: must run as root" >&2
	exit 1
fi

NOLOGIN=/usr/sbin/nologin
[ -x "$NOLOGIN" ] || NOLOGIN=/sbin/nologin
[ -x "$NOLOGIN" ] || NOLOGIN=/bin/false

if getent group "$SETGID_GROUP" >/dev/null; then
	echo "group $SETGID_GROUP exists"
else
	groupadd -r "$SETGID_GROUP"
	echo "created group $SETGID_GROUP"
fi

if getent passwd "$MAIL_OWNER" >/dev/null; then
	echo "user $MAIL_OWNER exists"
else
	# -U: a group of the same name; -M: the queue directory is created by
	# "postern start" with the right modes, not by useradd.
	useradd -r -U -M -d "$QUEUE_DIR" -s "$NOLOGIN" -c "postern mail system" "$MAIL_OWNER"
	echo "created user $MAIL_OWNER"
fi

# mail_owner must not be in setgid_group, nor share its uid with another
# account (DESIGN.md: a dedicated account).
uid=$(id -u "$MAIL_OWNER")
if [ "$uid" = 0 ]; then
	echo "create-users.sh: $MAIL_OWNER has uid 0; mail_owner must be unprivileged" >&2
	exit 1
fi
n=$(getent passwd | awk -F: -v u="$uid" '$3 == u' | wc -l)
if [ "$n" -gt 1 ]; then
	echo "create-users.sh: warning: uid $uid of $MAIL_OWNER is shared with another account" >&2
fi
