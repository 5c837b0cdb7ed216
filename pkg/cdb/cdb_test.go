package cdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func build(t testing.TB, path string, kv [][2]string) {
	t.Helper()
	w := Create(path, 0644)
	for _, p := range kv {
		if _, err := w.Put([]byte(p[0]), []byte(p[1]), false); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.cdb")
	var kv [][2]string
	for i := 0; i < 5000; i++ {
		kv = append(kv, [2]string{fmt.Sprintf("key%d", i), fmt.Sprintf("value %d", i)})
	}
	kv = append(kv, [2]string{"", "empty key"}, [2]string{"empty value", ""})
	build(t, path, kv)
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, p := range kv {
		v, ok, err := r.GetString(p[0])
		if err != nil || !ok || string(v) != p[1] {
			t.Fatalf("Get(%q) = %q, %v, %v; want %q", p[0], v, ok, err, p[1])
		}
	}
	if _, ok, _ := r.GetString("nosuchkey"); ok {
		t.Fatal("found a key never added")
	}
	n := 0
	err = r.ForEach(func(k, v []byte) error {
		if string(k) != kv[n][0] || string(v) != kv[n][1] {
			return fmt.Errorf("record %d = %q %q", n, k, v)
		}
		n++
		return nil
	})
	if err != nil || n != len(kv) {
		t.Fatalf("ForEach: %v, %d records", err, n)
	}
}

func TestPutDuplicatePolicy(t *testing.T) {
	w := Create(filepath.Join(t.TempDir(), "d.cdb"), 0644)
	if ex, _ := w.Put([]byte("k"), []byte("first"), false); ex {
		t.Fatal("new key reported as existing")
	}
	if ex, _ := w.Put([]byte("k"), []byte("second"), false); !ex {
		t.Fatal("duplicate not reported")
	}
	if v, _ := w.Has([]byte("k")); string(v) != "first" {
		t.Fatalf("keep-first policy gave %q", v)
	}
	w.Put([]byte("k"), []byte("third"), true)
	if v, _ := w.Has([]byte("k")); string(v) != "third" {
		t.Fatalf("replace policy gave %q", v)
	}
	if !w.Delete([]byte("k")) || w.Delete([]byte("k")) {
		t.Fatal("Delete reported wrongly")
	}
	w.Abort()
}

func TestCommitIsAtomicAndKeepsMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.cdb")
	w := Create(path, 0640)
	w.Put([]byte("a"), []byte("b"), false)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("file exists before Commit")
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&^0022 != 0640&^0022 {
		t.Errorf("mode %v, want 0640 (minus umask)", st.Mode().Perm())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("temporary files left behind: %v", ents)
	}
}

func TestHostileHeaders(t *testing.T) {
	cases := map[string][]byte{
		"empty":       nil,
		"short":       make([]byte, 100),
		"zero header": make([]byte, headerSize),
		"table outside": func() []byte {
			b := make([]byte, headerSize+8)
			binary.LittleEndian.PutUint32(b, headerSize)
			binary.LittleEndian.PutUint32(b[4:], 1000)
			return b
		}(),
	}
	for name, b := range cases {
		if _, err := NewReader(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A record that points past the end of the file is an error, not a panic.
func TestHostileRecord(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "h.cdb")
	build(t, path, [][2]string{{"a", "b"}})
	b, _ := os.ReadFile(path)
	binary.LittleEndian.PutUint32(b[headerSize+4:], 0xfffffff0) // dlen
	r, err := NewReader(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.GetString("a"); err == nil {
		t.Error("Get of corrupt record: no error")
	}
	if err := r.ForEach(func(k, v []byte) error { return nil }); err == nil {
		t.Error("ForEach over corrupt record: no error")
	}
}

func FuzzReader(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "seed.cdb")
	build(f, path, [][2]string{{"a", "1"}, {"bb", "22"}, {"key", "value"}})
	seed, _ := os.ReadFile(path)
	f.Add(seed, "a")
	f.Add(seed[:headerSize+5], "bb")
	f.Fuzz(func(t *testing.T, data []byte, key string) {
		r, err := NewReader(data)
		if err != nil {
			return
		}
		r.GetString(key)
		r.ForEach(func(k, v []byte) error { return nil })
	})
}

// Debian's postmap (postfix-cdb) and this package must read each other's
// files.
func TestCrossReadWithPostfix(t *testing.T) {
	postmap := "/usr/sbin/postmap"
	if _, err := os.Stat(postmap); err != nil {
		t.Skip("postfix postmap not installed")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.cf"), []byte("myhostname = test.example\n"), 0644)
	env := append(os.Environ(), "MAIL_CONFIG="+dir)
	if out, err := exec.Command("/usr/sbin/postconf", "-c", dir, "-m").Output(); err != nil || !bytes.Contains(out, []byte("cdb\n")) {
		t.Skip("postfix cdb support not installed")
	}
	src := filepath.Join(dir, "src")
	os.WriteFile(src, []byte("alpha one\nbeta two words\n"), 0644)
	cmd := exec.Command(postmap, "cdb:"+src)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("postmap: %v %s", err, out)
	}
	r, err := Open(src + ".cdb")
	if err != nil {
		t.Fatal(err)
	}
	v, ok, err := r.GetString("beta")
	if !ok || err != nil || string(v) != "two words" {
		t.Fatalf("reading Postfix's cdb: %q %v %v", v, ok, err)
	}
	r.Close()

	ours := filepath.Join(dir, "ours")
	build(t, ours+".cdb", [][2]string{{"gamma", "three"}, {"delta", "four 4"}})
	cmd = exec.Command(postmap, "-q", "delta", "cdb:"+ours)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil || string(out) != "four 4\n" {
		t.Fatalf("postmap -q on our cdb: %q %v", out, err)
	}
}

// BenchmarkLookup1M measures lookups in a 1,000,000-entry database.
func BenchmarkLookup1M(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big.cdb")
	w := Create(path, 0644)
	for i := 0; i < 1000000; i++ {
		w.Put([]byte(fmt.Sprintf("user%d@example.test", i)), []byte(fmt.Sprintf("OK %d", i)), false)
	}
	if err := w.Commit(); err != nil {
		b.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = fmt.Sprintf("user%d@example.test", (i*7919)%1000000)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok, _ := r.GetString(keys[i&4095]); !ok {
			b.Fatal("missing key")
		}
	}
}
