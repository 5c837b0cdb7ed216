package rewrite

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postern/pkg/address"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// flagNames spells a flags word for the golden files.
func flagNames(f uint32) string {
	var n []string
	for _, x := range []struct {
		bit  uint32
		name string
	}{
		{ClassLocal, "local"}, {ClassAlias, "alias"}, {ClassVirtual, "virtual"}, {ClassRelay, "relay"},
		{ClassDefault, "default"}, {FlagFinal, "final"}, {FlagRouted, "routed"}, {FlagError, "error"}, {FlagFail, "fail"},
	} {
		if f&x.bit != 0 {
			n = append(n, x.name)
		}
	}
	return strings.Join(n, ",")
}

// TestResolveGolden resolves every address of testdata/resolve.in (in
// external form) and compares with testdata/resolve.golden; go test
// -update rewrites the golden file.
func TestResolveGolden(t *testing.T) {
	tm := writeFile(t, "transport", "trans.test smtp:[127.0.0.1]:2860\njoe@ext.test smtp:[joe-relay.example]\n"+
		".sub.test smtp:[sub-relay.example]\nerr.test error:custom transport error text\n")
	r := newRewriter(t, "transport_maps", "texthash:"+tm, "inet_interfaces", "127.0.0.1, ::1")
	in, err := os.Open(filepath.Join("testdata", "resolve.in"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var out strings.Builder
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		a := address.Unquote(line)
		if line == "<>" {
			a = ""
		}
		res, _ := r.Resolve("", a)
		fmt.Fprintf(&out, "%s\n\trewrite: %s\n\tresolve: %s:%s <%s> %s\n", line, address.FormatPath(r.Rewrite(ContextLocal, a)),
			res.Transport, res.Nexthop, address.Quote(res.Recipient), flagNames(res.Flags))
	}
	golden := filepath.Join("testdata", "resolve.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Errorf("resolve results differ from %s (go test -update to accept):\n%s", golden, out.String())
	}
}
