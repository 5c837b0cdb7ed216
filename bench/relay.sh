#!/usr/bin/env bash
# Relay throughput: smtp-source → smtpd → cleanup → qmgr → smtp (relayhost)
# → smtp-sink, postern beside Debian's Postfix in the same run. Run as root
# from the repository root:
#
#   bench/relay.sh                      (5,000 1 KB and 500 100 KB messages,
#                                        10 and 50 sessions each)
#   RUNS="1024:1000:10" bench/relay.sh  (SIZE:MESSAGES:SESSIONS ...)
#   SYSTEMS=pn bench/relay.sh           (only postern; pf for only Postfix)
#
# Each system gets a private instance under /tmp (own config, queue and
# maillog) with smtpd on 127.0.0.1 (postern 2525, Postfix 2526) and
# relayhost = [127.0.0.1]:PORT of its own smtp-sink, started afresh for every
# run with -M MESSAGES so that it exits once it has taken them all. A run is
# timed from smtp-source's start until smtp-sink exits (end to end). CPU is
# the user+system time of the instance's daemons: the living processes under
# master and, through master's cutime/cstime, the daemons that exited during
# the run (smtp-source and smtp-sink are not counted). Peak RSS is the
# largest sum of VmRSS over master and its children, sampled every 100 ms
# (shared pages count once per process), and the same for PSS.
set -euo pipefail
RUNS=${RUNS:-"1024:5000:10 1024:5000:50 102400:500:10 102400:500:50"}
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
T=$(mktemp -d /tmp/relay-bench.XXXXXX)
chmod 755 "$T"
cleanup() {
	[ -n "${sampler:-}" ] && kill "$sampler" 2>/dev/null || true
	[ -n "${sink:-}" ] && kill "$sink" 2>/dev/null || true
	bin/postern -c "$T/pn/etc" stop >/dev/null 2>&1 || true
	postfix -c "$T/pf/etc" stop >/dev/null 2>&1 || true
	rm -rf "$T"
}
trap cleanup EXIT
make -s build
getent passwd postern >/dev/null || scripts/create-users.sh >/dev/null
mkdir -p "$T/pn/etc" "$T/pf/etc"

common="inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = bench.example.test
mydestination =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
smtp_helo_name = bench.example.test"

cat > "$T/pn/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $T/pn/queue
data_directory = $T/pn/data
daemon_directory = $PWD/bin
command_directory = $PWD/bin
maillog_file = $T/pn/maillog
maillog_file_prefixes = $T
relayhost = [127.0.0.1]:2600
$common
CF
{ echo "127.0.0.1:2525 inet n - n - - smtpd"; grep -v '^[[:space:]]*#' etc/master.cf | grep -v '^smtp *inet'; } > "$T/pn/etc/master.cf"

cat > "$T/pf/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $T/pf/queue
data_directory = $T/pf/data
maillog_file = $T/pf/maillog
maillog_file_prefixes = $T
relayhost = [127.0.0.1]:2601
$common
CF
sed 's/^smtp      inet/127.0.0.1:2526 inet/' /etc/postfix/master.cf > "$T/pf/etc/master.cf"
mkdir -p "$T/pf/queue" "$T/pf/data"; chown postfix "$T/pf/data"

[[ " ${SYSTEMS:-pn pf} " == *" pn "* ]] && bin/postern -c "$T/pn/etc" start
[[ " ${SYSTEMS:-pn pf} " == *" pf "* ]] && { postfix -c "$T/pf/etc" start 2>&1 | grep -v '^postfix/postlog' || true; }
sleep 2

ticks() { awk '{print $14+$15+$16+$17}' "/proc/$1/stat"; }
tree_ticks() { # master's own and reaped children's time plus its living children
	local m=$1 sum
	sum=$(ticks "$m")
	for c in $(pgrep -P "$m"); do sum=$((sum + $(awk '{print $14+$15}' /proc/$c/stat 2>/dev/null || echo 0))); done
	echo "$sum"
}
tree_mem() { # "RSS PSS" sums in kB
	local m=$1 rss=0 pss=0 r s
	for p in "$m" $(pgrep -P "$m"); do
		r=$(awk '/^VmRSS/ {print $2}' /proc/$p/status 2>/dev/null || true)
		s=$(awk '/^Pss:/ {print $2}' /proc/$p/smaps_rollup 2>/dev/null || true)
		rss=$((rss + ${r:-0})); pss=$((pss + ${s:-0}))
	done
	echo "$rss $pss"
}
hz=$(getconf CLK_TCK)

# run NAME PIDFILE SMTPD_PORT SINK_PORT SIZE MESSAGES SESSIONS
run() {
	local name=$1 pidf=$2 port=$3 sinkport=$4 size=$5 n=$6 sess=$7
	local master before after t0 t1
	master=$(tr -d ' ' < "$pidf")
	/usr/sbin/smtp-sink -h sink.example.test -M "$n" -u nobody "127.0.0.1:$sinkport" 256 > /dev/null 2>&1 &
	sink=$!
	sleep 0.3
	echo 0 0 > "$T/peak"
	(
		peak=0 peakp=0
		while :; do
			read -r r p <<< "$(tree_mem "$master")"
			[ "$r" -gt "$peak" ] && peak=$r
			[ "$p" -gt "$peakp" ] && peakp=$p
			echo "$peak $peakp" > "$T/peak"
			sleep 0.1
		done
	) &
	sampler=$!
	before=$(tree_ticks "$master")
	t0=$(date +%s.%N)
	/usr/sbin/smtp-source -s "$sess" -m "$n" -l "$size" -M client.example.test \
		-f sender@client.example.test -t rcpt@relay.example.test "127.0.0.1:$port"
	local t_in; t_in=$(date +%s.%N)
	# smtp-sink exits once it has taken $n messages (it is then a zombie
	# until waited for).
	if ! timeout 600 bash -c 'while [ -e /proc/$0 ] && ! grep -q "^State:.*Z" /proc/$0/status 2>/dev/null; do sleep 0.02; done' "$sink"; then
		echo "$name: smtp-sink did not get all $n messages in 600 s" >&2
		exit 1
	fi
	t1=$(date +%s.%N)
	after=$(tree_ticks "$master")
	wait "$sink" || true
	sink=
	kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true; sampler=
	local sent; sent=$(grep -c 'status=sent' "$(dirname "$(dirname "$(dirname "$pidf")")")/maillog" || true)
	local peak; peak=$(cat "$T/peak")
	echo "$name size=$size msgs=$n sessions=$sess: $(echo "$t0 $t_in $t1 $n $((after - before)) $hz $peak" |
		awk '{d=$3-$1; printf "%.1f msg/s end to end (%.2f s; all accepted after %.2f s), CPU %.2f s per 1000 msgs, peak RSS sum %.1f MB, peak PSS sum %.1f MB", $4/d, d, $2-$1, ($5/$6)*1000/$4, $7/1024, $8/1024}') (maillog: $sent status=sent so far)"
}

for spec in $RUNS; do
	IFS=: read -r size n sess <<< "$spec"
	for sys in ${SYSTEMS:-pn pf}; do
		if [ "$sys" = pn ]; then
			run postern "$T/pn/queue/pid/master.pid" 2525 2600 "$size" "$n" "$sess"
		else
			run postfix "$T/pf/queue/pid/master.pid" 2526 2601 "$size" "$n" "$sess"
		fi
		sleep 1
	done
done
