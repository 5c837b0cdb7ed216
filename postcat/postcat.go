package postcat

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"postern/pkg/getopt"
	"postern/pkg/strerror"
	"strconv"
	"strings"
	"syscall"
	"time"

	"postern/pkg/config"
	"postern/pkg/queue"
)

// location is the time zone of the printed times (asctime(localtime())
// in Postfix); tests set it.
var location = time.Local

// searchStates are the queues -q searches, in Postfix's order (Postfix
// has "saved" where postern has "corrupt").
var searchStates = []string{queue.Maildrop, queue.Incoming, queue.Active, queue.Deferred, queue.Hold, queue.Corrupt}

const usageText = "usage: %s [-b (body text)] [-c config_dir] [-d (decimal record type)] [-e (envelope records)] [-h (header text)] [-o (offsets)] [-q (access queue)] [-r (raw order)] [-s offset] [-v] [file(s)...]"

// Postfix's decimal record types (rec_type.h), printed by -d.
const (
	recSize  = 'C'
	recTime  = 'T'
	recFull  = 'F'
	recFrom  = 'S'
	recDone  = 'D'
	recRcpt  = 'R'
	recOrcp  = 'O'
	recAttr  = 'A'
	recMesg  = 'M'
	recNorm  = 'N'
	recXtra  = 'X'
	recEnd   = 'E'
	noOffset = -1
)

type options struct {
	env, header, body bool
	offsets, decimal  bool
	raw, search       bool
	verbose           int
	skip              int64
	configDir         string
}

type fatalError struct{ msg string }

type cat struct {
	prog   string
	opt    options
	stdin  io.Reader
	out    *bufio.Writer
	stderr io.Writer
}

// Main runs postcat; args[0] is the name it was invoked by.
func Main(args []string) int {
	return run(args, os.Stdin, os.Stdout, os.Stderr)
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) (status int) {
	prog := "postcat"
	if len(args) > 0 {
		prog = baseName(args[0])
		args = args[1:]
	}
	c := &cat{prog: prog, stdin: stdin, out: bufio.NewWriterSize(stdout, 64<<10), stderr: stderr}
	defer func() {
		c.out.Flush()
		if r := recover(); r != nil {
			f, ok := r.(fatalError)
			if !ok {
				panic(r)
			}
			fmt.Fprintf(c.stderr, "%s: fatal: %s\n", c.prog, f.msg)
			status = 1
		}
	}()
	c.main(args)
	return 0
}

