// Package cdb reads and writes constant databases in D. J. Bernstein's
// classic 32-bit cdb format, the format of Postfix's "cdb:" tables and of
// postern's "hash:" tables.
//
// # FORMAT
//
// A cdb file is, in this order:
//
//   - a 2048-byte header: 256 pairs (pos, len) of little-endian uint32,
//     the position and the number of slots of each of the 256 hash tables;
//   - the records, each klen uint32, dlen uint32, key bytes, data bytes;
//   - the 256 hash tables, each len slots of (hash uint32, pos uint32),
//     where pos is the position of a record and 0 marks an empty slot.
//
// The hash of a key is h = 5381, then h = ((h << 5) + h) ^ c for every byte
// c, modulo 2^32. A key lives in table h & 255, and its search starts at
// slot (h >> 8) % len and proceeds linearly, wrapping around, until an
// empty slot. Every table has twice as many slots as keys, so searches are
// short. Files are limited to 4 GiB.
//
// Postfix's convention is that a key (and then its value) may be stored
// with a trailing NUL byte; Debian's "postmap cdb:" stores both without it.
// This package stores bytes exactly as given; pkg/table decides about NUL.
//
// # SECURITY
//
// The reader treats a file as hostile: every position and length is checked
// against the file size before it is used, so a truncated or malicious
// file yields ErrCorrupt, never a panic or an out-of-bounds read. Lookups
// map the file into memory (mmap) and touch only the pages they need; a
// lookup never reads the whole file.
//
// The writer creates the new file under a temporary name in the target's
// directory, fsyncs it, renames it over the target and fsyncs the
// directory, so that readers see either the old or the new database and a
// crash never leaves a half-written one under the real name.
package cdb

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const headerSize = 2048

// ErrCorrupt reports a file that is not a well-formed cdb.
var ErrCorrupt = errors.New("not a valid cdb file")

// Hash returns the cdb hash of key.
func Hash(key []byte) uint32 {
	h := uint32(5381)
	for _, c := range key {
		h = ((h << 5) + h) ^ uint32(c)
	}
	return h
}

func hashString(key string) uint32 {
	h := uint32(5381)
	for i := 0; i < len(key); i++ {
		h = ((h << 5) + h) ^ uint32(key[i])
	}
	return h
}

// Reader is an open cdb file. It is safe for concurrent use by several
// goroutines. Slices it returns point into the mapped file and are valid
// until Close.
type Reader struct {
	data []byte // the whole file, mapped (or read, when mmap is impossible)
	mmap bool
	// recEnd is where the records end (the lowest hash-table position).
	recEnd uint32
}

