#!/usr/bin/env bash
# postqueue -p on a large deferred queue: postern beside Debian's Postfix,
# in the same run, each with N deferred messages (one recipient and a delay
# reason each). Run as root from the repository root:
#
#	bench/queue-list.sh [N] [runs]      (default 100000 messages, 3 runs)
#
# postern's queue is written with pkg/queue (bench/queuefill), as cleanup
# and qmgr would leave it. Postfix's queue holds real Postfix queue files:
# one message is sent with Postfix's sendmail to a closed relayhost port and
# deferred by Postfix itself, then its queue file and defer logfile are
# copied N-1 times under names Postfix would give them (microseconds and
# inode number), in their hash subdirectories. Every file's retry time is a
# day ahead so that neither queue manager touches them. Both systems run
# (postern: master and showq; Postfix: its stock Debian master.cf without
# the port 25 listener), and postqueue -p goes through each one's showq.
#
# Measured: wall time and peak RSS of "postqueue -p > /dev/null" (GNU time),
# after one warm-up run (page cache warm), and the peak RSS (VmHWM) of the
# showq process that served the listings.
set -euo pipefail
N=${1:-100000}
RUNS=${2:-3}
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
command -v /usr/sbin/postfix >/dev/null || { echo "Postfix is not installed" >&2; exit 1; }
TIME=/usr/bin/time
[ -x $TIME ] || { echo "install GNU time (package time)" >&2; exit 1; }

T=$(mktemp -d /tmp/queue-list.XXXXXX)
chmod 755 "$T"
cleanup() {
	MAIL_CONFIG="$T/pn/etc" "$T/bin/postern" stop >/dev/null 2>&1 || true
	postfix -c "$T/pf/etc" stop >/dev/null 2>&1 || true
	rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/bin" "$T/pn/etc" "$T/pf/etc" "$T/pf/queue" "$T/pf/data"
go build -o "$T/bin/postern-multi" .
go build -o "$T/bin/queuefill" ./bench/queuefill
for p in $("$T/bin/postern-multi" -list); do ln -sf postern-multi "$T/bin/$p"; done
port=2849
while (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null; do port=$((port + 1)); done

# --- postern
cat > "$T/pn/etc/main.cf" <<CF
queue_directory = $T/pn/queue
data_directory = $T/pn/data
daemon_directory = $T/bin
command_directory = $T/bin
maillog_file = $T/pn/maillog
maillog_file_prefixes = $T
mail_owner = nobody
setgid_group = postdrop
inet_interfaces = loopback-only
inet_protocols = ipv4
CF
cat > "$T/pn/etc/master.cf" <<CF
showq     unix  n       -       n       -       -       showq
CF
echo "filling postern's queue with $N deferred messages..."
"$T/bin/queuefill" -postern "$T/pn/queue" -n "$N" -owner nobody
chown -R nobody "$T/pn/queue"
"$T/bin/postern" -c "$T/pn/etc" start

# --- Postfix (never the system's /etc/postfix or port 25)
cat > "$T/pf/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $T/pf/queue
data_directory = $T/pf/data
maillog_file = $T/pf/maillog
maillog_file_prefixes = $T
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = pf.example.test
mydomain = example.test
mydestination =
relayhost = [127.0.0.1]:$port
default_transport = smtp
CF
grep -v '^smtp .* inet ' /etc/postfix/master.cf > "$T/pf/etc/master.cf"
chown postfix "$T/pf/data"
postfix -c "$T/pf/etc" start 2>&1 | grep -v '^postfix/postlog' || true
printf 'From: sender@example.test\nTo: rcpt@down.example.test\nSubject: benchmark message\n\nThis is a deferred message of the postqueue -p benchmark.\n' |
	MAIL_CONFIG="$T/pf/etc" /usr/sbin/sendmail -f sender@example.test rcpt0@down.example.test
tmpl=
for _ in $(seq 100); do
	tmpl=$(cd "$T/pf/queue" && find deferred -type f | head -1)
	[ -n "$tmpl" ] && [ -f "$T/pf/queue/defer/${tmpl#deferred/}" ] && break
	sleep 0.2
done
[ -n "$tmpl" ] || { echo "Postfix did not defer the message" >&2; cat "$T/pf/maillog" >&2; exit 1; }
echo "filling Postfix's queue with $((N - 1)) copies of $tmpl..."
"$T/bin/queuefill" -postfix "$T/pf/queue" -n $((N - 1)) -template "$tmpl" -owner postfix
sleep 1

measure() { # name, postqueue, MAIL_CONFIG
	local name=$1 pq=$2 cfg=$3
	echo "$name: $(MAIL_CONFIG=$cfg $pq -p | tail -1)"
	MAIL_CONFIG=$cfg $pq -p >/dev/null # warm-up
	for r in $(seq "$RUNS"); do
		MAIL_CONFIG=$cfg $TIME -f "  run $r: %e s wall, %U s user, %S s sys (postqueue), postqueue peak RSS %M kB" $pq -p >/dev/null
	done
}
showq_hwm() { # master PID: VmHWM of its showq children
	for c in $(pgrep -P "$1"); do
		if tr '\0' ' ' </proc/$c/cmdline | grep -q showq; then
			echo "  showq (pid $c) peak RSS $(awk '/^VmHWM/ {print $2}' /proc/$c/status) kB, CPU $(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' /proc/$c/stat) s over $((RUNS + 2)) listings"
		fi
	done
}
echo "== $N deferred messages, $(nproc) CPUs, $(uname -r)"
measure postern "$T/bin/postqueue" "$T/pn/etc"
showq_hwm "$(tr -d ' ' <"$T/pn/queue/pid/master.pid")"
measure "Postfix $(postconf -d -h mail_version)" /usr/sbin/postqueue "$T/pf/etc"
showq_hwm "$(tr -d ' ' <"$T/pf/queue/pid/master.pid")"
echo "queue sizes on disk: postern $(du -sh "$T/pn/queue" | cut -f1), Postfix $(du -sh "$T/pf/queue" | cut -f1)"
