package rewrite

import (
	"testing"
)

func FuzzRewriteResolve(f *testing.F) {
	for _, s := range []string{"", "@", "pfa", "host!user", "a%b%c", "@a,@b:c@d", "user@a@b.example",
		"a b%remote.example@pfref.test", "x@[127.0.0.1]", "x@1.2.3.4", "-x@pfref.test", "user@", "a@b@", "\"@x", "a!b!@pfref.test"} {
		f.Add(s, false)
	}
	r1, err := New(testConfig(nil))
	if err != nil {
		f.Fatal(err)
	}
	r2, err := New(testConfig(nil, "append_dot_mydomain", "yes", "resolve_numeric_domain", "yes", "resolve_null_domain", "yes"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, addr string, alt bool) {
		r := r1
		if alt {
			r = r2
		}
		_ = r.Rewrite(ContextLocal, addr)
		_ = r.Rewrite(ContextRemote, addr)
		res, err := r.Resolve("", addr)
		if err != nil {
			t.Fatalf("Resolve(%q): %v (%+v)", addr, err, res)
		}
		if c := res.Class(); c == 0 || c&(c-1) != 0 {
			t.Fatalf("Resolve(%q): class bits %#x", addr, c)
		}
		if res.Transport == "" || res.Nexthop == "" {
			t.Fatalf("Resolve(%q): empty transport or nexthop: %+v", addr, res)
		}
	})
}
