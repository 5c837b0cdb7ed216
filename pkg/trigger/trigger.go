// Package trigger sends and receives Postfix-style wakeup triggers: a client
// connects to a daemon's unix socket (public/pickup, public/qmgr), writes a
// few request bytes and closes. Nothing listening is not an error: the
// daemon's own periodic scan finds the work later.
//
// Request bytes, as Postfix's qmgr(8) and pickup(8) understand them:
//
//	'W' wakeup (pickup: scan maildrop/; qmgr: scan incoming/)
//	'I' qmgr: scan incoming/
//	'D' qmgr: scan deferred/
//	'A' qmgr: scan deferred/ now, ignoring the backoff times (flush)
//	'F' qmgr: forget dead destinations (flush)
package trigger

import (
	"io"
	"net"
	"path/filepath"
	"time"
)

// Timeout bounds a whole trigger exchange; a daemon that is too busy to
// accept within it will scan by itself.
const Timeout = 500 * time.Millisecond

// Request bytes.
const (
	Wakeup   = 'W'
	Incoming = 'I'
	Deferred = 'D'
	ScanAll  = 'A'
	Flush    = 'F'
)

// Send connects to queueDir/service (e.g. "public/qmgr"; queueDir may be ""
// or "." inside the queue directory) and writes req. It reports whether a
// daemon took the request.
func Send(queueDir, service string, req ...byte) bool {
	c, err := net.DialTimeout("unix", filepath.Join(queueDir, service), Timeout)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(Timeout))
	_, err = c.Write(req)
	return err == nil
}

// Read returns the request bytes a client sent on conn (at most 64; a
// client that sends more is cut off), waiting at most Timeout.
func Read(conn net.Conn) []byte {
	conn.SetReadDeadline(time.Now().Add(Timeout))
	b, _ := io.ReadAll(io.LimitReader(conn, 64))
	return b
}
