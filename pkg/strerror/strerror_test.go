package strerror

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
)

func TestText(t *testing.T) {
	_, err := os.Open("/nonexistent/x")
	for _, tc := range []struct {
		err  error
		want string
	}{
		{err, "No such file or directory"},
		{syscall.EACCES, "Permission denied"},
		{fmt.Errorf("wrapped: %w", syscall.ENOTDIR), "Not a directory"},
		{errors.New("plain text"), "plain text"},
	} {
		if got := Text(tc.err); got != tc.want {
			t.Errorf("Text(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
