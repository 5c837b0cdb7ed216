package table

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"postern/pkg/strerror"
	"strings"

	"postern/pkg/cdb"
)

// DBFile returns the file that holds the indexed table typ:path:
// path.db for hash, path.cdb for cdb.
func DBFile(typ, path string) string {
	if typ == "cdb" {
		return path + ".cdb"
	}
	return path + ".db"
}

// indexed is an open hash: or cdb: table.
type indexed struct {
	typ, name string
	file      string
	flags     Flags
	r         *cdb.Reader
	st        stamp
}

// Berkeley DB magic numbers (hash and btree), at offset 12 of the file.
const (
	bdbHashMagic  = 0x061561
	bdbBtreeMagic = 0x053162
)

func isBerkeleyDB(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [16]byte
	if n, _ := f.ReadAt(b[:], 0); n < 16 {
		return false
	}
	for _, m := range []uint32{binary.LittleEndian.Uint32(b[12:]), binary.BigEndian.Uint32(b[12:])} {
		if m == bdbHashMagic || m == bdbBtreeMagic {
			return true
		}
	}
	return false
}

func openIndexed(typ, name string, flags Flags) (Table, error) {
	file := DBFile(typ, name)
	st := stampOf(file)
	r, err := cdb.Open(file)
	if err != nil {
		if errors.Is(err, cdb.ErrCorrupt) {
			if isBerkeleyDB(file) {
				return nil, fmt.Errorf("open database %s: this is a Berkeley DB file (Postfix's hash: format), which postern cannot read; rebuild it with postern's postmap", file)
			}
			return nil, fmt.Errorf("open database %s: not a postern %s: database (cdb format): %v", file, typ, err)
		}
		return nil, fmt.Errorf("open database %s: %s", file, strerror.Text(err))
	}
	return &indexed{typ: typ, name: name, file: file, flags: flags, r: r, st: st}, nil
}

func (t *indexed) Name() string  { return t.typ + ":" + t.name }
func (t *indexed) Changed() bool { return t.st.changed() }
func (t *indexed) Close() error  { return t.r.Close() }

func (t *indexed) Lookup(key string) (string, bool, error) {
	key = fold(key, t.flags)
	if t.flags&WithNull == 0 {
		v, ok, err := t.r.GetString(key)
		if err != nil {
			return "", false, fmt.Errorf("table %s: %v", t.Name(), err)
		}
		if ok {
			return string(v), true, nil
		}
	}
	if t.flags&WithoutNull == 0 {
		v, ok, err := t.r.GetString(key + "\x00")
		if err != nil {
			return "", false, fmt.Errorf("table %s: %v", t.Name(), err)
		}
		if ok {
			return strings.TrimSuffix(string(v), "\x00"), true, nil
		}
	}
	return "", false, nil
}

// ErrSeqNotSupported is returned by Seq on a cdb: table, which Postfix
// cannot sequence either.
var ErrSeqNotSupported = errors.New("sequence operation is not supported")

// Seq lists the entries in file order; keys and values stored with a
// trailing NUL are shown without it. cdb: tables refuse, as in Postfix.
func (t *indexed) Seq(fn func(key, value string) error) error {
	if t.typ == "cdb" {
		return ErrSeqNotSupported
	}
	return t.r.ForEach(func(k, v []byte) error {
		if n := len(k); n > 0 && k[n-1] == 0 {
			k = k[:n-1]
			if m := len(v); m > 0 && v[m-1] == 0 {
				v = v[:m-1]
			}
		}
		return fn(string(k), string(v))
	})
}

// Builder creates or updates an indexed (hash: or cdb:) table. The new
// database is written under a temporary name and renamed into place by
// Commit, so that readers never see a partial table.
type Builder struct {
	typ, path string
	file      string
	flags     Flags
	w         *cdb.Writer
	warn      func(string, ...any)
	// DupName is the name that duplicate-entry warnings use: "FILE.db"
	// for hash, "FILE" for cdb, as Postfix words them.
	DupName string
}

// NotBulkError reports a table type that exists but cannot be built by
// postmap (texthash, regexp ...); its text is Postfix's.
type NotBulkError struct{ Type string }

func (e *NotBulkError) Error() string {
	return "unsupported dictionary type: " + e.Type + " does not support bulk-mode creation."
}

// BulkCreatable reports whether typ is a table type that postmap can
// build (hash, cdb).
func BulkCreatable(typ string) bool { return typ == "hash" || typ == "cdb" }