// Open maps the cdb file at path. It checks the header; records are
// checked when they are read.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size < headerSize {
		return nil, fmt.Errorf("%s: %w (file too short)", path, ErrCorrupt)
	}
	if size > 1<<32-1 {
		return nil, fmt.Errorf("%s: %w (file larger than 4 GiB)", path, ErrCorrupt)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	r, err := newReader(data)
	if err != nil {
		unix.Munmap(data)
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r.mmap = true
	return r, nil
}

// NewReader returns a Reader over an in-memory cdb image (for tests and
// fuzzing). data must not be modified while the Reader is in use.
func NewReader(data []byte) (*Reader, error) {
	return newReader(data)
}

func newReader(data []byte) (*Reader, error) {
	if len(data) < headerSize || uint64(len(data)) > 1<<32-1 {
		return nil, ErrCorrupt
	}
	end := uint32(len(data))
	for i := 0; i < 256; i++ {
		pos := binary.LittleEndian.Uint32(data[i*8:])
		n := binary.LittleEndian.Uint32(data[i*8+4:])
		if pos < headerSize || uint64(pos)+uint64(n)*8 > uint64(len(data)) {
			return nil, ErrCorrupt
		}
		if pos < end {
			end = pos
		}
	}
	return &Reader{data: data, recEnd: end}, nil
}

// Close unmaps the file.
func (r *Reader) Close() error {
	if r.mmap && r.data != nil {
		err := unix.Munmap(r.data)
		r.data = nil
		return err
	}
	r.data = nil
	return nil
}

// Size returns the size of the database file in bytes.
func (r *Reader) Size() int { return len(r.data) }

func (r *Reader) u32(pos uint64) (uint32, bool) {
	if pos+4 > uint64(len(r.data)) {
		return 0, false
	}
	return binary.LittleEndian.Uint32(r.data[pos:]), true
}

// Get returns the value of the first record whose key is key.
func (r *Reader) Get(key []byte) (value []byte, found bool, err error) {
	return r.get(string(key))
}

// GetString is Get for a string key, without allocating.
func (r *Reader) GetString(key string) (value []byte, found bool, err error) {
	return r.get(key)
}

func (r *Reader) get(key string) ([]byte, bool, error) {
	if r.data == nil {
		return nil, false, errors.New("cdb: lookup in closed database")
	}
	h := hashString(key)
	t := uint64(h&255) * 8
	tpos := uint64(binary.LittleEndian.Uint32(r.data[t:]))
	tlen := uint64(binary.LittleEndian.Uint32(r.data[t+4:]))
	if tlen == 0 {
		return nil, false, nil
	}
	slot := uint64(h>>8) % tlen
	for i := uint64(0); i < tlen; i++ {
		sp := tpos + slot*8
		sh, ok1 := r.u32(sp)
		rpos, ok2 := r.u32(sp + 4)
		if !ok1 || !ok2 {
			return nil, false, ErrCorrupt
		}
		if rpos == 0 {
			return nil, false, nil
		}
		if sh == h {
			k, v, err := r.record(uint64(rpos))
			if err != nil {
				return nil, false, err
			}
			if string(k) == key {
				return v, true, nil
			}
		}
		slot++
		if slot == tlen {
			slot = 0
		}
	}
	return nil, false, nil
}

// record returns the key and data of the record at pos.
func (r *Reader) record(pos uint64) (key, data []byte, err error) {
	klen, ok1 := r.u32(pos)
	dlen, ok2 := r.u32(pos + 4)
	if !ok1 || !ok2 {
		return nil, nil, ErrCorrupt
	}
	kstart := pos + 8
	dstart := kstart + uint64(klen)
	end := dstart + uint64(dlen)
	if end > uint64(len(r.data)) {
		return nil, nil, ErrCorrupt
	}
	return r.data[kstart:dstart:dstart], r.data[dstart:end:end], nil
}

// ForEach calls fn for every record in file order, until fn returns an
// error, which ForEach then returns.
func (r *Reader) ForEach(fn func(key, data []byte) error) error {
	if r.data == nil {
		return errors.New("cdb: sequence in closed database")
	}
	pos := uint64(headerSize)
	for pos < uint64(r.recEnd) {
		k, v, err := r.record(pos)
		if err != nil {
			return err
		}
		next := pos + 8 + uint64(len(k)) + uint64(len(v))
		if next > uint64(r.recEnd) {
			return ErrCorrupt
		}
		if err := fn(k, v); err != nil {
			return err
		}
		pos = next
	}
	return nil
}

// Writer builds a new cdb file. Records are kept in memory until Commit,
// which writes the file under a temporary name and renames it into place.
// A Writer also answers whether a key was already added (Has), so that
// callers can implement Postfix's duplicate-key policies.
type Writer struct {
	path  string
	perm  os.FileMode
	arena []byte
	ents  []entry
	index []int32 // open-addressed: entry index + 1, 0 = empty
	size  uint64  // bytes the file will have
	done  bool
}

type entry struct {
	hash       uint32
	kpos, klen uint32
	vpos, vlen uint32
}

// Create starts a new database that Commit will install at path with
// permissions perm (subject to the umask).
func Create(path string, perm os.FileMode) *Writer {
	return &Writer{path: path, perm: perm, index: make([]int32, 1024), size: headerSize}
}

// ErrTooLarge reports a database that would exceed the 4 GiB of the format.
var ErrTooLarge = errors.New("cdb: database would exceed 4 GiB")

func (w *Writer) find(key []byte, h uint32) (slot int, ent int) {
	mask := len(w.index) - 1
	i := int(h*2654435761) & mask
	for {
		v := w.index[i]
		if v == 0 {
			return i, -1
		}
		e := &w.ents[v-1]
		if e.hash == h && string(w.arena[e.kpos:e.kpos+e.klen]) == string(key) {
			return i, int(v - 1)
		}
		i = (i + 1) & mask
	}
}

func (w *Writer) grow() {
	old := w.index
	w.index = make([]int32, len(old)*2)
	mask := len(w.index) - 1
	for _, v := range old {
		if v == 0 {
			continue
		}
		i := int(w.ents[v-1].hash*2654435761) & mask
		for w.index[i] != 0 {
			i = (i + 1) & mask
		}
		w.index[i] = v
	}
}

// Has reports whether key was added, and its value.
func (w *Writer) Has(key []byte) ([]byte, bool) {
	_, e := w.find(key, Hash(key))
	if e < 0 {
		return nil, false
	}
	en := &w.ents[e]
	return w.arena[en.vpos : en.vpos+en.vlen], true
}

// Put adds a record. If the key was already added, replace says whether
// the new value replaces the old one (true) or is dropped (false); Put
// reports whether the key existed. Unlike classic cdb tools, a Writer
// never stores the same key twice.
func (w *Writer) Put(key, value []byte, replace bool) (existed bool, err error) {
	h := Hash(key)
	slot, e := w.find(key, h)
	if e >= 0 {
		if replace {
			en := &w.ents[e]
			if uint64(len(w.arena))+uint64(len(value)) > 1<<32-1 {
				return true, ErrTooLarge
			}
			w.size += uint64(len(value)) - uint64(en.vlen)
			en.vpos = uint32(len(w.arena))
			en.vlen = uint32(len(value))
			w.arena = append(w.arena, value...)
		}
		return true, nil
	}
	// record + two hash slots
	add := 8 + uint64(len(key)) + uint64(len(value)) + 16
	if w.size+add > 1<<32-1 || uint64(len(w.arena))+uint64(len(key))+uint64(len(value)) > 1<<32-1 {
		return false, ErrTooLarge
	}
	w.size += add
	kpos := uint32(len(w.arena))
	w.arena = append(w.arena, key...)
	vpos := uint32(len(w.arena))
	w.arena = append(w.arena, value...)
	w.ents = append(w.ents, entry{hash: h, kpos: kpos, klen: uint32(len(key)), vpos: vpos, vlen: uint32(len(value))})
	w.index[slot] = int32(len(w.ents))
	if len(w.ents)*2 > len(w.index) {
		w.grow()
	}
	return false, nil
}

// Delete removes key from the records to be written; it reports whether
// the key was present.
func (w *Writer) Delete(key []byte) bool {
	h := Hash(key)
	_, e := w.find(key, h)
	if e < 0 {
		return false
	}
	// Rebuild the index without the entry (deletes are rare: postmap -d).
	en := w.ents[e]
	w.size -= 8 + uint64(en.klen) + uint64(en.vlen) + 16
	w.ents = append(w.ents[:e], w.ents[e+1:]...)
	for i := range w.index {
		w.index[i] = 0
	}
	mask := len(w.index) - 1
	for n := range w.ents {
		i := int(w.ents[n].hash*2654435761) & mask
		for w.index[i] != 0 {
			i = (i + 1) & mask
		}
		w.index[i] = int32(n + 1)
	}
	return true
}

// Len returns the number of records added.
func (w *Writer) Len() int { return len(w.ents) }

// Abort discards the database; nothing is written.
func (w *Writer) Abort() {
	w.done = true
	w.arena, w.ents, w.index = nil, nil, nil
}

// Commit writes the database and atomically installs it.
func (w *Writer) Commit() (err error) {
	if w.done {
		return errors.New("cdb: Commit after Commit or Abort")
	}
	w.done = true
	dir := filepath.Dir(w.path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(w.path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// CreateTemp makes the file 0600; apply the wanted mode minus umask.
	if err = f.Chmod(w.perm &^ currentUmask()); err != nil {
		return err
	}
	if err = w.writeTo(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, w.path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	w.arena, w.ents, w.index = nil, nil, nil
	return nil
}

func (w *Writer) writeTo(f io.WriteSeeker) error {
	bw := bufio.NewWriterSize(f, 1<<20)
	var hdr [headerSize]byte
	if _, err := bw.Write(hdr[:]); err != nil {
		return err
	}
	// Records, remembering where each went.
	pos := uint32(headerSize)
	recPos := make([]uint32, len(w.ents))
	counts := [256]uint32{}
	var b8 [8]byte
	for i := range w.ents {
		e := &w.ents[i]
		recPos[i] = pos
		counts[e.hash&255]++
		binary.LittleEndian.PutUint32(b8[0:], e.klen)
		binary.LittleEndian.PutUint32(b8[4:], e.vlen)
		bw.Write(b8[:])
		bw.Write(w.arena[e.kpos : e.kpos+e.klen])
		if _, err := bw.Write(w.arena[e.vpos : e.vpos+e.vlen]); err != nil {
			return err
		}
		pos += 8 + e.klen + e.vlen
	}
	// Group entries by table: start offsets into one array.
	var start [257]uint32
	for i := 0; i < 256; i++ {
		start[i+1] = start[i] + counts[i]
	}
	order := make([]uint32, len(w.ents))
	fill := start
	for i := range w.ents {
		t := w.ents[i].hash & 255
		order[fill[t]] = uint32(i)
		fill[t]++
	}
	var slots []uint64 // hash | pos<<32
	for t := 0; t < 256; t++ {
		n := counts[t] * 2
		binary.LittleEndian.PutUint32(hdr[t*8:], pos)
		binary.LittleEndian.PutUint32(hdr[t*8+4:], n)
		if n == 0 {
			continue
		}
		if cap(slots) < int(n) {
			slots = make([]uint64, n)
		}
		slots = slots[:n]
		for i := range slots {
			slots[i] = 0
		}
		for _, ei := range order[start[t]:start[t+1]] {
			h := w.ents[ei].hash
			s := (h >> 8) % n
			for slots[s]>>32 != 0 {
				s++
				if s == n {
					s = 0
				}
			}
			slots[s] = uint64(h) | uint64(recPos[ei])<<32
		}
		for _, s := range slots {
			binary.LittleEndian.PutUint32(b8[0:], uint32(s))
			binary.LittleEndian.PutUint32(b8[4:], uint32(s>>32))
			if _, err := bw.Write(b8[:]); err != nil {
				return err
			}
		}
		pos += n * 8
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err := f.Write(hdr[:])
	return err
}

// currentUmask reads the umask without changing it (umask(2) can only be
// read by setting it, which would race with other goroutines creating
// files); it falls back to 022.
func currentUmask() os.FileMode {
	b, err := os.ReadFile("/proc/self/status")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Umask:"); ok {
				if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
					return os.FileMode(m)
				}
			}
		}
	}
	return 022
}
