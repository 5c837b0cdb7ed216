package dnsresolve

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"postern/pkg/dnsbl/dnstest"
)

func testResolver(t *testing.T) *Resolver {
	addr := dnstest.Serve(t, map[string][]string{
		"example.test. MX":     {"example.test. 60 IN MX 20 b.example.test.", "example.test. 60 IN MX 10 a.example.test.", "example.test. 60 IN MX 20 c.example.test."},
		"nullmx.test. MX":      {"nullmx.test. 60 IN MX 0 ."},
		"a.example.test. A":    {"a.example.test. 60 IN A 192.0.2.1", "a.example.test. 60 IN A 192.0.2.2"},
		"a.example.test. AAAA": {"a.example.test. 60 IN AAAA 2001:db8::1"},
		"nodata.test. TXT":     {},
	})
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(conf, []byte("nameserver "+addr+"\noptions timeout:2 attempts:1\n"), 0o644)
	r, err := Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestLookupMX(t *testing.T) {
	r := testResolver(t)
	ctx := context.Background()
	mxs, err := r.LookupMX(ctx, "example.test", true)
	if err != nil || len(mxs) != 3 || mxs[0].Host != "a.example.test" || mxs[1].Pref != 20 || mxs[2].Pref != 20 {
		t.Fatalf("%v %v", mxs, err)
	}
	_, err = r.LookupMX(ctx, "nullmx.test", true)
	if StatusOf(err) != NullMX || err.Error() != "Domain nullmx.test does not accept mail (nullMX)" {
		t.Errorf("null MX: %v", err)
	}
	_, err = r.LookupMX(ctx, "nosuch.test", true)
	if StatusOf(err) != NotFound || DSNOf(err) != "5.4.4" {
		t.Errorf("NXDOMAIN: %v", err)
	}
	_, err = r.LookupMX(ctx, "x.servfail", true)
	if StatusOf(err) != Retry || DSNOf(err) != "4.4.3" || err.Error() != "Host or domain name not found. Name service error for name=x.servfail type=MX: Host not found, try again" {
		t.Errorf("SERVFAIL: %v", err)
	}
}

func TestLookupHost(t *testing.T) {
	r := testResolver(t)
	ctx := context.Background()
	addrs, err := r.LookupHost(ctx, "a.example.test", true, true, false)
	if err != nil || len(addrs) != 3 || addrs[2].String() != "2001:db8::1" {
		t.Errorf("%v %v", addrs, err)
	}
	addrs, err = r.LookupHost(ctx, "a.example.test", true, false, true)
	if err != nil || len(addrs) != 2 {
		t.Errorf("v4 only: %v %v", addrs, err)
	}
	_, err = r.LookupHost(ctx, "nosuch.test", true, true, false)
	if err == nil || err.Error() != "Host or domain name not found. Name service error for name=nosuch.test type=A: Host not found" {
		t.Errorf("NXDOMAIN: %v", err)
	}
	_, err = r.LookupHost(ctx, "nodata.test", true, false, false)
	if err == nil || err.Error() != "Host or domain name not found. Name service error for name=nodata.test type=A: Host found but no data record of requested type" {
		t.Errorf("NODATA: %v", err)
	}
	addrs, err = r.LookupHost(ctx, "192.0.2.9", true, true, false)
	if err != nil || addrs[0].String() != "192.0.2.9" {
		t.Errorf("literal: %v %v", addrs, err)
	}
}