func baseName(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func (c *cat) fatalf(format string, a ...any) {
	panic(fatalError{fmt.Sprintf(format, a...)})
}

func (c *cat) warnf(format string, a ...any) {
	c.out.Flush()
	fmt.Fprintf(c.stderr, "%s: warning: %s\n", c.prog, fmt.Sprintf(format, a...))
}

// parseArgs parses options getopt-style: combined flags (-bh), option
// values attached (-s100) or in the next argument, "--" ends options.
func (c *cat) parseArgs(args []string) []string {
	o := &c.opt
	files, err := getopt.Parse(args, "bc:dehoqrs:v", func(ch byte, v string) error {
		switch ch {
		case 'c':
			o.configDir = v
		case 's':
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 || strings.TrimLeft(v, "0123456789") != "" {
				c.fatalf("bad offset: %s", v)
			}
			o.skip = n
		case 'b':
			o.body = true
		case 'd':
			o.decimal = true
		case 'e':
			o.env = true
		case 'h':
			o.header = true
		case 'o':
			o.offsets = true
		case 'q':
			o.search = true
		case 'r':
			o.raw = true
		case 'v':
			o.verbose++
		}
		return nil
	})
	if err != nil {
		// glibc's getopt message, then Postfix's usage line.
		fmt.Fprintf(c.stderr, "%s: %v\n", c.prog, err)
		c.fatalf(usageText, c.prog)
	}
	if !o.env && !o.header && !o.body {
		o.env, o.header, o.body = true, true, true
	}
	return files
}

func (c *cat) main(args []string) {
	files := c.parseArgs(args)
	switch {
	case len(files) == 0:
		data, err := io.ReadAll(c.stdin)
		if err != nil {
			c.fatalf("read stdin: %s", strerror.Text(err))
		}
		c.postcat("stdin", bytes.NewReader(data), int64(len(data)))
	case c.opt.search:
		cfg, err := config.Load(config.Dir(c.opt.configDir))
		if err != nil {
			c.fatalf("%s", err)
		}
		dir := cfg.Get("queue_directory")
		layouts := queueLayouts(cfg, dir)
		for _, id := range files {
			if !queue.ValidID(id) {
				c.fatalf("bad mail queue ID: %s", id)
			}
			f, path := c.openQueued(layouts, dir, id)
			c.postcatFile(path, f)
			f.Close()
		}
	default:
		for _, name := range files {
			f, err := os.Open(name)
			if err != nil {
				c.fatalf("open %s: %s", name, strerror.Text(err))
			}
			c.postcatFile(name, f)
			f.Close()
		}
	}
}

// queueLayouts returns the ways a queue file may be named: the
// configured hashing first, then pkg/queue's defaults, then flat, so
// that -q finds a file whatever the writer's settings were.
func queueLayouts(cfg *config.Config, dir string) []*queue.Queue {
	q := queue.FromConfig(dir, cfg)
	flat := queue.New(dir)
	flat.HashDepth = 0
	return []*queue.Queue{q, queue.New(dir), flat}
}

// openQueued finds id in the queues, as Postfix does trying twice in
// case the file moves between queues while we look. The path shown is
// relative to the queue directory (Postfix chdirs there).
func (c *cat) openQueued(layouts []*queue.Queue, dir, id string) (*os.File, string) {
	for try := 0; try < 2; try++ {
		for _, state := range searchStates {
			for _, q := range layouts {
				_, path, err := q.Find(id, state)
				if err != nil {
					continue
				}
				f, err := os.Open(path)
				if err != nil {
					continue
				}
				rel := strings.TrimPrefix(path, strings.TrimSuffix(dir, "/")+"/")
				return f, rel
			}
		}
	}
	c.fatalf("open queue file %s: %s", id, strerror.Text(syscall.ENOENT))
	return nil, ""
}

func (c *cat) postcatFile(name string, f *os.File) {
	st, err := f.Stat()
	if err != nil {
		c.fatalf("%s: stat: %s", name, strerror.Text(err))
	}
	if !st.Mode().IsRegular() {
		c.warnf("%s: input is not a valid queue file", name)
		return
	}
	c.postcat(name, f, st.Size())
}

// line prints the offset and decimal type prefixes of an output line.
func (c *cat) prefix(off int64, typ byte) {
	if c.opt.offsets {
		if off < 0 {
			fmt.Fprintf(c.out, "%9s ", "?")
		} else {
			fmt.Fprintf(c.out, "%9d ", off)
		}
	}
	if c.opt.decimal {
		fmt.Fprintf(c.out, "%3d ", typ)
	}
}

// shown says whether a record at off is past the -s offset. Records
// whose offset is unknown are shown.
func (c *cat) shown(off int64) bool {
	return c.opt.skip == 0 || off < 0 || off >= c.opt.skip
}

func (c *cat) record(off int64, typ byte, name, value string) {
	if !c.shown(off) {
		return
	}
	c.prefix(off, typ)
	c.out.WriteString(name)
	c.out.WriteString(": ")
	c.out.WriteString(value)
	c.out.WriteByte('\n')
}

func (c *cat) marker(off int64, typ byte, text, path string) {
	if !c.shown(off) {
		return
	}
	c.prefix(off, typ)
	fmt.Fprintf(c.out, "*** %s %s ***\n", text, path)
}

func (c *cat) timeRecord(off int64, typ byte, name string, t time.Time) {
	c.record(off, typ, name, t.In(location).Format("Mon Jan _2 15:04:05 2006"))
}

// postcat shows one queue file.
func (c *cat) postcat(path string, r io.ReaderAt, size int64) {
	qf, err := queue.Parse(r, size)
	if err != nil {
		if errors.Is(err, queue.ErrCorrupt) {
			c.warnf("%s: input is not a valid queue file", path)
			return
		}
		c.fatalf("%s: read: %s", path, strerror.Text(err))
	}
	env, err := qf.Envelope()
	if err != nil {
		c.fatalf("%s: record read error: %s", path, err)
	}
	_, contentOff, contentLen := qf.Content().Outer()
	lay := c.layout(qf, env, contentOff)
	if c.opt.env {
		c.envelope(path, qf, env, lay, contentOff, contentLen)
		c.marker(contentOff, recMesg, "MESSAGE CONTENTS", path)
	}
	if c.opt.header || c.opt.body {
		if err := c.content(qf, contentOff); err != nil {
			c.fatalf("%s: record read error: %s", path, err)
		}
	} else if c.opt.env {
		// Check the content anyway, so that -e reports damage too.
		if err := qf.Verify(); err != nil {
			c.fatalf("%s: record read error: %s", path, err)
		}
	}
	if c.opt.env {
		xoff := contentOff + contentLen
		c.marker(xoff, recXtra, "HEADER EXTRACTED", path)
		end := c.extracted(path, qf, env, lay, xoff)
		c.marker(end, recEnd, "MESSAGE FILE END", path)
	}
	c.out.Flush()
}

func (c *cat) envelope(path string, qf *queue.File, env *queue.Envelope, lay *layout, contentOff, contentLen int64) {
	if c.opt.skip == 0 {
		// Postfix prints this one without offset or type.
		fmt.Fprintf(c.out, "*** ENVELOPE RECORDS %s ***\n", path)
	}
	smtputf8 := 0
	if env.SMTPUTF8 {
		smtputf8 = 1
	}
	// Postfix: content size, data offset, recipient count, qmgr
	// options, content length, SMTPUTF8 flags.
	c.record(offSizes, recSize, "message_size", fmt.Sprintf("%15d %15d %15d %15d %15d %15d",
		contentLen, contentOff, qf.NumRecipients(), 0, contentLen, smtputf8))
	c.timeRecord(offArrival, recTime, "message_arrival_time", env.ArrivalTime)
	c.timeRecord(offCreate, recAttr, "create_time", env.CreateTime)
	attrs := envelopeAttrs(env)
	// Postfix shows rewrite_context before the sender, the other
	// attributes after it.
	for i, a := range attrs {
		if a.Name == "rewrite_context" {
			c.record(lay.attr(i), recAttr, "named_attribute", a.Name+"="+a.Value)
		}
	}
	if env.SenderFullName != "" {
		c.record(lay.fieldOff(1), recFull, "sender_fullname", env.SenderFullName)
	}
	c.record(lay.fieldOff(0), recFrom, "sender", env.Sender)
	for i, a := range attrs {
		if a.Name != "rewrite_context" {
			c.record(lay.attr(i), recAttr, "named_attribute", a.Name+"="+a.Value)
		}
	}
	err := qf.Recipients(func(r queue.Recipient) error {
		if r.Extracted {
			return errStop
		}
		c.recipient(lay.rcpt(r.Index), r)
		return nil
	})
	if err != nil && err != errStop {
		c.fatalf("%s: record read error: %s", path, err)
	}
}

var errStop = errors.New("stop")

func (c *cat) recipient(off int64, r queue.Recipient) {
	if r.ORCPT != "" {
		c.record(off, recAttr, "named_attribute", "dsn_orig_rcpt="+r.ORCPT)
	}
	if r.Notify != 0 {
		c.record(off, recAttr, "named_attribute", "notify_flags="+strconv.Itoa(r.Notify))
	}
	if r.OrigAddress != "" {
		c.record(off, recOrcp, "original_recipient", r.OrigAddress)
	}
	if r.Done {
		c.record(off, recDone, "done_recipient", r.Address)
	} else {
		c.record(off, recRcpt, "recipient", r.Address)
	}
}

// extracted prints the extracted section and returns the offset of the
// end of the file's records (the trailer), or noOffset.
func (c *cat) extracted(path string, qf *queue.File, env *queue.Envelope, lay *layout, xoff int64) int64 {
	for i, a := range env.Extracted {
		c.record(lay.xattr(i), recAttr, "named_attribute", a.Name+"="+a.Value)
	}
	err := qf.Recipients(func(r queue.Recipient) error {
		if r.Extracted {
			c.recipient(lay.rcpt(r.Index), r)
		}
		return nil
	})
	if err != nil {
		c.fatalf("%s: record read error: %s", path, err)
	}
	return lay.endOff()
}

// content prints the message lines: the header lines with -h, from the
// first non-header line (normally the empty separator) to the end with
// -b. A continuation line (leading space or tab) stays in the header,
// as in Postfix.
func (c *cat) content(qf *queue.File, contentOff int64) error {
	br := bufio.NewReaderSize(qf.ContentReader(), 64<<10)
	inHeader := true
	off := contentOff
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			start := off
			if inHeader && !isHeader(chunk) && chunk[0] != ' ' && chunk[0] != '\t' {
				inHeader = false
				if !c.opt.body && !c.opt.env {
					return nil
				}
			}
			print := (inHeader && c.opt.header) || (!inHeader && c.opt.body)
			print = print && c.shown(start)
			if print {
				c.prefix(start, recNorm)
			}
			// A line longer than the buffer comes in pieces.
			for {
				off += int64(len(chunk))
				if print {
					c.out.Write(bytes.TrimSuffix(chunk, []byte("\n")))
				}
				if err != bufio.ErrBufferFull {
					break
				}
				chunk, err = br.ReadSlice('\n')
			}
			if print {
				c.out.WriteByte('\n')
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// isHeader says whether line begins with a header name and a colon
// (Postfix's is_header: printable ASCII other than ':' and space, then
// optional blanks, then ':').
func isHeader(line []byte) bool {
	i := 0
	for i < len(line) && line[i] > ' ' && line[i] < 127 && line[i] != ':' {
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	return i < len(line) && line[i] == ':'
}
