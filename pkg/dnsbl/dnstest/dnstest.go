// Package dnstest runs a DNS server in-process for tests: DNSBL zones and
// MX/A records that a resolv.conf "nameserver 127.0.0.1:PORT" line (a
// postern extension, see postern/pkg/dnsbl) or policy.WithDNSServer points
// a daemon at.
package dnstest

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// Serve runs a DNS server on 127.0.0.1 (UDP and TCP on the same port)
// answering from zone, a map of "name. TYPE" to RR texts; names it has
// no record of are NXDOMAIN (a name with an empty record list exists without data); "servfail." names
// get SERVFAIL. It returns the server's address.
func Serve(t testing.TB, zone map[string][]string) string {
	t.Helper()
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		name := strings.ToLower(q.Name)
		if strings.HasSuffix(name, "servfail.") {
			m.Rcode = dns.RcodeServerFailure
			w.WriteMsg(m)
			return
		}
		exists := false
		for k, rrs := range zone {
			kn, kt, _ := strings.Cut(k, " ")
			if kn != name {
				continue
			}
			exists = true
			if kt != dns.TypeToString[q.Qtype] {
				continue
			}
			for _, txt := range rrs {
				rr, err := dns.NewRR(txt)
				if err != nil {
					t.Errorf("bad RR %q: %v", txt, err)
					continue
				}
				m.Answer = append(m.Answer, rr)
			}
		}
		if !exists {
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})
	// UDP and TCP on one port: the UDP port the kernel picks may be in use
	// for TCP (an ephemeral port of some connection), so try a few.
	var pc net.PacketConn
	var ln net.Listener
	var err error
	for try := 0; try < 20; try++ {
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	udp := &dns.Server{PacketConn: pc, Handler: handler}
	tcp := &dns.Server{Listener: ln, Handler: handler}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	t.Cleanup(func() { udp.Shutdown(); tcp.Shutdown() })
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}
