#!/bin/sh
# Installs a built postern (bin/postern-multi) into DESTDIR; run by
# "make install" and "make install-compat", which pass the variables below.
#
#   install.sh install          programs, config (only when absent), unit, docs
#   install.sh install-compat   Debian's sendmail/mailq/newaliases places
#
# Variables (the Makefile sets all of them): MULTI DESTDIR PREFIX SBINDIR
# LIBEXEC CONFDIR SYSTEMDDIR DATADIR DOCDIR SETGID_GROUP COMMANDS FORCE.
#
# Layout (DESIGN.md "One executable, many programs"):
#   $LIBEXEC/postern-multi       the multi-call executable (0755)
#   $LIBEXEC/NAME                a symlink to it for every daemon (master, smtpd ...)
#   $SBINDIR/NAME                a symlink to it for every command (postconf ...)
#   $SBINDIR/postdrop, postqueue separate copies, setgid $SETGID_GROUP (2755):
#                                a set-id bit on the shared inode would apply
#                                to every program name.
#   $CONFDIR/main.cf, master.cf  only when absent; daemon_directory and
#                                command_directory rewritten to match PREFIX
#   $DATADIR/main.cf.dist ...    the shipped defaults, always refreshed
#   $SYSTEMDDIR/postern.service  always refreshed (customise with drop-ins)
#
# An existing file in SBINDIR that is not postern's (e.g. Debian's Postfix
# /usr/sbin/postconf) is never replaced silently: the install stops before
# changing anything unless FORCE=1.
set -eu

: "${MULTI:?}" "${PREFIX:?}" "${SBINDIR:?}" "${LIBEXEC:?}" "${CONFDIR:?}"
: "${SYSTEMDDIR:?}" "${DATADIR:?}" "${DOCDIR:?}" "${SETGID_GROUP:?}" "${COMMANDS:?}"
DESTDIR=${DESTDIR:-}
FORCE=${FORCE:-0}
SRC=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "install: $*" >&2; exit 1; }
note() { echo "install: $*"; }

[ -x "$MULTI" ] || die "$MULTI is missing: run make first"
PROGRAMS=$("$MULTI" -list) || die "$MULTI -list failed"

is_command() {
	case " $COMMANDS " in *" $1 "*) return 0 ;; esac
	return 1
}

# ours FILE: true if FILE is absent, or was installed by postern (a link to
# postern-multi, or a copy of it).
ours() {
	[ -e "$1" ] || [ -L "$1" ] || return 0
	real=$(readlink -f "$1") || return 1
	case $real in *postern-multi) return 0 ;; esac
	grep -q 'postern-multi' "$real" 2>/dev/null
}

