// Package sasltest runs a small fake Dovecot auth server for tests: it
// speaks the client side of the protocol that pkg/sasl's Dovecot client
// uses, with the PLAIN (go-sasl) and LOGIN (pkg/sasl) server mechanisms
// and a fixed user table. A failed password gets "FAIL id user=NAME" with
// no reason, as Dovecot answers; the user "tempfail" gets a temporary
// failure.
package sasltest

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	gosasl "github.com/emersion/go-sasl"

	"postern/pkg/sasl"
)

// Server is a running fake auth server.
type Server struct {
	l     net.Listener
	users map[string]string
	mu    sync.Mutex
	// Requests holds the AUTH lines received, with resp= values removed.
	Requests []string
}

// Start listens on the unix socket path.
func Start(path string, users map[string]string) (*Server, error) {
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	s := &Server{l: l, users: users}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error { return s.l.Close() }

var errTemp = errors.New("temp")

func (s *Server) check(user, pass string) error {
	if user == "tempfail" {
		return errTemp
	}
	if p, ok := s.users[user]; ok && p == pass {
		return nil
	}
	return errors.New("bad password")
}

func (s *Server) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\tplaintext\nMECH\tANONYMOUS\tanonymous\nSPID\t1\nCUID\t1\nCOOKIE\t00\nDONE\n")
	var mech gosasl.Server
	var id, user string
	step := func(resp []byte) {
		ch, done, err := mech.Next(resp)
		switch {
		case err == errTemp:
			fmt.Fprintf(c, "FAIL\t%s\ttemp\treason=temporary lookup failure\n", id)
		case err != nil:
			fmt.Fprintf(c, "FAIL\t%s\tuser=%s\n", id, user)
		case done:
			fmt.Fprintf(c, "OK\t%s\tuser=%s\n", id, user)
		default:
			fmt.Fprintf(c, "CONT\t%s\t%s\n", id, base64.StdEncoding.EncodeToString(ch))
		}
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		switch f[0] {
		case "AUTH":
			if len(f) < 3 {
				return
			}
			id = f[1]
			var resp []byte
			var logged []string
			for _, a := range f {
				if v, ok := strings.CutPrefix(a, "resp="); ok {
					resp, _ = base64.StdEncoding.DecodeString(v)
					if resp == nil {
						resp = []byte{}
					}
					continue
				}
				logged = append(logged, a)
			}
			s.mu.Lock()
			s.Requests = append(s.Requests, strings.Join(logged, "\t"))
			s.mu.Unlock()
			switch strings.ToUpper(f[2]) {
			case "PLAIN":
				mech = gosasl.NewPlainServer(func(_, u, p string) error { user = u; return s.check(u, p) })
			case "LOGIN":
				mech = sasl.NewLoginServer(func(u, p string) error { user = u; return s.check(u, p) })
			default:
				fmt.Fprintf(c, "FAIL\t%s\treason=Unsupported mechanism\n", id)
				continue
			}
			step(resp)
		case "CONT":
			if len(f) < 3 || f[1] != id || mech == nil {
				return
			}
			resp, err := base64.StdEncoding.DecodeString(f[2])
			if err != nil {
				fmt.Fprintf(c, "FAIL\t%s\treason=Invalid base64 data\n", id)
				continue
			}
			step(resp)
		}
	}
}

// AuthRequests returns a copy of the AUTH lines received.
func (s *Server) AuthRequests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.Requests...)
}
