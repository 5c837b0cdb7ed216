#!/bin/sh
# Whole-process time of `postconf` (no arguments: every parameter) and
# `postconf -n` on a 300-line main.cf, postern's beside Debian's Postfix.
# Usage: bench/postconf.sh   (from the repository root; needs hyperfine)
set -e
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/postconf" .
cp /etc/postfix/master.cf "$dir/master.cf" 2>/dev/null || cp etc/master.cf "$dir/master.cf"
{
	echo "compatibility_level = 3.6"
	echo "myhostname = mx.example.test"
	echo "mydomain = example.test"
	/usr/sbin/postconf -d 2>/dev/null | grep -v -e '^process_id' -e '^config_directory' -e '^mail_version' \
		-e '^daemon_directory' -e '^data_directory' -e '^queue_directory' -e '^mail_owner' | head -297
} > "$dir/main.cf"
wc -l "$dir/main.cf"
hyperfine -N --warmup 5 --runs 200 \
	-n "postfix postconf" "/usr/sbin/postconf -c $dir" \
	-n "postern postconf" "$dir/postconf -c $dir" \
	-n "postfix postconf -n" "/usr/sbin/postconf -c $dir -n" \
	-n "postern postconf -n" "$dir/postconf -c $dir -n"
