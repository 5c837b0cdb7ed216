#!/usr/bin/env bash
# Local delivery throughput: N messages posted with `sendmail` to one local
# user's Maildir, one at a time and P in parallel, postern beside Debian's
# Postfix in the same run. Run as root from the repository root:
#
#   bench/local-delivery.sh [N] [P]      (defaults 2000 and 2)
#   SYSTEMS=pf bench/local-delivery.sh   (only Postfix; pn for only postern)
#
# Both systems get a private instance under /tmp (own config, queue and
# maillog; no listener on port 25), deliver to the same test user's home
# (Maildir-pn/ and Maildir-pf/ via home_mailbox), and are timed from the
# first sendmail call until the last message is in Maildir/new. CPU is the
# user+system time of the sendmail processes (bash `times`) plus every
# daemon of the instance: the living processes under master and, through
# master's cutime/cstime, the daemons that exited during the run.
set -euo pipefail
N=${1:-2000}
P=${2:-2}
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
T=$(mktemp -d /tmp/local-delivery.XXXXXX)
chmod 755 "$T"
U=pbench
cleanup() {
	bin/postern -c "$T/pn/etc" stop >/dev/null 2>&1 || true
	postfix -c "$T/pf/etc" stop >/dev/null 2>&1 || true
	userdel -r "$U" >/dev/null 2>&1 || true
	rm -rf "$T"
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
alias_maps =
alias_database =
local_recipient_maps =
biff = no"

cat > "$T/pn/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $T/pn/queue
data_directory = $T/pn/data
daemon_directory = $PWD/bin
command_directory = $PWD/bin
maillog_file = $T/pn/maillog
maillog_file_prefixes = $T
home_mailbox = Maildir-pn/
$common
CF
grep -v '^[[:space:]]*#' etc/master.cf | grep -v '^smtp *inet' > "$T/pn/etc/master.cf"

cat > "$T/pf/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $T/pf/queue
data_directory = $T/pf/data
maillog_file = $T/pf/maillog
maillog_file_prefixes = $T
home_mailbox = Maildir-pf/
$common
CF
grep -v '^smtp      inet' /etc/postfix/master.cf > "$T/pf/etc/master.cf"
mkdir -p "$T/pf/queue" "$T/pf/data"; chown postfix "$T/pf/data"

[[ " ${SYSTEMS:-pn pf} " == *" pn "* ]] && bin/postern -c "$T/pn/etc" start
postfix -c "$T/pf/etc" start 2>&1 | grep -v '^postfix/postlog' || true
sleep 2

# One 1 KB message, made once so that only sendmail's own work is timed.
{ printf 'Subject: bench\n\n'; for i in $(seq 1 14); do printf '%070d\n' 0; done; } > "$T/msg"
ticks() { awk '{print $14+$15+$16+$17}' "/proc/$1/stat"; }
tree_ticks() { # master's own and reaped children's time plus its living children
	local m=$1 sum
	sum=$(ticks "$m")
	for c in $(pgrep -P "$m"); do sum=$((sum + $(awk '{print $14+$15}' /proc/$c/stat 2>/dev/null || echo 0))); done
	echo "$sum"
}
count() { find "$HOME_DIR/$1/new" -type f 2>/dev/null | wc -l; }
hz=$(getconf CLK_TCK)

# run NAME SENDMAIL CONFIGFLAG CONFIGDIR MAILDIR PIDFILE PARALLEL
run() {
	local name=$1 sm=$2 cdir=$3 md=$4 pidf=$5 par=$6
	local master before base t0 t1
	master=$(tr -d ' ' < "$pidf")
	base=$(count "$md")
	before=$(tree_ticks "$master")
	t0=$(date +%s.%N)
	local per=$((N / par))
	for j in $(seq 1 "$par"); do
		(
			for i in $(seq 1 "$per"); do
				"$sm" -C "$cdir" -i "$U@localhost" < "$T/msg" || exit 1
			done
		) &
	done
	wait
	local target=$((base + per * par))
	while [ "$(count "$md")" -lt "$target" ]; do sleep 0.05; done
	t1=$(date +%s.%N)
	local after; after=$(tree_ticks "$master")
	echo "$name $par $(echo "$t0 $t1 $((per * par)) $((after - before)) $hz" | awk '{d=$2-$1; printf "%.1f msg/s, %.2f s, daemon CPU %.2f s per 1000 msgs", $3/d, d, ($4/$5)*1000/$3}')"
}

for par in 1 "$P"; do
	for sys in ${SYSTEMS:-pn pf}; do
		if [ $sys = pn ]; then
			set -- postern bin/sendmail "$T/pn/etc" Maildir-pn "$T/pn/queue/pid/master.pid"
		else
			set -- postfix /usr/sbin/sendmail "$T/pf/etc" Maildir-pf "$T/pf/queue/pid/master.pid"
		fi
		TIMEFORMAT='%U %S'
		{ time run "$@" "$par" > "$T/out" 2> "$T/err"; } 2> "$T/time" || { cat "$T/err" >&2; exit 1; }
		read -r u s < "$T/time"
		echo "$(cat "$T/out"), sendmail-side CPU $(echo "$u $s $N" | awk '{printf "%.2f", ($1+$2)*1000/$3}') s per 1000 msgs"
	done
done
