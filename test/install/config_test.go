package install

import (
	"path/filepath"
	"testing"

	"postern/pkg/config"
)

// checkWithOurParser reads DIR/main.cf and DIR/master.cf with pkg/config, as
// every postern program will: no syntax error or warning, every main.cf name
// a known parameter, every value expandable without undefined names.
func checkWithOurParser(t *testing.T, dir string) {
	t.Helper()
	f, err := config.ParseMainCF(filepath.Join(dir, "main.cf"))
	if err != nil {
		t.Fatalf("pkg/config: %v", err)
	}
	for _, w := range f.Warnings {
		t.Errorf("pkg/config warning: %s", w)
	}
	c := config.FromFile(dir, f)
	for _, e := range f.Entries {
		if _, ok := config.Lookup(e.Name); !ok {
			t.Errorf("%s: %s is not a known parameter", f.Path, e.Name)
		}
		if _, err := c.ExpandValue(e.Name); err != nil {
			t.Errorf("%s: %s: %v", f.Path, e.Name, err)
		}
	}
	if u := c.Undefined(); len(u) != 0 {
		t.Errorf("%s: undefined parameters %v", f.Path, u)
	}
	if _, err := config.ParseMasterCF(filepath.Join(dir, "master.cf")); err != nil {
		t.Errorf("pkg/config: %v", err)
	}
}

func TestShippedConfigOurParser(t *testing.T) {
	checkWithOurParser(t, filepath.Join(repoRoot(t), "etc"))
}
