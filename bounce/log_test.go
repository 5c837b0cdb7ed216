package bounce

import (
	"bytes"
	"reflect"
	"testing"
)

func TestLogRoundTrip(t *testing.T) {
	recs := []*Record{
		{Index: 3, Address: "a@b", Original: "A@B", ORCPT: "rfc822;a@b", Notify: 6, Action: "failed",
			Status: "5.1.1", Text: "line\nbreak \"quoted\" \xff", DiagType: "smtp", DiagText: "550 x", Relay: "h[1.2.3.4]:25", TimeUS: 17},
		{Address: "c@d", Action: "delivered", Status: "2.0.0"},
	}
	var buf bytes.Buffer
	for _, r := range recs {
		line, err := encodeRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Count(line, []byte("\n")) != 1 {
			t.Fatalf("record spans lines: %q", line)
		}
		buf.Write(line)
	}
	got, err := ReadLog(&buf, func(n int, err error) { t.Errorf("line %d: %v", n, err) })
	if err != nil {
		t.Fatal(err)
	}
	// JSON turns invalid UTF-8 into U+FFFD; everything else survives.
	recs[0].Text = "line\nbreak \"quoted\" \ufffd"
	if !reflect.DeepEqual(got, recs) {
		t.Errorf("got %+v, want %+v", got[0], recs[0])
	}
}

func TestDamagedRecordsAreSkipped(t *testing.T) {
	good, _ := encodeRecord(&Record{Address: "good@x", Action: "failed"})
	bad := append([]byte(nil), good...)
	bad[20] ^= 1
	data := string(bad) + "garbage\n" + string(good) + string(good[:10])
	var bads []int
	got, err := ReadLog(bytes.NewReader([]byte(data)), func(n int, err error) { bads = append(bads, n) })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Address != "good@x" {
		t.Errorf("got %+v", got)
	}
	if !reflect.DeepEqual(bads, []int{1, 2}) {
		t.Errorf("bad lines %v, want [1 2] (the torn tail is not reported)", bads)
	}
}

func FuzzReadLog(f *testing.F) {
	good, _ := encodeRecord(&Record{Address: "a@b", Action: "failed", Status: "5.1.1", Text: "x"})
	f.Add(good)
	f.Add(append(append([]byte{}, good...), good[:7]...))
	f.Add([]byte("00000000 {}\n"))
	f.Add([]byte("\n\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := ReadLog(bytes.NewReader(data), nil)
		if err != nil {
			t.Fatal(err)
		}
		// Whatever was accepted is a valid record that writes back and
		// reads back the same.
		for _, r := range recs {
			line, err := encodeRecord(r)
			if err != nil {
				t.Fatal(err)
			}
			again, err := decodeRecord(line[:len(line)-1])
			if err != nil || !reflect.DeepEqual(again, r) {
				t.Fatalf("record %+v does not round-trip: %+v %v", r, again, err)
			}
		}
	})
}

// The example in doc.go is a valid record.
func TestDocExampleRecord(t *testing.T) {
	r, err := decodeRecord([]byte(`a27608ff {"index":0,"recipient":"a@example.org","action":"failed","status":"5.1.1","reason":"unknown user: \"a\""}`))
	if err != nil || r.Address != "a@example.org" || r.Text != `unknown user: "a"` {
		t.Errorf("%+v %v", r, err)
	}
}

func TestOverlongRecordIsSkipped(t *testing.T) {
	good, _ := encodeRecord(&Record{Address: "good@x", Action: "failed"})
	long, _ := encodeRecord(&Record{Address: "long@x", Action: "failed", Text: string(bytes.Repeat([]byte("x"), maxRecord+10))})
	data := append(append(append([]byte{}, long...), good...), long...)
	var bads []int
	got, err := ReadLog(bytes.NewReader(data), func(n int, err error) { bads = append(bads, n) })
	if err != nil || len(got) != 1 || got[0].Address != "good@x" || !reflect.DeepEqual(bads, []int{1, 3}) {
		t.Errorf("got %d records, bad %v, %v", len(got), bads, err)
	}
}
