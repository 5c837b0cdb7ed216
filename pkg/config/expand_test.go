package config

import (
	"strings"
	"testing"
)

func testConfig(t *testing.T, src string) *Config {
	t.Helper()
	f, err := ParseMainCFBytes("/cfg/main.cf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return FromFile("/cfg", f)
}

func TestExpand(t *testing.T) {
	c := testConfig(t, `
myhostname = host.example.test
mydomain = example.test
empty_one =
level = 3.6
`)
	for _, tc := range []struct{ in, want string }{
		{"$myhostname", "host.example.test"},
		{"${myhostname}", "host.example.test"},
		{"$(mydomain)", "example.test"},
		{"localhost.$mydomain,x", "localhost.example.test,x"},
		{"[$$literal]", "[$literal]"},
		{"x${undefined_thing}y", "xy"},
		{"${myhostname?Hello $myhostname}", "Hello host.example.test"},
		{"${empty_one?set}", ""},
		{"${undefined_param:fallback}", "fallback"},
		{"${empty_one:fallback}", "fallback"},
		{"${mydomain:unused}", ""},
		{"${myhostname?{yes it is set}:{no}}", "yes it is set"},
		{"${nosuch?{yes}:{no, not set}}", "no, not set"},
		{"${nosuch:{braced}}", "braced"},
		{"${{$myhostname} == {host.example.test} ? {eq} : {ne}}", "eq"},
		{"${{abc} != {abd} ? {ne}:{eq}}", "ne"},
		{"${{5} < {10} ? {lt}:{ge}}", "lt"},
		{"${{10} <= {9} ? {le}:{gt}}", "gt"},
		{"${{3.6} <=level {3.10} ? {yes}:{no}}", "yes"},
		{"${{$level} <level {2} ? {subnet} : {host}}", "host"},
		{"${{0} <level {1} ? {} : {permit_mynetworks, reject}}", ""},
		{"${{1} <level {1} ? {} : {permit_mynetworks, reject}}", "permit_mynetworks, reject"},
		{"cost $", "cost $"},
	} {
		got, err := c.Expand(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
	}
	if u := c.Undefined(); strings.Join(u, ",") != "nosuch,undefined_param,undefined_thing" {
		t.Errorf("undefined: %v", u)
	}
}

func TestExpandLoop(t *testing.T) {
	c := testConfig(t, "a_x = $b_x\nb_x = $a_x\n")
	_, err := c.ExpandValue("a_x")
	if err == nil || !strings.HasPrefix(err.Error(), "unreasonable macro call nesting: ") {
		t.Errorf("got %v", err)
	}
	if c.Get("a_x") != "" {
		t.Errorf("Get of a loop must be empty")
	}
}

func TestExpandErrors(t *testing.T) {
	c := New()
	for _, in := range []string{"${unclosed", "${{a} == {b}}", "${a?{x}:{y}z}", "${{x} < {1} ? {a}}", "${ ? x}"} {
		if got, err := c.Expand(in); err == nil {
			t.Errorf("%q: expected an error, got %q", in, got)
		}
	}
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"$a", "${a?{b}:{c}}", "${{a}==${b}?{x}:{y}}", "$$", "${{1}<level{2}?{a}:{b}}"} {
		f.Add(s)
	}
	c := testConfig(&testing.T{}, "a = $b\nb = x${a:y}\nc = $c\n")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = c.Expand(s)
	})
}
