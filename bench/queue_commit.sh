#!/bin/sh
# Queue benchmarks (pkg/queue): durable message creation with both commit
# methods at concurrency 1, 10 and 50, the per-file cost of postqueue -p,
# a full scan of 100,000 files, and a durable recipient done-mark.
#
#   bench/queue_commit.sh [benchtime] [count]
#
# QUEUE_BENCH_DIR=/var/spool/x puts the commit benchmark's queue on that
# file system (default: the Go test temp dir, $TMPDIR or /tmp).
# QUEUE_BENCH_FILES=N sets the number of files for Scan/PostqueueList.
# Results and the commands are recorded in bench/RESULTS-queue.md.
set -eu
cd "$(dirname "$0")/.."
benchtime=${1:-2s}
count=${2:-3}
echo "# $(date -u '+%Y-%m-%d %H:%M UTC') $(nproc) CPUs, $(df -T "${QUEUE_BENCH_DIR:-${TMPDIR:-/tmp}}" | awk 'NR==2{print $2" on "$1}')"
sync
go test -run '^$' -bench 'BenchmarkCommit' -benchtime "$benchtime" -count "$count" ./pkg/queue/
go test -run '^$' -bench 'BenchmarkPostqueueList|BenchmarkScan|BenchmarkMarkDone' -benchtime 1x -count 1 ./pkg/queue/ >/dev/null 2>&1 || true
go test -run '^$' -bench 'BenchmarkPostqueueList|BenchmarkScan|BenchmarkMarkDone' -benchtime "$benchtime" -count 1 ./pkg/queue/
