package getopt

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		opts     string // "x" or "x=arg" per option, space-separated
		operands []string
		err      string
	}{
		{[]string{"-hb", "name"}, "h b", []string{"name"}, ""},
		{[]string{"-s100", "-b", "f"}, "s=100 b", []string{"f"}, ""},
		{[]string{"-s", "100", "--", "-b"}, "s=100", []string{"-b"}, ""},
		{[]string{"-bs", "7", "x", "-h"}, "b s=7", []string{"x", "-h"}, ""},
		{[]string{"-", "-b"}, "", []string{"-", "-b"}, ""},
		{[]string{"-z"}, "", nil, "invalid option -- 'z'"},
		{[]string{"-b", "-s"}, "b", nil, "option requires an argument -- 's'"},
		{[]string{"-:"}, "", nil, "invalid option -- ':'"},
		{nil, "", []string{}, ""},
	} {
		var got []string
		operands, err := Parse(tc.args, "bhs:", func(opt byte, arg string) error {
			if arg != "" {
				got = append(got, string(opt)+"="+arg)
			} else {
				got = append(got, string(opt))
			}
			return nil
		})
		if tc.err != "" {
			var ge *Error
			if err == nil || err.Error() != tc.err || !errors.As(err, &ge) {
				t.Errorf("%q: error %v, want %s", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if strings.Join(got, " ") != tc.opts || !reflect.DeepEqual(operands, tc.operands) && len(operands)+len(tc.operands) > 0 {
			t.Errorf("%q: options %q operands %q, want %q %q", tc.args, got, operands, tc.opts, tc.operands)
		}
	}
}

func TestParseStopsAtCallbackError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	_, err := Parse([]string{"-bhb"}, "bh", func(byte, string) error { n++; return stop })
	if err != stop || n != 1 {
		t.Errorf("err %v after %d calls", err, n)
	}
}
