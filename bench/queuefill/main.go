// Command queuefill fills a queue with deferred messages for the
// postqueue -p benchmark (bench/queue-list.sh).
//
//	queuefill -postern QUEUE_DIR -n N [-owner USER]
//	queuefill -postfix QUEUE_DIR -n N -template deferred/X/ID [-owner postfix]
//
// With -postern it writes N messages with pkg/queue (as cleanup would),
// each with one recipient and a delay reason, moves them to deferred/ with
// a retry time a day ahead (so that a running qmgr leaves them alone) and
// gives them to the owner. With -postfix it copies a real Postfix queue
// file of deferred/ and its defer/ logfile N times, each named as Postfix
// names files (five hex digits of microseconds, then the inode number in
// hex) in its hash subdirectory, with the same retry time.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"postern/pkg/queue"
)

func main() {
	pn := flag.String("postern", "", "postern queue_directory to fill")
	pf := flag.String("postfix", "", "Postfix queue_directory to fill")
	n := flag.Int("n", 100000, "messages")
	tmpl := flag.String("template", "", "Postfix: deferred queue file to copy, relative to the queue directory")
	owner := flag.String("owner", "", "owner of the files (postern: mail_owner; Postfix: postfix)")
	workers := flag.Int("workers", 16, "parallel writers")
	flag.Parse()
	uid, gid := -1, -1
	if *owner != "" {
		u, err := user.Lookup(*owner)
		if err != nil {
			fail(err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	retry := time.Now().Add(24 * time.Hour)
	var fn func(i int) error
	switch {
	case *pn != "":
		q := queue.New(*pn)
		if err := q.MakeDirs(0700); err != nil {
			fail(err)
		}
		body := []byte("Received: from client.example.test\nFrom: sender@example.test\nTo: rcpt@down.example.test\nSubject: benchmark message\nMessage-Id: <bench@example.test>\n\n" +
			"This is a deferred message of the postqueue -p benchmark.\n")
		reason := "connect to 127.0.0.1[127.0.0.1]:2849: Connection refused"
		fn = func(i int) error {
			w, err := q.Create(queue.Incoming)
			if err != nil {
				return err
			}
			w.SetEnvelope(&queue.Envelope{Sender: "sender@example.test", RewriteContext: "remote"})
			w.AddRecipient(queue.Recipient{Address: fmt.Sprintf("rcpt%d@down.example.test", i)})
			w.Write(body)
			if err := w.Commit(); err != nil {
				return err
			}
			f, err := queue.OpenRW(w.Path())
			if err != nil {
				return err
			}
			err = f.SetDelayReason([]int{0}, reason)
			f.Close()
			if err != nil {
				return err
			}
			p, err := q.Move(w.ID(), queue.Incoming, queue.Deferred)
			if err != nil {
				return err
			}
			if uid >= 0 {
				os.Lchown(p, uid, gid)
			}
			return queue.SetRetryTime(p, retry)
		}
	case *pf != "":
		if *tmpl == "" {
			fail(fmt.Errorf("-postfix needs -template"))
		}
		qf, err := os.ReadFile(filepath.Join(*pf, *tmpl))
		if err != nil {
			fail(err)
		}
		lg, err := os.ReadFile(filepath.Join(*pf, "defer", filepath.Base(filepath.Dir(*tmpl)), filepath.Base(*tmpl)))
		if err != nil {
			fail(err)
		}
		fn = func(i int) error {
			tmp := filepath.Join(*pf, "deferred", fmt.Sprintf(".fill%d", i))
			if err := os.WriteFile(tmp, qf, 0600); err != nil {
				return err
			}
			var st syscall.Stat_t
			if err := syscall.Stat(tmp, &st); err != nil {
				return err
			}
			id := fmt.Sprintf("%05X%X", rand.IntN(1000000), st.Ino)
			for _, d := range []string{"deferred", "defer"} {
				sub := filepath.Join(*pf, d, id[:1])
				if _, err := os.Stat(sub); err != nil {
					os.MkdirAll(sub, 0700)
					os.Lchown(sub, uid, gid)
				}
			}
			os.Lchown(tmp, uid, gid)
			os.Chmod(tmp, 0700)
			os.Chtimes(tmp, retry, retry)
			lp := filepath.Join(*pf, "defer", id[:1], id)
			if err := os.WriteFile(lp, lg, 0600); err != nil {
				return err
			}
			os.Lchown(lp, uid, gid)
			return os.Rename(tmp, filepath.Join(*pf, "deferred", id[:1], id))
		}
	default:
		fail(fmt.Errorf("give -postern or -postfix"))
	}
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= *n {
					return
				}
				if err := fn(i); err != nil {
					fail(err)
				}
			}
		}()
	}
	wg.Wait()
	fmt.Fprintf(os.Stderr, "queuefill: %d messages in %.1fs\n", *n, time.Since(start).Seconds())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "queuefill:", err)
	os.Exit(1)
}
