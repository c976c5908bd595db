package ctl

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestServeAndCall(t *testing.T) {
	dir := t.TempDir()
	s := NewServer()
	s.Register("echo", func(args []string) (string, int) {
		if len(args) == 0 {
			return "echo needs an argument\n", 2
		}
		return strings.Join(args, " ") + "\n", 0
	}, "echo <words>   # print the words")
	if err := s.Listen(dir); err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	fi, err := os.Stat(filepath.Join(dir, SocketName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want 0600", fi.Mode().Perm())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f := func(args []string, wantCode int, wantOut string) {
		t.Helper()
		resp, err := Call(ctx, dir, args)
		if err != nil {
			t.Fatalf("Call(%q): %v", args, err)
		}
		if resp.Code != wantCode || !strings.Contains(resp.Output, wantOut) {
			t.Fatalf("Call(%q) = %d %q, want %d containing %q", args, resp.Code, resp.Output, wantCode, wantOut)
		}
	}
	f([]string{"echo", "a", "b"}, 0, "a b\n")
	f([]string{"echo"}, 2, "needs an argument")
	f([]string{"nope"}, 1, `unknown command "nope"`)
	f(nil, 0, "echo <words>")

	// A second node in the same directory is refused while the first answers.
	if err := NewServer().Listen(dir); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second Listen: %v, want 'already running'", err)
	}
}

func TestCallNodeDown(t *testing.T) {
	_, err := Call(context.Background(), t.TempDir(), []string{"status"})
	if !errors.Is(err, ErrNodeDown) {
		t.Fatalf("err = %v, want ErrNodeDown", err)
	}
}

func TestStaleSocketReplaced(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, SocketName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := NewServer()
	s.Register("ping", func([]string) (string, int) { return "pong\n", 0 })
	if err := s.Listen(dir); err != nil {
		t.Fatalf("Listen over a stale socket file: %v", err)
	}
	defer s.Close()
	resp, err := Call(context.Background(), dir, []string{"ping"})
	if err != nil || resp.Output != "pong\n" {
		t.Fatalf("ping = %q, %v", resp.Output, err)
	}
}
