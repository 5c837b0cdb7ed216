package queue

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The crash tests run this test binary again as a child (TestMain sees
// QUEUE_TEST_CHILD), let it write, SIGKILL it at a random moment and
// check what it left.

func TestMain(m *testing.M) {
	switch os.Getenv("QUEUE_TEST_CHILD") {
	case "":
		os.Exit(m.Run())
	case "commit":
		childCommit()
	case "markdone":
		childMarkDone()
	}
	os.Exit(0)
}

// childCommit writes messages from 4 goroutines forever and prints the ID
// of each after its Commit returned (= the message was acknowledged).
func childCommit() {
	q := New(os.Getenv("QUEUE_DIR"))
	if os.Getenv("QUEUE_METHOD") == "rename" {
		q.Method = MethodRename
	}
	var mu sync.Mutex
	for g := 0; g < 4; g++ {
		go func(g int) {
			rng := rand.New(rand.NewSource(int64(g) + time.Now().UnixNano()))
			for {
				w, err := q.Create(Incoming)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				w.SetEnvelope(&Envelope{Sender: "s@example.org", ClientAddr: "192.0.2.1"})
				for i := 0; i < rng.Intn(50)+1; i++ {
					w.AddRecipient(Recipient{Address: fmt.Sprintf("r%d@example.net", i)})
				}
				line := bytes.Repeat([]byte("0123456789"), 10)
				for i := 0; i < rng.Intn(2000); i++ {
					w.Write(line)
				}
				if err := w.Commit(); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				mu.Lock()
				os.Stdout.Write([]byte(w.ID() + "\n"))
				mu.Unlock()
			}
		}(g)
	}
	select {}
}

// childMarkDone marks the recipients of QUEUE_FILE done one by one and
// prints each index after MarkDone returned.
func childMarkDone() {
	qf, err := OpenRW(os.Getenv("QUEUE_FILE"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var todo []int
	qf.Recipients(func(r Recipient) error {
		if !r.Done {
			todo = append(todo, r.Index)
		}
		return nil
	})
	for _, i := range todo {
		if err := qf.MarkDone(i); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Stdout.Write([]byte(strconv.Itoa(i) + "\n"))
	}
	select {}
}

// runAndKill starts the child, kills it after d and returns its stdout
// lines.
func runAndKill(t *testing.T, env []string, d time.Duration) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(d)
	cmd.Process.Signal(syscall.SIGKILL)
	err := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("child ended by itself: %v: %s", err, errb.String())
	}
	var lines []string
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

func TestCrashDuringCommit(t *testing.T) {
	rounds := 6
	if testing.Short() {
		rounds = 2
	}
	for _, m := range methods {
		t.Run(m.String(), func(t *testing.T) {
			q := newTestQueue(t, m)
			rng := rand.New(rand.NewSource(time.Now().UnixNano()))
			acked := map[string]bool{}
			for r := 0; r < rounds; r++ {
				d := time.Duration(20+rng.Intn(200)) * time.Millisecond
				for _, id := range runAndKill(t, []string{"QUEUE_TEST_CHILD=commit", "QUEUE_DIR=" + q.Dir, "QUEUE_METHOD=" + m.String()}, d) {
					acked[id] = true
				}
			}
			if len(acked) == 0 {
				t.Fatal("child acknowledged nothing")
			}
			// Every acknowledged message is complete and intact.
			for id := range acked {
				qf, err := Open(q.Path(Incoming, id))
				if err != nil {
					t.Fatalf("acknowledged %s: %v", id, err)
				}
				if err := qf.Verify(); err != nil {
					t.Fatalf("acknowledged %s: %v", id, err)
				}
				qf.Close()
			}
			// Everything else is either complete, or ignorable (temporary
			// name, or incomplete), and Cleanup removes the ignorable.
			var leftovers int
			check := func(wantClean bool) {
				ents, err := os.ReadDir(filepath.Join(q.Dir, Incoming))
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range ents {
					p := filepath.Join(q.Dir, Incoming, e.Name())
					if strings.HasPrefix(e.Name(), ".t") {
						if wantClean {
							t.Errorf("temporary file %s survived Cleanup", e.Name())
						}
						leftovers++
						continue
					}
					qf, err := Open(p)
					if errors.Is(err, ErrIncomplete) && !wantClean {
						leftovers++
						continue
					}
					if err != nil {
						t.Fatalf("%s: %v", e.Name(), err)
					}
					if err := qf.Verify(); err != nil {
						t.Fatalf("%s: %v", e.Name(), err)
					}
					qf.Close()
				}
			}
			check(false)
			n, err := q.Cleanup(0)
			if err != nil || n != leftovers {
				t.Errorf("cleanup removed %d of %d leftovers: %v", n, leftovers, err)
			}
			check(true)
			t.Logf("%d acknowledged, %d leftovers removed", len(acked), leftovers)
		})
	}
}

func TestCrashDuringMarkDone(t *testing.T) {
	q := newTestQueue(t, MethodExecBit)
	w, err := q.Create(Incoming)
	if err != nil {
		t.Fatal(err)
	}
	w.SetEnvelope(&Envelope{Sender: "s@example.org"})
	const n = 20000
	for i := 0; i < n; i++ {
		w.AddRecipient(Recipient{Address: fmt.Sprintf("rcpt%05d@example.net", i)})
	}
	io.WriteString(w, "Subject: x\n\nbody\n")
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	reported := map[int]bool{}
	for round := 0; round < 3; round++ {
		lines := runAndKill(t, []string{"QUEUE_TEST_CHILD=markdone", "QUEUE_FILE=" + w.Path()}, time.Duration(30+rng.Intn(100))*time.Millisecond)
		for _, l := range lines {
			i, _ := strconv.Atoi(l)
			reported[i] = true
		}
		qf, err := Open(w.Path())
		if err != nil {
			t.Fatal(err)
		}
		done, notReportedDone := 0, 0
		err = qf.Recipients(func(r Recipient) error {
			if reported[r.Index] && !r.Done {
				return fmt.Errorf("recipient %d reported done but is not", r.Index)
			}
			if r.Done {
				done++
				if !reported[r.Index] {
					notReportedDone++
				}
			}
			return nil
		})
		qf.Close()
		if err != nil {
			t.Fatal(err)
		}
		// At most the one in flight at each kill is done but unreported.
		if notReportedDone > round+1 {
			t.Errorf("%d recipients done but never reported", notReportedDone)
		}
		t.Logf("round %d: %d reported, %d done", round, len(reported), done)
		if done == n {
			break
		}
	}
}
