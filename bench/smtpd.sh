#!/usr/bin/env bash
# Inbound SMTP throughput: Postfix's smtp-source sends N messages of 1 KB
# with 1, 10 and 50 concurrent sessions into postern's smtpd and into
# Debian's Postfix in the same run, each delivering locally to one user's
# Maildir. Run as root from the repository root:
#
#   bench/smtpd.sh [N] [SESSIONS...]     (defaults 5000 and "1 10 50")
#   SYSTEMS=pf bench/smtpd.sh            (only Postfix; pn for only postern)
#   KEEP=1 bench/smtpd.sh                (keep the instances' directory and maillogs)
#
# Both systems get a private instance under /tmp (own config, queue and
# maillog) whose smtpd listens on a loopback port (no chroot, mynetworks
# 127.0.0.0/8). smtp-source opens one connection per message (its
# default), as an MX sees its clients. Measured per run:
#   accept    messages/s over smtp-source's wall time (every message got
#             its 250 ... queued),
#   e2e       messages/s until the last message is in Maildir/new,
#   CPU       seconds per 1,000 messages of the instance's daemons: the
#             living processes under master and, through master's
#             cutime/cstime, the daemons that exited during the run,
#   peak RSS  the largest sum of VmRSS over master and its children,
#             sampled every 0.1 s during the run.
set -euo pipefail
N=${1:-5000}
shift || true
SESSIONS=${*:-1 10 50}
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
command -v smtp-source >/dev/null || PATH=$PATH:/usr/sbin
command -v smtp-source >/dev/null || { echo "smtp-source missing (apt-get install postfix)" >&2; exit 1; }
T=$(mktemp -d /tmp/smtpd-bench.XXXXXX)
chmod 755 "$T"
U=psmtpbench   # not pbench: local-delivery.sh removes that user when it ends
PN_PORT=${PN_PORT:-2625}
PF_PORT=${PF_PORT:-2626}
cleanup() {
	bin/postern -c "$T/pn/etc" stop >/dev/null 2>&1 || true
	postfix -c "$T/pf/etc" stop >/dev/null 2>&1 || true
	userdel -r "$U" >/dev/null 2>&1 || true
	if [ -n "${KEEP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
make -s build
getent passwd postern >/dev/null || scripts/create-users.sh >/dev/null
id "$U" >/dev/null 2>&1 || useradd -m -d "$T/home" -s /bin/sh "$U"
HOME_DIR=$(getent passwd "$U" | cut -d: -f6)
mkdir -p "$T/pn/etc" "$T/pf/etc"

common="inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = bench.example.test
mydestination = localhost, \$myhostname
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
smtpd_client_connection_count_limit = 0
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
biff = no"

cat > "$T/pn/etc/main.cf" <<CF
queue_directory = $T/pn/queue
data_directory = $T/pn/data
daemon_directory = $PWD/bin
command_directory = $PWD/bin
maillog_file = $T/pn/maillog
maillog_file_prefixes = $T
home_mailbox = Maildir-pn/
$common
CF
{
	grep -v '^[[:space:]]*#' etc/master.cf | grep -v '^smtp *inet'
	echo "127.0.0.1:$PN_PORT inet n - n - - smtpd"
} > "$T/pn/etc/master.cf"

cat > "$T/pf/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $T/pf/queue
data_directory = $T/pf/data
maillog_file = $T/pf/maillog
maillog_file_prefixes = $T
home_mailbox = Maildir-pf/
$common
CF
{
	grep -v '^smtp      inet' /etc/postfix/master.cf
	echo "127.0.0.1:$PF_PORT inet n - n - - smtpd"
} > "$T/pf/etc/master.cf"
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
tree_rss() { # KB: master and its children
	local m=$1
	{ echo "$m"; pgrep -P "$m"; } | while read -r p; do
		awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true
	done | awk '{s+=$1} END {print s+0}'
}
count() { { find "$HOME_DIR/$1/new" -type f 2>/dev/null || true; } | wc -l; }
hz=$(getconf CLK_TCK)

# run NAME PORT MAILDIR PIDFILE SESSIONS
run() {
	local name=$1 port=$2 md=$3 pidf=$4 ses=$5
	local master before base t0 t1 t2 after sampler peak
	master=$(tr -d ' ' < "$pidf")
	base=$(count "$md")
	before=$(tree_ticks "$master")
	: > "$T/rss"
	( while :; do tree_rss "$master" >> "$T/rss"; sleep 0.1; done ) &
	sampler=$!
	t0=$(date +%s.%N)
	smtp-source -s "$ses" -m "$N" -l 1024 -f bench@client.example.test \
		-t "$U@bench.example.test" -M client.example.test "127.0.0.1:$port" > "$T/ss.out" 2>&1 ||
		{ kill "$sampler"; cat "$T/ss.out" >&2; return 1; }
	t1=$(date +%s.%N)
	local target=$((base + N)) waited=0
	while [ "$(count "$md")" -lt "$target" ]; do
		sleep 0.05
		waited=$((waited + 1))
		[ $waited -lt 12000 ] || { kill "$sampler"; echo "$name: only $(( $(count "$md") - base )) of $N delivered after 10 minutes" >&2; return 1; }
	done
	t2=$(date +%s.%N)
	kill "$sampler"; wait "$sampler" 2>/dev/null || true
	after=$(tree_ticks "$master")
	peak=$(sort -n "$T/rss" | tail -1)
	echo "$name $ses $t0 $t1 $t2 $N $((after - before)) $hz $peak" | awk '{
		printf "%-8s sessions=%-3d accept %7.1f msg/s (%.2f s)  e2e %7.1f msg/s (%.2f s)  CPU %.2f s/1000 msgs  peak RSS %.1f MB\n",
			$1, $2, $6/($4-$3), $4-$3, $6/($5-$3), $5-$3, ($7/$8)*1000/$6, $9/1024 }'
}

echo "N=$N messages of 1 KB per run; $(nproc) CPUs; postfix $(postconf -d -h mail_version)"
for ses in $SESSIONS; do
	for sys in ${SYSTEMS:-pn pf}; do
		if [ "$sys" = pn ]; then
			run postern "$PN_PORT" Maildir-pn "$T/pn/queue/pid/master.pid" "$ses"
		else
			run postfix "$PF_PORT" Maildir-pf "$T/pf/queue/pid/master.pid" "$ses"
		fi
	done
done
