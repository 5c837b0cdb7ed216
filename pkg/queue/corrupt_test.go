package queue

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"os"
	"reflect"
	"testing"
)

// snapshot is everything a reader can learn from a file.
type snapshot struct {
	Env     *Envelope
	Rcpts   []Recipient
	Content string
	Forced  bool
	Warned  bool
	Size    int64
}

// fullRead parses data the way every reader would, checking everything.
func fullRead(data []byte) (s snapshot, err error) {
	qf, err := Parse(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return s, err
	}
	if s.Env, err = qf.Envelope(); err != nil {
		return s, err
	}
	err = qf.Recipients(func(r Recipient) error { s.Rcpts = append(s.Rcpts, r); return nil })
	if err != nil {
		return s, err
	}
	c, err := io.ReadAll(qf.ContentReader())
	if err != nil {
		return s, err
	}
	if err := qf.Verify(); err != nil {
		return s, err
	}
	if n := qf.NumRecipients(); n > 0 {
		// The done-marker's way to a status byte must agree.
		qf.offsets = nil
		if _, err := qf.statusOffset(n - 1); err != nil {
			return s, err
		}
	}
	s.Content, s.Forced, s.Warned, s.Size = string(c), qf.ForcedExpire(), qf.DelayWarned(), qf.MessageSize()
	if len(s.Rcpts) != qf.NumRecipients() || int64(len(c)) != s.Size {
		return s, errors.New("inconsistent counts reported as valid")
	}
	return s, nil
}

// sampleBytes writes a sample file and returns its bytes and the offsets
// of its mutable bytes (flags and recipient status bytes).
func sampleBytes(t testing.TB, withJournal bool) ([]byte, map[int]bool) {
	q := newTestQueue(t, MethodExecBit)
	_, path := writeSample(t, q, Incoming)
	qf, err := OpenRW(path)
	if err != nil {
		t.Fatal(err)
	}
	mutable := map[int]bool{offForced: true, offWarned: true}
	for i := 0; i < qf.NumRecipients(); i++ {
		off, err := qf.statusOffset(i)
		if err != nil {
			t.Fatal(err)
		}
		mutable[int(off)] = true
	}
	if withJournal {
		if err := qf.SetDelayReason([]int{0, 1}, "connect to x: Connection refused"); err != nil {
			t.Fatal(err)
		}
	}
	qf.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data, mutable
}

func TestTruncatedFilesAreDetected(t *testing.T) {
	data, _ := sampleBytes(t, false)
	if _, err := fullRead(data); err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(data); n++ {
		if _, err := fullRead(data[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated at %d of %d: %v", n, len(data), err)
		}
	}
}

func TestTruncatedJournalLosesOnlyReasons(t *testing.T) {
	data, _ := sampleBytes(t, true)
	full, err := fullRead(data)
	if err != nil {
		t.Fatal(err)
	}
	if full.Rcpts[0].DelayReason == "" {
		t.Fatal("no reason in sample")
	}
	journal := bytes.LastIndex(data, []byte(trailerMagic)) + trailerSize
	for n := journal; n < len(data); n++ {
		s, err := fullRead(data[:n])
		if err != nil {
			t.Fatalf("truncated in journal at %d: %v", n, err)
		}
		for i := range s.Rcpts {
			s.Rcpts[i].DelayReason = full.Rcpts[i].DelayReason
		}
		if !reflect.DeepEqual(s, full) {
			t.Fatalf("truncated in journal at %d: data changed", n)
		}
	}
}

func TestDamagedFilesAreDetected(t *testing.T) {
	for _, journal := range []bool{false, true} {
		data, mutable := sampleBytes(t, journal)
		orig, err := fullRead(data)
		if err != nil {
			t.Fatal(err)
		}
		jstart := len(data)
		if journal {
			jstart = bytes.LastIndex(data, []byte(trailerMagic)) + trailerSize
		}
		rng := rand.New(rand.NewSource(1))
		buf := make([]byte, len(data))
		for off := 0; off < len(data); off++ {
			for _, x := range []byte{0x01, 0x80, 0xff, byte(rng.Intn(255) + 1)} {
				copy(buf, data)
				buf[off] ^= x
				s, err := fullRead(buf)
				switch {
				case off >= jstart:
					// A damaged journal record ends the journal: reasons
					// may vanish, nothing else may change.
					if err != nil {
						t.Fatalf("journal damage at %d: %v", off, err)
					}
					for i := range s.Rcpts {
						if r := s.Rcpts[i].DelayReason; r != "" && r != orig.Rcpts[i].DelayReason {
							t.Fatalf("journal damage at %d: reason %q", off, r)
						}
						s.Rcpts[i].DelayReason = orig.Rcpts[i].DelayReason
					}
					if !reflect.DeepEqual(s, orig) {
						t.Fatalf("journal damage at %d changed data", off)
					}
				case mutable[off]:
					// A status or flag byte: either rejected or one of its
					// two legal values, with nothing else changed.
					if err == nil {
						if b := buf[off]; b != statusTodo && b != statusDone && b != '0' && b != '1' {
							t.Fatalf("bad mutable byte %#x at %d accepted", b, off)
						}
					}
				default:
					if !errors.Is(err, ErrCorrupt) {
						t.Fatalf("damage %#x at offset %d of %d not detected: %v", x, off, len(data), err)
					}
				}
			}
		}
	}
}

func TestVersionAndGarbage(t *testing.T) {
	data, _ := sampleBytes(t, false)
	newer := bytes.Clone(data)
	newer[6] = Version + 1
	_, err := fullRead(newer)
	if !errors.Is(err, ErrVersion) || !errors.Is(err, ErrCorrupt) {
		t.Errorf("newer version: %v", err)
	}
	for _, g := range [][]byte{nil, []byte("hello"), bytes.Repeat([]byte{0}, 200), []byte("PSTNQF" + string(rune(1)))} {
		if _, err := fullRead(g); !errors.Is(err, ErrCorrupt) {
			t.Errorf("garbage %q: %v", g, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	data, _ := sampleBytes(f, true)
	f.Add(data)
	f.Add(data[:100])
	f.Add(data[:len(data)-20])
	small := newTestQueue(f, MethodExecBit)
	w, _ := small.Create(Incoming)
	w.SetEnvelope(&Envelope{})
	w.Commit()
	b, _ := os.ReadFile(w.Path())
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := fullRead(in)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not wrapping ErrCorrupt: %v", err)
			}
			return
		}
		if s.Env == nil || int64(len(s.Content)) != s.Size {
			t.Fatal("inconsistent result")
		}
		for i, r := range s.Rcpts {
			if r.Index != i || r.Notify < 0 || r.Notify > 15 {
				t.Fatalf("bad recipient %+v", r)
			}
		}
	})
}
