package queue

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchContent is a typical small message (about 2 KB).
var benchContent = bytes.Repeat([]byte("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do.\n"), 32)

func writeBenchMessage(q *Queue, nrcpt int) (*Writer, error) {
	w, err := q.Create(Incoming)
	if err != nil {
		return nil, err
	}
	w.SetEnvelope(&Envelope{Sender: "sender@example.org", RewriteContext: "remote", ClientName: "client.example.com", ClientAddr: "192.0.2.1", HeloName: "client.example.com", Protocol: "ESMTP"})
	for i := 0; i < nrcpt; i++ {
		w.AddRecipient(Recipient{Address: "rcpt" + strconv.Itoa(i) + "@example.net", ORCPT: "rfc822;rcpt" + strconv.Itoa(i) + "@example.net"})
	}
	w.Write(benchContent)
	return w, w.Commit()
}

// BenchmarkCommit measures durable message creation: Create, envelope,
// 2 recipients, 2 KB content, Commit, with c concurrent writers. The
// msgs/s metric is the throughput of all writers together.
func BenchmarkCommit(b *testing.B) {
	type variant struct {
		name      string
		m         CommitMethod
		noDirSync bool
	}
	for _, v := range []variant{{"execbit", MethodExecBit, false}, {"execbit-nodirsync", MethodExecBit, true}, {"rename", MethodRename, false}} {
		for _, c := range []int{1, 10, 50} {
			b.Run(fmt.Sprintf("%s/c=%d", v.name, c), func(b *testing.B) {
				dir := os.Getenv("QUEUE_BENCH_DIR") // default: the test's temp dir
				if dir == "" {
					dir = b.TempDir()
				} else {
					d, err := os.MkdirTemp(dir, "qbench")
					if err != nil {
						b.Fatal(err)
					}
					dir = d
					defer os.RemoveAll(d)
				}
				q := New(dir)
				q.Method, q.NoDirSync = v.m, v.noDirSync
				q.MakeDirs(0700)
				fs0 := dirFsyncs.Load()
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				start := time.Now()
				for g := 0; g < c; g++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for next.Add(1) <= int64(b.N) {
							if _, err := writeBenchMessage(q, 2); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				el := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
				b.ReportMetric(float64(dirFsyncs.Load()-fs0)/float64(b.N), "dirfsyncs/msg")
			})
		}
	}
}

// makeQueueFiles writes n small queue files into deferred/ of a fresh
// queue, quickly (no fsync), for the reading benchmarks.
func makeQueueFiles(b *testing.B, n, nrcpt int) *Queue {
	q := New(b.TempDir())
	q.Method, q.NoDirSync = MethodExecBit, true
	q.MakeDirs(0700)
	for i := 0; i < n; i++ {
		w, err := q.Create(Incoming)
		if err != nil {
			b.Fatal(err)
		}
		w.SetEnvelope(&Envelope{Sender: "sender@example.org"})
		for r := 0; r < nrcpt; r++ {
			w.AddRecipient(Recipient{Address: "rcpt" + strconv.Itoa(r) + "@example.net"})
		}
		w.Write(benchContent)
		// Skip Commit's fsync: finish the file by hand.
		w.startExtracted()
		w.hdr.envLen, w.hdr.contentLen, w.hdr.extLen = w.cstart-headerSize, w.xstart-w.cstart, w.off-w.xstart
		var hb [headerSize]byte
		w.hdr.marshal(hb[:])
		var tb [trailerSize]byte
		marshalTrailer(tb[:], w.crc, w.nrec, hb[:])
		w.write(tb[:])
		w.bw.Flush()
		w.f.WriteAt(hb[:], 0)
		w.f.Chmod(0700)
		w.f.Close()
		if _, err := q.Move(w.ID(), Incoming, Deferred); err != nil {
			b.Fatal(err)
		}
	}
	return q
}

// BenchmarkPostqueueList is the work of postqueue -p per message: Scan,
// Open, Envelope, Recipients (with reasons), Close. ns/op is per file.
func BenchmarkPostqueueList(b *testing.B) {
	n := 10000
	if s := os.Getenv("QUEUE_BENCH_FILES"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	q := makeQueueFiles(b, n, 2)
	b.ResetTimer()
	done := 0
	for done < b.N {
		err := q.Scan(Deferred, func(id, path string) error {
			if done >= b.N {
				return io.EOF
			}
			done++
			qf, err := Open(path)
			if err != nil {
				return err
			}
			defer qf.Close()
			e, err := qf.Envelope()
			if err != nil {
				return err
			}
			_ = e.Sender
			return qf.Recipients(func(r Recipient) error { return nil })
		})
		if err != nil && err != io.EOF {
			b.Fatal(err)
		}
	}
}

// BenchmarkScan lists a hashed state of QUEUE_BENCH_FILES (default
// 100,000) files; ns/op is one full scan.
func BenchmarkScan(b *testing.B) {
	n := 100000
	if s := os.Getenv("QUEUE_BENCH_FILES"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	q := New(b.TempDir())
	for i := 0; i < n; i++ {
		p := q.Path(Deferred, FormatID(time.Now().UnixMicro(), uint64(i+1), false))
		os.MkdirAll(filepath.Dir(p), 0700)
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		count := 0
		q.Scan(Deferred, func(id, path string) error { count++; return nil })
		if count != n {
			b.Fatalf("scanned %d", count)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/file")
}

// BenchmarkMarkDone marks one recipient done durably (pwrite + fdatasync).
func BenchmarkMarkDone(b *testing.B) {
	q := New(b.TempDir())
	q.MakeDirs(0700)
	w, err := writeBenchMessage(q, 1000)
	if err != nil {
		b.Fatal(err)
	}
	qf, err := OpenRW(w.Path())
	if err != nil {
		b.Fatal(err)
	}
	defer qf.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := qf.MarkDone(i % 1000); err != nil {
			b.Fatal(err)
		}
	}
}
