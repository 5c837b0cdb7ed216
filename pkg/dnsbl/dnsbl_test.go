package dnsbl

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"postern/pkg/dnsbl/dnstest"
)

var zone = map[string][]string{
	"2.0.0.127.zen.example. A":   {"2.0.0.127.zen.example. 60 IN A 127.0.0.2"},
	"2.0.0.127.zen.example. TXT": {`2.0.0.127.zen.example. 60 IN TXT "see https://zen.example/2"`},
	"10.0.0.127.zen.example. A":  {"10.0.0.127.zen.example. 60 IN A 127.0.0.10"},
	"example.org. MX":            {"example.org. 60 IN MX 10 mx.example.org."},
	"aonly.example. A":           {"aonly.example. 60 IN A 192.0.2.1"},
	"nullmx.example. MX":         {"nullmx.example. 60 IN MX 0 ."},
	"nodata.example. TXT":        {},
}

func testResolver(t *testing.T) *Resolver {
	addr := dnstest.Serve(t, zone)
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(conf, []byte("# test\nnameserver "+addr+"\noptions timeout:2 attempts:1\n"), 0o644)
	r, err := New(conf)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Servers) != 1 || r.Servers[0] != addr || r.Timeout != 2*time.Second || r.Attempts != 1 {
		t.Fatalf("resolver %+v", r)
	}
	return r
}

func TestCheck(t *testing.T) {
	r := testResolver(t)
	ctx := context.Background()
	name := ReverseName(netip.MustParseAddr("127.0.0.2"), "zen.example")
	if name != "2.0.0.127.zen.example" {
		t.Fatal(name)
	}
	l, ok := r.Check(ctx, name, nil)
	if !ok || l.Reason != "see https://zen.example/2" || l.Addrs[0].String() != "127.0.0.2" {
		t.Errorf("listing %+v %v", l, ok)
	}
	f, _ := ParseFilter("127.0.0.[3..11]")
	if _, ok := r.Check(ctx, name, f); ok {
		t.Error("filter should exclude 127.0.0.2")
	}
	if _, ok := r.Check(ctx, "10.0.0.127.zen.example", f); !ok {
		t.Error("filter should match 127.0.0.10")
	}
	if _, ok := r.Check(ctx, "3.0.0.127.zen.example", nil); ok {
		t.Error("unlisted")
	}
	if _, ok := r.Check(ctx, "x.servfail.", nil); ok {
		t.Error("SERVFAIL is not listed")
	}
}

func TestMailHost(t *testing.T) {
	r := testResolver(t)
	ctx := context.Background()
	for _, tt := range []struct {
		d    string
		st   Status
		null bool
	}{
		{"example.org", Found, false},
		{"aonly.example", Found, false},
		{"nullmx.example", Found, true},
		{"nx.example", NotFound, false},
		{"nodata.example", NotFound, false},
		{"x.servfail", TempFail, false},
	} {
		st, null := r.MailHost(ctx, tt.d)
		if st != tt.st || null != tt.null {
			t.Errorf("%s: %v %v, want %v %v", tt.d, st, null, tt.st, tt.null)
		}
	}
}

func TestTimeout(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	r := &Resolver{Servers: []string{pc.LocalAddr().String()}, Timeout: 50 * time.Millisecond, Attempts: 1}
	if _, st := r.LookupA(context.Background(), "x.example"); st != TempFail {
		t.Errorf("silent server: %v", st)
	}
}

func TestReverseNameV6(t *testing.T) {
	got := ReverseName(netip.MustParseAddr("2001:db8::1"), "zone.example")
	want := "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zone.example"
	if got != want {
		t.Errorf("%s", got)
	}
}

func TestParseFilter(t *testing.T) {
	for _, tt := range []struct {
		f   string
		ok  []string
		bad []string
	}{
		{"127.0.0.2", []string{"127.0.0.2"}, []string{"127.0.0.3"}},
		{"127.0.0.[2..11]", []string{"127.0.0.2", "127.0.0.11"}, []string{"127.0.0.1", "127.0.0.12"}},
		{"127.0.0.[2;4]", []string{"127.0.0.2", "127.0.0.4"}, []string{"127.0.0.3"}},
		{"127.0.[0..1].[2;4..5]", []string{"127.0.1.5"}, []string{"127.0.2.2"}},
	} {
		f, err := ParseFilter(tt.f)
		if err != nil {
			t.Fatalf("%s: %v", tt.f, err)
		}
		for _, a := range tt.ok {
			if !f.Match(netip.MustParseAddr(a)) {
				t.Errorf("%s should match %s", tt.f, a)
			}
		}
		for _, a := range tt.bad {
			if f.Match(netip.MustParseAddr(a)) {
				t.Errorf("%s should not match %s", tt.f, a)
			}
		}
	}
	for _, bad := range []string{"", "127.0.0", "127.0.0.256", "127.0.0.[5..2]", "a.b.c.d"} {
		if _, err := ParseFilter(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestServerAddr(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1": "192.0.2.1:53", "2001:db8::1": "[2001:db8::1]:53",
		"127.0.0.1:5353": "127.0.0.1:5353", "[::1]:5353": "[::1]:5353",
	} {
		if got, ok := ServerAddr(in); !ok || got != want {
			t.Errorf("%s: %s", in, got)
		}
	}
	if _, ok := ServerAddr("ns.example"); ok {
		t.Error("name accepted")
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"127.0.0.2", "127.0.0.[2..11]", "127.0.0.[2;4]", "[..].[;].1.1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := ParseFilter(s)
		if err == nil {
			flt.Match(netip.MustParseAddr("127.0.0.2"))
		}
	})
}
