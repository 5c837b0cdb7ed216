package queue

import (
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"
)

func TestIDsUniqueUnderConcurrency(t *testing.T) {
	for _, long := range []bool{false, true} {
		q := newTestQueue(t, MethodExecBit)
		q.LongIDs = long
		// A frozen clock: every ID has the same time, so only the inode
		// keeps them apart.
		q.Clock = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
		const workers, each = 20, 50
		ids := make(chan string, workers*each)
		var wg sync.WaitGroup
		for g := 0; g < workers; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					w, err := q.Create(Incoming)
					if err != nil {
						t.Error(err)
						return
					}
					// Half are aborted: their inodes (and so their IDs)
					// may be reused, but never by two live files.
					if i%2 == 0 {
						w.Abort()
					} else {
						w.SetEnvelope(&Envelope{})
						if err := w.Commit(); err != nil {
							t.Error(err)
						}
						ids <- w.ID()
					}
				}
			}()
		}
		wg.Wait()
		close(ids)
		live := map[string]bool{}
		for id := range ids {
			if !ValidID(id) {
				t.Fatalf("invalid id %q", id)
			}
			if live[id] {
				t.Fatalf("duplicate live id %s", id)
			}
			live[id] = true
		}
		ents, _ := os.ReadDir(filepath.Join(q.Dir, Incoming))
		if len(live) != workers*each/2 || len(ents) != len(live) {
			t.Errorf("long=%v: %d live ids, %d files, want %d", long, len(live), len(ents), workers*each/2)
		}
	}
}

func TestIDsSortByTimeWithClockGoingBack(t *testing.T) {
	base := time.Date(2026, 11, 21, 23, 0, 0, 0, time.UTC)
	steps := []time.Duration{0, time.Minute, 5 * time.Minute, -time.Hour, -2 * time.Hour, 6 * time.Minute, 30 * time.Second, 7 * time.Minute, 7 * time.Minute, 10 * time.Minute}
	for _, long := range []bool{false, true} {
		q := newTestQueue(t, MethodExecBit)
		q.LongIDs = long
		var i int
		q.Clock = func() time.Time { return base.Add(steps[i]) }
		type made struct {
			id     string
			create time.Time
		}
		var all []made
		for i = range steps {
			w, err := q.Create(Incoming)
			if err != nil {
				t.Fatal(err)
			}
			w.SetEnvelope(&Envelope{})
			if err := w.Commit(); err != nil {
				t.Fatal(err)
			}
			qf, err := Open(w.Path())
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, made{w.ID(), qf.CreateTime()})
			qf.Close()
			// The ID's time is the recorded create time.
			idt, _, _, ok := ParseID(w.ID())
			res := time.Microsecond
			if !long {
				res = time.Minute
			}
			if !ok || !idt.Equal(qf.CreateTime().Truncate(res)) {
				t.Errorf("id %s time %v, create_time %v", w.ID(), idt, qf.CreateTime())
			}
		}
		// Creation order never goes back in time, despite the clock.
		for k := 1; k < len(all); k++ {
			if all[k].create.Before(all[k-1].create) {
				t.Errorf("create time went back: %v after %v", all[k].create, all[k-1].create)
			}
		}
		// Sorting by ID sorts by create time.
		sorted := append([]made(nil), all...)
		sort.Slice(sorted, func(a, b int) bool { return sorted[a].id < sorted[b].id })
		for k := 1; k < len(sorted); k++ {
			if sorted[k].create.Before(sorted[k-1].create) && !(!long && sorted[k].create.Truncate(time.Minute).Equal(sorted[k-1].create.Truncate(time.Minute))) {
				t.Errorf("long=%v: %s (%v) sorts after %s (%v)", long, sorted[k].id, sorted[k].create, sorted[k-1].id, sorted[k-1].create)
			}
		}
	}
}

// TestScanBoundedMemory scans 100,000 files in a hashed state and checks
// that the live heap does not grow with the number of files.
func TestScanBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 100,000 files")
	}
	q := New(t.TempDir())
	q.HashDepth = 1
	const n = 100000
	for i := 0; i < n; i++ {
		id := FormatID(time.Now().UnixMicro(), uint64(i+1), false)
		p := q.Path(Deferred, id)
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0700)
		if os.IsNotExist(err) {
			os.MkdirAll(filepath.Dir(p), 0700)
			f, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0700)
		}
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	baseline := ms.HeapAlloc
	var peak uint64
	count := 0
	allocsBefore := ms.Mallocs
	err := q.Scan(Deferred, func(id, path string) error {
		count++
		if count%10000 == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak {
				peak = ms.HeapAlloc
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&ms)
	if count != n {
		t.Fatalf("scanned %d of %d", count, n)
	}
	grow := int64(peak) - int64(baseline)
	t.Logf("live heap growth during scan: %d bytes; %.1f allocations per file", grow, float64(ms.Mallocs-allocsBefore)/n)
	// Holding the names of all files would take several MB; a batch,
	// a few KB. The bound is generous and about "bounded", not speed.
	if grow > 1<<20 {
		t.Errorf("live heap grew by %d bytes while scanning %d files", grow, n)
	}
}