check_foreign() {
	foreign=
	for f in "$@"; do
		ours "$f" || foreign="$foreign $f"
	done
	if [ -n "$foreign" ]; then
		[ "$FORCE" = 1 ] && { note "FORCE=1: replacing$foreign"; return 0; }
		die "refusing to replace files that are not postern's:$foreign
  (another MTA, e.g. Debian's postfix, owns them). Install elsewhere with
  PREFIX=/usr/local, or replace them with FORCE=1."
	fi
}

# setgid_copy NAME: a separate copy of the executable, setgid SETGID_GROUP.
setgid_copy() {
	dst=$DESTDIR$SBINDIR/$1
	rm -f "$dst"
	if getent group "$SETGID_GROUP" >/dev/null 2>&1 &&
		install -m 2755 -g "$SETGID_GROUP" "$MULTI" "$dst" 2>/dev/null &&
		[ -g "$dst" ]; then
		return 0
	fi
	install -m 0755 "$MULTI" "$dst"
	note "warning: $SBINDIR/$1 installed WITHOUT setgid: group '$SETGID_GROUP' is missing or cannot be set"
	note "  (run scripts/create-users.sh as root, then: postern set-permissions, or"
	note "   chgrp $SETGID_GROUP $SBINDIR/$1 && chmod 2755 $SBINDIR/$1)"
}

# conf_file NAME: install etc/NAME into CONFDIR unless it exists there.
conf_file() {
	dst=$DESTDIR$CONFDIR/$1
	if [ -e "$dst" ]; then
		note "keeping existing $CONFDIR/$1 (new default: $DATADIR/$1.dist)"
		return 0
	fi
	sed -e "s|^command_directory = .*|command_directory = $SBINDIR|" \
		-e "s|^daemon_directory = .*|daemon_directory = $LIBEXEC|" \
		"$SRC/etc/$1" >"$dst.tmp.$$"
	chmod 0644 "$dst.tmp.$$"
	mv -f "$dst.tmp.$$" "$dst"
	note "installed $CONFDIR/$1"
}

do_install() {
	cmds=
	for p in $PROGRAMS; do
		is_command "$p" && cmds="$cmds $DESTDIR$SBINDIR/$p"
	done
	# shellcheck disable=SC2086
	check_foreign $cmds

	install -d -m 0755 "$DESTDIR$SBINDIR" "$DESTDIR$LIBEXEC" "$DESTDIR$CONFDIR" \
		"$DESTDIR$SYSTEMDDIR" "$DESTDIR$DATADIR" "$DESTDIR$DOCDIR"

	# Write the executable under a temporary name and rename it, so that
	# running daemons keep their (old) inode during an upgrade.
	install -m 0755 "$MULTI" "$DESTDIR$LIBEXEC/.postern-multi.new"
	mv -f "$DESTDIR$LIBEXEC/.postern-multi.new" "$DESTDIR$LIBEXEC/postern-multi"

	missing=
	for p in $COMMANDS; do
		echo "$PROGRAMS" | grep -qx "$p" || missing="$missing $p"
	done
	for p in $PROGRAMS; do
		if is_command "$p"; then
			case $p in
			postdrop | postqueue) setgid_copy "$p" ;;
			*)
				rm -f "$DESTDIR$SBINDIR/$p"
				ln -sr "$DESTDIR$LIBEXEC/postern-multi" "$DESTDIR$SBINDIR/$p"
				;;
			esac
		else
			ln -sfn postern-multi "$DESTDIR$LIBEXEC/$p"
		fi
	done
	[ -z "$missing" ] || note "not built yet, not installed:$missing"

	for f in main.cf master.cf; do
		install -m 0644 "$SRC/etc/$f" "$DESTDIR$DATADIR/$f.dist"
		conf_file "$f"
	done

	sed -e "s|/usr/sbin/postern|$SBINDIR/postern|g" \
		-e "s|/etc/postern/|$CONFDIR/|g" \
		-e "s|/usr/share/doc/postern/|$DOCDIR/|g" \
		"$SRC/etc/postern.service" >"$DESTDIR$SYSTEMDDIR/postern.service"
	chmod 0644 "$DESTDIR$SYSTEMDDIR/postern.service"
	install -m 0644 "$SRC/README.md" "$DESTDIR$DOCDIR/README.md"
	install -m 0755 "$SRC/scripts/create-users.sh" "$DESTDIR$DATADIR/create-users.sh"

	note "done. Next (as root): $DATADIR/create-users.sh; $SBINDIR/postern check;"
	note "  systemctl daemon-reload && systemctl enable --now postern"
}

# Debian's places for the sendmail-compatible commands, as symlinks to the
# ones in SBINDIR (what the postfix package ships and what MUAs call).
do_install_compat() {
	set -- /usr/sbin/sendmail:sendmail /usr/lib/sendmail:sendmail \
		/usr/bin/mailq:mailq /usr/bin/newaliases:newaliases
	todo=
	for pair in "$@"; do
		link=${pair%%:*} prog=${pair#*:}
		[ "$link" = "$SBINDIR/$prog" ] && continue
		[ -e "$DESTDIR$SBINDIR/$prog" ] || die "$SBINDIR/$prog is not installed (make install first, or $prog is not built yet)"
		todo="$todo $pair"
	done
	files=
	for pair in $todo; do files="$files $DESTDIR${pair%%:*}"; done
	# shellcheck disable=SC2086
	check_foreign $files
	for pair in $todo; do
		link=${pair%%:*} prog=${pair#*:}
		install -d "$DESTDIR$(dirname "$link")"
		rm -f "$DESTDIR$link"
		ln -sr "$DESTDIR$SBINDIR/$prog" "$DESTDIR$link"
		note "$link -> $SBINDIR/$prog"
	done
}

case ${1:-install} in
install) do_install ;;
install-compat) do_install_compat ;;
*) die "usage: install.sh install|install-compat" ;;
esac