// Create starts a new, empty indexed table typ:path, whose file will get
// mode perm (less the umask). Duplicate keys are handled as flags say.
func Create(typ, path string, perm os.FileMode, flags Flags, opts ...Option) (*Builder, error) {
	if !BulkCreatable(typ) {
		if _, ok := knownTypes[typ]; ok {
			return nil, &NotBulkError{Type: typ}
		}
		return nil, &UnsupportedTypeError{Type: typ}
	}
	o := makeOptions(opts)
	b := &Builder{typ: typ, path: path, file: DBFile(typ, path), flags: flags, warn: o.warn}
	b.DupName = b.file
	if typ == "cdb" {
		b.DupName = path
	}
	b.w = cdb.Create(b.file, perm)
	return b, nil
}

// Update opens an existing hash: table for changes (postmap -i, -d): its
// entries are loaded, and Commit writes the changed table. A missing
// table starts empty. cdb: tables cannot be updated, as in Postfix.
func Update(typ, path string, flags Flags, opts ...Option) (*Builder, error) {
	if typ == "cdb" {
		return nil, fmt.Errorf("dict_cdb_open: inappropriate open flags for cdb database - specify O_RDONLY or O_WRONLY|O_CREAT|O_TRUNC")
	}
	perm := os.FileMode(0644)
	file := DBFile(typ, path)
	if st, err := os.Stat(file); err == nil {
		perm = st.Mode().Perm()
	}
	b, err := Create(typ, path, perm, flags, opts...)
	if err != nil {
		return nil, err
	}
	r, err := cdb.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return b, nil
	}
	if err != nil {
		if isBerkeleyDB(file) {
			return nil, fmt.Errorf("open database %s: this is a Berkeley DB file (Postfix's hash: format), which postern cannot read; rebuild it with postern's postmap", file)
		}
		return nil, fmt.Errorf("open database %s: %s", file, strerror.Text(err))
	}
	defer r.Close()
	err = r.ForEach(func(k, v []byte) error {
		_, err := b.w.Put(k, v, false)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read database %s: %v", file, err)
	}
	return b, nil
}

// File returns the database file the Builder writes.
func (b *Builder) File() string { return b.file }

func (b *Builder) storeKey(key string) []byte {
	key = fold(key, b.flags)
	if b.flags&WithNull != 0 {
		key += "\x00"
	}
	return []byte(key)
}

// Put adds an entry. Keys are lower-cased unless FixedCase. A duplicate
// key keeps the first value with the warning `NAME: duplicate entry:
// "key"`, or replaces it (DupReplace), or is dropped silently (DupIgnore).
func (b *Builder) Put(key, value string) error {
	k := b.storeKey(key)
	v := []byte(value)
	if b.flags&WithNull != 0 {
		v = append(v, 0)
	}
	existed, err := b.w.Put(k, v, b.flags&DupReplace != 0)
	if err != nil {
		return fmt.Errorf("table %s:%s: write error: %v", b.typ, b.path, err)
	}
	if existed && b.flags&(DupReplace|DupIgnore) == 0 {
		b.warn("%s: duplicate entry: \"%s\"", b.DupName, fold(key, b.flags))
	}
	return nil
}

// PutReplace adds or replaces an entry regardless of the duplicate
// policy (postalias's YP_ and "@" entries on update).
func (b *Builder) PutReplace(key, value string, fixedCase bool) error {
	fl := b.flags
	if fixedCase {
		fl |= FixedCase
	}
	k := fold(key, fl)
	v := value
	if b.flags&WithNull != 0 {
		k += "\x00"
		v += "\x00"
	}
	if _, err := b.w.Put([]byte(k), []byte(v), true); err != nil {
		return fmt.Errorf("table %s:%s: write error: %v", b.typ, b.path, err)
	}
	return nil
}

// Delete removes key (with and without trailing NUL); it reports whether
// an entry existed.
func (b *Builder) Delete(key string) bool {
	k := fold(key, b.flags)
	found := false
	if b.flags&WithNull == 0 && b.w.Delete([]byte(k)) {
		found = true
	}
	if b.flags&WithoutNull == 0 && b.w.Delete([]byte(k+"\x00")) {
		found = true
	}
	return found
}

// Commit writes the table and installs it atomically.
func (b *Builder) Commit() error {
	if err := b.w.Commit(); err != nil {
		return fmt.Errorf("table %s:%s: %v", b.typ, b.path, err)
	}
	return nil
}

// Abort discards the table being built.
func (b *Builder) Abort() { b.w.Abort() }

// knownTypes are the types Open supports.
var knownTypes = map[string]struct{}{
	"hash": {}, "cdb": {}, "texthash": {}, "regexp": {}, "pcre": {}, "cidr": {},
	"inline": {}, "static": {}, "unionmap": {}, "pipemap": {}, "fail": {}, "unix": {},
}
