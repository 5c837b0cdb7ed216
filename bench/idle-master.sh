#!/usr/bin/env bash
# Idle footprint of postern's master and daemons beside an idle Postfix
# (Debian's package), measured in the same run. Run as root from the
# repository root: bench/idle-master.sh [seconds]   (default 60)
#
# postern: master plus one test daemon (internal/testdaemon, built on
# pkg/service) for each of the 16 services of a typical master.cf (the real
# daemons do not exist yet). Postfix: its stock Debian master.cf in a private
# configuration directory, smtpd on 127.0.0.1:2526; an idle Postfix runs only
# master, pickup and qmgr (it starts the other daemons on demand).
set -euo pipefail
secs=${1:-60}
T=$(mktemp -d /tmp/idle-master.XXXXXX)
chmod 755 "$T"
trap 'bin/postern -c "$T/pn/etc" stop >/dev/null 2>&1 || true; postfix -c "$T/pf/etc" stop >/dev/null 2>&1 || true; rm -rf "$T"' EXIT
mkdir -p "$T/bin" "$T/pn/etc" "$T/pf/etc"
go build -o "$T/bin/postern-multi" . && go build -o "$T/bin/testdaemon" ./internal/testdaemon
for p in master postern; do ln -s postern-multi "$T/bin/$p"; done
mkdir -p bin; [ -x bin/postern ] || make -s build

# --- postern instance
cat > "$T/pn/etc/main.cf" <<CF
queue_directory = $T/pn/queue
data_directory = $T/pn/data
daemon_directory = $T/bin
maillog_file = $T/pn/maillog
maillog_file_prefixes = $T
mail_owner = nobody
setgid_group = postdrop
inet_interfaces = loopback-only
inet_protocols = ipv4
CF
cat > "$T/pn/etc/master.cf" <<CF
127.0.0.1:2527 inet n - y - - testdaemon
pickup    unix  n       -       y       60      1       testdaemon
cleanup   unix  n       -       y       -       0       testdaemon
qmgr      unix  n       -       n       300     1       testdaemon
rewrite   unix  -       -       y       -       -       testdaemon
bounce    unix  -       -       y       -       0       testdaemon
defer     unix  -       -       y       -       0       testdaemon
trace     unix  -       -       y       -       0       testdaemon
flush     unix  n       -       y       1000?   0       testdaemon
smtp      unix  -       -       y       -       -       testdaemon
relay     unix  -       -       y       -       -       testdaemon
showq     unix  n       -       y       -       -       testdaemon
error     unix  -       -       y       -       -       testdaemon
retry     unix  -       -       y       -       -       testdaemon
discard   unix  -       -       y       -       -       testdaemon
local     unix  -       n       n       -       -       testdaemon
CF

# --- Postfix instance (never the system's /etc/postfix or port 25)
cat > "$T/pf/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $T/pf/queue
data_directory = $T/pf/data
maillog_file = $T/pf/maillog
maillog_file_prefixes = $T
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = bench.example.test
mydestination =
CF
sed 's/^smtp      inet/127.0.0.1:2526 inet/' /etc/postfix/master.cf > "$T/pf/etc/master.cf"
mkdir -p "$T/pf/queue" "$T/pf/data"; chown postfix "$T/pf/data"

bin/postern -c "$T/pn/etc" start
postfix -c "$T/pf/etc" start 2>&1 | grep -v '^postfix/postlog' || true
sleep 5

pn_master=$(tr -d ' ' < "$T/pn/queue/pid/master.pid")
pf_master=$(tr -d ' ' < "$T/pf/queue/pid/master.pid")
tree() { echo "$1"; for c in $(pgrep -P "$1"); do echo "$c"; done; }
mem() { # RSS and PSS sums in kB over a process tree
	local rss=0 pss=0 n=0
	for p in $(tree "$1"); do
		r=$(awk '/^VmRSS/ {print $2}' /proc/$p/status); s=$(awk '/^Pss:/ {print $2}' /proc/$p/smaps_rollup)
		rss=$((rss + r)); pss=$((pss + s)); n=$((n + 1))
	done
	echo "$n processes, RSS sum $((rss / 1024)) MB ($rss kB), PSS sum $((pss / 1024)) MB ($pss kB)"
}
ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
echo "postern: $(mem "$pn_master")"
echo "  master alone: $(awk '/^VmRSS/ {print $2}' /proc/$pn_master/status) kB RSS"
echo "postfix: $(mem "$pf_master")"
echo "  master alone: $(awk '/^VmRSS/ {print $2}' /proc/$pf_master/status) kB RSS"
a=$(ticks "$pn_master"); b=$(ticks "$pf_master")
sleep "$secs"
hz=$(getconf CLK_TCK)
echo "idle CPU over ${secs}s: postern master $(( ($(ticks "$pn_master") - a) * 1000 / hz )) ms, postfix master $(( ($(ticks "$pf_master") - b) * 1000 / hz )) ms"
echo "postern after ${secs}s: $(mem "$pn_master")"
