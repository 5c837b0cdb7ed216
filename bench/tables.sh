#!/bin/sh
# Build time and lookup speed of 1,000,000-entry tables: postern's postmap
# (hash: and cdb:, both cdb format) beside Debian's postmap (cdb: and
# Berkeley DB hash:), on the same source, in the same run.
# Usage: sh bench/tables.sh   (from the repository root)
set -e
N=${N:-1000000}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
go build -o "$W/postmap" .
printf 'myhostname = bench.example\n' > "$W/main.cf"
export MAIL_CONFIG="$W"
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "user%d@example.test OK %d\n", i, i }' > "$W/src"
t() { s=$(date +%s.%N); "$@"; e=$(date +%s.%N); echo "$e - $s" | bc; }
echo "entries: $N"
echo "build postern cdb:   $(t "$W/postmap" cdb:"$W/src") s"
echo "build postern hash:  $(t "$W/postmap" hash:"$W/src") s"
if [ -x /usr/sbin/postmap ]; then
  mkdir "$W/pf"; cp "$W/src" "$W/pf/src"
  echo "build Postfix cdb:   $(t /usr/sbin/postmap cdb:"$W/pf/src") s"
  echo "build Postfix hash:  $(t /usr/sbin/postmap hash:"$W/pf/src") s"
fi
ls -l "$W"/src.* "$W"/pf/src.* 2>/dev/null | awk '{print "size", $5, $9}'
# 10,000 queries through "postmap -q -" (one process, includes start-up).
awk -v n="$N" 'BEGIN { for (i = 0; i < 10000; i++) printf "user%d@example.test\n", (i*7919)%n }' > "$W/keys"
echo "10000 queries postern cdb:  $(t sh -c "\"$W/postmap\" -q - cdb:\"$W/src\" < \"$W/keys\" >/dev/null") s"
if [ -x /usr/sbin/postmap ]; then
  echo "10000 queries Postfix cdb:  $(t sh -c "/usr/sbin/postmap -q - cdb:\"$W/pf/src\" < \"$W/keys\" >/dev/null") s"
  echo "10000 queries Postfix hash: $(t sh -c "/usr/sbin/postmap -q - hash:\"$W/pf/src\" < \"$W/keys\" >/dev/null") s"
fi
