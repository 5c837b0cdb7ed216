package rewrite

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"postern/pkg/config"
)

// testConfig is the reference's instance: myhostname mx.pfref.test,
// mydomain and myorigin pfref.test, recipient_delimiter +.
func testConfig(t testing.TB, kv ...string) *config.Config {
	c := config.New()
	base := []string{
		"compatibility_level", "3.6",
		"myhostname", "mx.pfref.test",
		"mydomain", "pfref.test",
		"myorigin", "$mydomain",
		"mydestination", "$myhostname, localhost.$mydomain, localhost, $mydomain",
		"inet_interfaces", "127.0.0.1",
		"recipient_delimiter", "+",
		"append_dot_mydomain", "no",
		"virtual_alias_domains", "valias.test",
		"virtual_mailbox_domains", "vmbox.test",
		"relay_domains", "relay.test",
	}
	for _, l := range [][]string{base, kv} {
		for i := 0; i+1 < len(l); i += 2 {
			c.Set(l[i], l[i+1])
		}
	}
	return c
}

func newRewriter(t *testing.T, kv ...string) *Rewriter {
	t.Helper()
	r, err := New(testConfig(t, kv...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func TestRewriteLocal(t *testing.T) {
	r := newRewriter(t)
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"@", ""},
		{"pfa", "pfa@pfref.test"},
		{"pfa@pfref.test", "pfa@pfref.test"},
		{"host!user", "user@host"},
		{"a!b!c", "b!c@a"},
		{"user%host", "user@host"},
		{"a%b%c", "a%b@c"},
		{"@hop1,@hop2:user@dom.example", "user@dom.example"},
		{"@hop.example:pfa@pfref.test", "pfa@pfref.test"},
		{"pfa@PFREF.TEST.", "pfa@PFREF.TEST"},
		{"x@a..", "x@a.."},
		{"x@.", "x@."},
		{"user@host", "user@host"},
		{"foo bar", "foo bar@pfref.test"},
		{"foo bar!baz", "foo bar!baz@pfref.test"},
		{"user@x@y", "user@x@y"},
		{"MAILER-DAEMON", "MAILER-DAEMON@pfref.test"},
	} {
		if got := r.Rewrite(ContextLocal, tc.in); got != tc.want {
			t.Errorf("Rewrite(local, %q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRewriteOptions(t *testing.T) {
	r := newRewriter(t, "append_dot_mydomain", "yes")
	for _, tc := range []struct{ in, want string }{
		{"user@host", "user@host.pfref.test"},
		{"user@host.example", "user@host.example"},
		{"user@[192.0.2.1]", "user@[192.0.2.1]"},
		{"user", "user@pfref.test"},
	} {
		if got := r.Rewrite(ContextLocal, tc.in); got != tc.want {
			t.Errorf("append_dot_mydomain: Rewrite(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	r = newRewriter(t, "swap_bangpath", "no", "allow_percent_hack", "no", "append_at_myorigin", "no")
	for _, in := range []string{"host!user", "user%host", "user"} {
		if got := r.Rewrite(ContextLocal, in); got != in {
			t.Errorf("all off: Rewrite(%q) = %q", in, got)
		}
	}
	r = newRewriter(t, "swap_bangpath", "no")
	if got := r.Rewrite(ContextLocal, "a!b%c"); got != "a!b@c" {
		t.Errorf("swap_bangpath=no: %q", got)
	}
}

func TestRewriteRemote(t *testing.T) {
	r := newRewriter(t, "append_dot_mydomain", "yes")
	for _, tc := range []struct{ in, want string }{
		{"pfa", "pfa"},
		{"", ""},
		{"host!user", "user@host"},
		{"user@host", "user@host"},
		{"@hop:u@x.example", "u@x.example"},
	} {
		if got := r.Rewrite(ContextRemote, tc.in); got != tc.want {
			t.Errorf("Rewrite(remote, %q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	r = newRewriter(t, "remote_header_rewrite_domain", "domain.invalid")
	if got := r.Rewrite(ContextRemote, "pfa"); got != "pfa@domain.invalid" {
		t.Errorf("remote_header_rewrite_domain: %q", got)
	}
}

func TestMyoriginFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "mailname")
	os.WriteFile(f, []byte("origin.example.test\n"), 0o644)
	r := newRewriter(t, "myorigin", f)
	if got := r.Rewrite(ContextLocal, "unq"); got != "unq@origin.example.test" {
		t.Errorf("got %q", got)
	}
}

type want struct {
	transport, nexthop, rcpt string
	flags                    uint32
}

func checkResolve(t *testing.T, r *Rewriter, sender, in string, w want) {
	t.Helper()
	res, err := r.Resolve(sender, in)
	if err != nil && w.flags&FlagFail == 0 {
		t.Errorf("Resolve(%q): %v", in, err)
	}
	if res.Transport != w.transport || res.Nexthop != w.nexthop || res.Recipient != w.rcpt || res.Flags != w.flags {
		t.Errorf("Resolve(%q) = %q %q %q %#x\n                want %q %q %q %#x", in,
			res.Transport, res.Nexthop, res.Recipient, res.Flags, w.transport, w.nexthop, w.rcpt, w.flags)
	}
}

const (
	local   = ClassLocal | FlagFinal
	valias  = ClassAlias | FlagFinal
	vmbox   = ClassVirtual | FlagFinal
	relay   = ClassRelay
	deflt   = ClassDefault
	unknown = "5.1.1 User unknown in virtual alias table"
)

func TestResolveClasses(t *testing.T) {
	r := newRewriter(t)
	for _, tc := range []struct {
		in string
		w  want
	}{
		{"pfa@pfref.test", want{"local", "mx.pfref.test", "pfa@pfref.test", local}},
		{"pfa@PFREF.TEST.", want{"local", "mx.pfref.test", "pfa@PFREF.TEST", local}},
		{"user@localhost", want{"local", "mx.pfref.test", "user@localhost", local}},
		{"user@mx.pfref.test", want{"local", "mx.pfref.test", "user@mx.pfref.test", local}},
		{"pfa", want{"local", "mx.pfref.test", "pfa@pfref.test", local}},
		{"", want{"local", "mx.pfref.test", "MAILER-DAEMON@mx.pfref.test", local}},
		{"user@[127.0.0.1]", want{"local", "mx.pfref.test", "user@[127.0.0.1]", local}},
		{"user@[192.0.2.1]", want{"smtp", "[192.0.2.1]", "user@[192.0.2.1]", deflt}},
		{"info@valias.test", want{"error", unknown, "info@valias.test", valias}},
		{"info@VALIAS.test", want{"error", unknown, "info@VALIAS.test", valias}},
		{"x@vmbox.test", want{"virtual", "vmbox.test", "x@vmbox.test", vmbox}},
		{"x@relay.test", want{"relay", "relay.test", "x@relay.test", relay}},
		{"x@sub.relay.test", want{"relay", "sub.relay.test", "x@sub.relay.test", relay}},
		{"x@example.com", want{"smtp", "example.com", "x@example.com", deflt}},
		// Routing via a local domain is resolved, not flagged.
		{"user%elsewhere.example@pfref.test", want{"smtp", "elsewhere.example", "user@elsewhere.example", deflt}},
		{"elsewhere.example!user@pfref.test", want{"smtp", "elsewhere.example", "user@elsewhere.example", deflt}},
		{"user@elsewhere.example@pfref.test", want{"smtp", "elsewhere.example", "user@elsewhere.example", deflt}},
		{"user%pfref.test@localhost", want{"local", "mx.pfref.test", "user@pfref.test", local}},
		// Routing operators left in a remote address.
		{"user@a@b.example", want{"smtp", "b.example", "user@a@b.example", deflt | FlagRouted}},
		{"user%a@b.example", want{"smtp", "b.example", "user%a@b.example", deflt | FlagRouted}},
		{"a!user@b.example", want{"smtp", "b.example", "a!user@b.example", deflt | FlagRouted}},
		// A quoted local part is cracked open (resolve_dequoted_address).
		{"a b%remote.example@pfref.test", want{"smtp", "remote.example", "a b@remote.example", deflt}},
		{"@pfref.test", want{"local", "mx.pfref.test", "MAILER-DAEMON@pfref.test", local}},
		// Bad syntax.
		{"x@1.2.3.4", want{"error", BadSyntaxText, "x@1.2.3.4", deflt | FlagError}},
		{"x@bad..domain", want{"error", BadSyntaxText, "x@bad..domain", deflt | FlagError}},
		{"x@[300.1.1.1]", want{"error", BadSyntaxText, "x@[300.1.1.1]", deflt | FlagError}},
		{"x@", want{"error", BadSyntaxText, "x@", deflt | FlagError}},
		{"-opt@pfref.test", want{"error", BadSyntaxText, "-opt@pfref.test", local | FlagError}},
	} {
		checkResolve(t, r, "", tc.in, tc.w)
	}
}

func TestResolveOptions(t *testing.T) {
	r := newRewriter(t, "resolve_numeric_domain", "yes", "allow_min_user", "yes", "resolve_dequoted_address", "no",
		"show_user_unknown_table_name", "no")
	checkResolve(t, r, "", "x@1.2.3.4", want{"smtp", "[1.2.3.4]", "x@[1.2.3.4]", deflt})
	checkResolve(t, r, "", "x@127.0.0.1", want{"local", "mx.pfref.test", "x@[127.0.0.1]", local})
	checkResolve(t, r, "", "-opt@pfref.test", want{"local", "mx.pfref.test", "-opt@pfref.test", local})
	checkResolve(t, r, "", "a b%remote.example@pfref.test", want{"local", "mx.pfref.test", "a b%remote.example@pfref.test", local | FlagRouted})
	checkResolve(t, r, "", "info@valias.test", want{"error", "5.1.1 User unknown", "info@valias.test", valias})

	r = newRewriter(t, "append_at_myorigin", "no")
	checkResolve(t, r, "", "bare", want{"local", "mx.pfref.test", "bare@mx.pfref.test", local})

	// Class precedence: mydestination wins over the virtual lists.
	r = newRewriter(t, "virtual_alias_domains", "pfref.test")
	checkResolve(t, r, "", "a@pfref.test", want{"local", "mx.pfref.test", "a@pfref.test", local})

	// relay_domains without parent matching (parent_domain_matches_subdomains
	// emptied): only ".domain" matches subdomains.
	r = newRewriter(t, "parent_domain_matches_subdomains", "", "relay_domains", "relay.test .dot.test")
	checkResolve(t, r, "", "x@sub.relay.test", want{"smtp", "sub.relay.test", "x@sub.relay.test", deflt})
	checkResolve(t, r, "", "x@a.dot.test", want{"relay", "a.dot.test", "x@a.dot.test", relay})
	checkResolve(t, r, "", "x@dot.test", want{"smtp", "dot.test", "x@dot.test", deflt})
}

func TestResolveNexthops(t *testing.T) {
	r := newRewriter(t, "relayhost", "[smtp.isp.example]:587")
	checkResolve(t, r, "", "x@example.com", want{"smtp", "[smtp.isp.example]:587", "x@example.com", deflt})
	checkResolve(t, r, "", "x@relay.test", want{"relay", "[smtp.isp.example]:587", "x@relay.test", relay})
	checkResolve(t, r, "", "x@pfref.test", want{"local", "mx.pfref.test", "x@pfref.test", local})
	checkResolve(t, r, "", "x@vmbox.test", want{"virtual", "vmbox.test", "x@vmbox.test", vmbox})

	// A nexthop in the transport parameter beats relayhost.
	r = newRewriter(t, "relayhost", "[smtp.isp.example]:587", "relay_transport", "relay:[gw.example]:25",
		"local_transport", "local", "default_transport", "error:no outside mail")
	checkResolve(t, r, "", "x@relay.test", want{"relay", "[gw.example]:25", "x@relay.test", relay})
	checkResolve(t, r, "", "x@pfref.test", want{"local", "pfref.test", "x@pfref.test", local})
	checkResolve(t, r, "", "x@example.com", want{"error", "no outside mail", "x@example.com", deflt})

	// Sender-dependent relayhost and default transport.
	r = newRewriter(t, "relayhost", "[smtp.isp.example]",
		"sender_dependent_relayhost_maps", "inline:{a@pfref.test=[a-relay.example], @other.test=DUNNO, <>=[null-relay.example]}",
		"sender_dependent_default_transport_maps", "inline:{b@pfref.test=special}")
	if !r.SenderDependent() {
		t.Error("SenderDependent = false")
	}
	checkResolve(t, r, "a@pfref.test", "x@example.com", want{"smtp", "[a-relay.example]", "x@example.com", deflt})
	checkResolve(t, r, "a+ext@pfref.test", "x@example.com", want{"smtp", "[a-relay.example]", "x@example.com", deflt})
	checkResolve(t, r, "z@other.test", "x@example.com", want{"smtp", "example.com", "x@example.com", deflt})
	checkResolve(t, r, "", "x@example.com", want{"smtp", "[null-relay.example]", "x@example.com", deflt})
	checkResolve(t, r, "c@pfref.test", "x@example.com", want{"smtp", "[smtp.isp.example]", "x@example.com", deflt})
	checkResolve(t, r, "b@pfref.test", "x@example.com", want{"special", "[smtp.isp.example]", "x@example.com", deflt})
	checkResolve(t, r, "b@pfref.test", "x@relay.test", want{"relay", "[smtp.isp.example]", "x@relay.test", relay})
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The transport_maps rows of the reference (section 8).
func TestResolveTransportMaps(t *testing.T) {
	tm := writeFile(t, "transport", `
trans.test        smtp:[127.0.0.1]:2860
colon.test        :
colonhop.test     :[127.0.0.1]:2860
transonly.test    relay:
special@user.test local:
user.test         smtp:[10.0.0.1]
err.test          error:custom transport error text
errnohop.test     error
retry.test        retry:4.3.2 come back later
.sub.test         smtp:[sub-relay.example]
parent.test       smtp:[parent-relay.example]
joe@ext.test      smtp:[joe-relay.example]
valias.test       smtp:[never.example]
pfref.test        lmtp:unix:private/dovecot-lmtp
`)
	r := newRewriter(t, "transport_maps", "texthash:"+tm, "relayhost", "[smarthost.example]")
	for _, tc := range []struct {
		in string
		w  want
	}{
		{"x@trans.test", want{"smtp", "[127.0.0.1]:2860", "x@trans.test", deflt}},
		{"x@colon.test", want{"smtp", "[smarthost.example]", "x@colon.test", deflt}},
		{"x@colonhop.test", want{"smtp", "[127.0.0.1]:2860", "x@colonhop.test", deflt}},
		{"x@transonly.test", want{"relay", "transonly.test", "x@transonly.test", deflt}},
		{"special@user.test", want{"local", "user.test", "special@user.test", deflt}},
		{"other@user.test", want{"smtp", "[10.0.0.1]", "other@user.test", deflt}},
		{"x@err.test", want{"error", "custom transport error text", "x@err.test", deflt}},
		{"x@errnohop.test", want{"error", "Address is undeliverable", "x@errnohop.test", deflt}},
		{"x@retry.test", want{"retry", "4.3.2 come back later", "x@retry.test", deflt}},
		{"x@a.sub.test", want{"smtp", "[sub-relay.example]", "x@a.sub.test", deflt}},
		{"x@b.a.sub.test", want{"smtp", "[sub-relay.example]", "x@b.a.sub.test", deflt}},
		{"x@sub.test", want{"smtp", "[smarthost.example]", "x@sub.test", deflt}},
		{"x@parent.test", want{"smtp", "[parent-relay.example]", "x@parent.test", deflt}},
		{"x@a.parent.test", want{"smtp", "[smarthost.example]", "x@a.parent.test", deflt}},
		{"joe+tag@ext.test", want{"smtp", "[joe-relay.example]", "joe+tag@ext.test", deflt}},
		{"JOE@EXT.TEST", want{"smtp", "[joe-relay.example]", "JOE@EXT.TEST", deflt}},
		{"info@valias.test", want{"error", unknown, "info@valias.test", valias}},
		{"x@pfref.test", want{"lmtp", "unix:private/dovecot-lmtp", "x@pfref.test", local}},
	} {
		checkResolve(t, r, "", tc.in, tc.w)
	}

	// parent_domain_matches_subdomains with transport_maps: "parent.test"
	// matches subdomains.
	r = newRewriter(t, "transport_maps", "texthash:"+tm, "parent_domain_matches_subdomains", "transport_maps")
	checkResolve(t, r, "", "x@a.parent.test", want{"smtp", "[parent-relay.example]", "x@a.parent.test", deflt})

	// The "*" wildcard, and regexp tables see only the full address.
	re := writeFile(t, "transport.re", "/^re@/ smtp:[re.example]\n/^fixed\\.test$/ smtp:[never.example]\n")
	r = newRewriter(t, "transport_maps", "regexp:"+re+" inline:{*=smtp:[wild.example]}")
	checkResolve(t, r, "", "re@x.test", want{"smtp", "[re.example]", "re@x.test", deflt})
	checkResolve(t, r, "", "a@fixed.test", want{"smtp", "[wild.example]", "a@fixed.test", deflt})
	checkResolve(t, r, "", "", want{"smtp", "[wild.example]", "MAILER-DAEMON@mx.pfref.test", local})
}

func TestResolveLookupFailure(t *testing.T) {
	r := newRewriter(t, "transport_maps", "fail:broken")
	res, err := r.Resolve("", "x@example.com")
	if !errors.Is(err, ErrLookup) || res.Flags&FlagFail == 0 {
		t.Errorf("transport_maps fail: = %+v, %v", res, err)
	}
	r = newRewriter(t, "mydestination", "fail:broken")
	if res, err := r.Resolve("", "x@example.com"); err == nil || res.Flags&FlagFail == 0 {
		t.Errorf("mydestination fail: = %+v, %v", res, err)
	}
	r = newRewriter(t, "relay_domains", "fail:broken")
	if res, err := r.Resolve("", "x@example.com"); err == nil || res.Flags&FlagFail == 0 {
		t.Errorf("relay_domains fail: = %+v, %v", res, err)
	}
	// The local class needs no relay_domains lookup.
	if _, err := r.Resolve("", "x@pfref.test"); err != nil {
		t.Errorf("local with broken relay_domains: %v", err)
	}
}

func TestDomainListFileAndTable(t *testing.T) {
	f := writeFile(t, "destfile", "extra1.example.test\n# comment\nextra2.example.test extra3.example.test\n")
	r := newRewriter(t, "mydestination", "$myhostname, "+f+", inline:{tbl.example.test=x}, !neg.test, neg.test")
	for _, d := range []string{"extra1.example.test", "EXTRA3.example.test", "tbl.example.test", "mx.pfref.test"} {
		if ok, err := r.IsLocal(d); !ok || err != nil {
			t.Errorf("IsLocal(%q) = %v, %v", d, ok, err)
		}
	}
	for _, d := range []string{"neg.test", "pfref.test", "sub.extra1.example.test", "", "a..", "."} {
		if ok, _ := r.IsLocal(d); ok {
			t.Errorf("IsLocal(%q) = true", d)
		}
	}
}

func TestFindAddress(t *testing.T) {
	r := newRewriter(t)
	m := NewMaps("test")
	if _, found, _ := r.FindAddress(m, "x@y"); found {
		t.Error("empty maps found something")
	}
	for _, tc := range []struct {
		inline, addr, want string
	}{
		{"{u+e@pfref.test=1, u@pfref.test=2, u+e=3, u=4, @pfref.test=5}", "u+e@pfref.test", "1"},
		{"{u@pfref.test=2, u+e=3, u=4, @pfref.test=5}", "u+e@pfref.test", "2"},
		{"{u+e=3, u=4, @pfref.test=5}", "u+e@pfref.test", "3"},
		{"{u=4, @pfref.test=5}", "u+e@pfref.test", "4"},
		{"{@pfref.test=5}", "u+e@pfref.test", "5"},
		{"{u=4, @remote.test=5}", "u@remote.test", "5"},
		{"{u=4}", "u@remote.test", ""},
		{"{<>=null}", "<>", "null"},
	} {
		r2 := newRewriter(t, "transport_maps", "inline:"+tc.inline)
		v, _, err := r2.FindAddress(r2.transport, tc.addr)
		if v != tc.want || err != nil {
			t.Errorf("FindAddress(%s, %q) = %q, %v; want %q", tc.inline, tc.addr, v, err, tc.want)
		}
	}
}

func TestChanged(t *testing.T) {
	tm := writeFile(t, "transport", "a.test smtp:\n")
	r := newRewriter(t, "transport_maps", "texthash:"+tm)
	if n := r.Changed(); n != "" {
		t.Fatalf("Changed = %q before any change", n)
	}
	if err := os.WriteFile(tm, []byte("a.test smtp:\nb.test relay:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if n := r.Changed(); n != "texthash:"+tm {
		t.Errorf("Changed = %q after a change", n)
	}
}
