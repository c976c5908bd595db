package ctl

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// SocketName is the file name of the control socket inside the node's data directory.
const SocketName = "emqx_ctl.sock"

// Handler runs one command. args excludes the command name. It returns the text to print and
// the exit status for emqx_ctl (0 for success). Handlers run on the control server's own
// goroutines, never on an event loop, and may block briefly.
type Handler func(args []string) (output string, code int)

type command struct {
	usage []string // one line per sub-command, as emqx_ctl prints them
	run   Handler
}

type request struct {
	Args []string `json:"args"`
}

// Response is what the node answers to one request.
type Response struct {
	Code   int    `json:"code"`
	Output string `json:"output"`
}

// Server dispatches control requests to registered handlers. Register is safe for concurrent
// use with serving; a Server is used by one node.
type Server struct {
	mu       sync.RWMutex
	commands map[string]command
	ln       net.Listener
	path     string
	wg       sync.WaitGroup
}

// NewServer returns a server with no commands.
func NewServer() *Server {
	return &Server{commands: make(map[string]command)}
}

// Register adds or replaces the command name. usage lines are shown by `emqx_ctl` with no
// arguments and when the command is called wrongly.
func (s *Server) Register(name string, run Handler, usage ...string) {
	s.mu.Lock()
	s.commands[name] = command{usage: usage, run: run}
	s.mu.Unlock()
}

// Usage returns the usage lines of every command, sorted by command name.
func (s *Server) Usage() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	names := make([]string, 0, len(s.commands))
	for n := range s.commands {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		for _, u := range s.commands[n].usage {
			b.WriteString(u)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// Dispatch runs one command line and returns its response; it is what a connection gets.
func (s *Server) Dispatch(args []string) Response {
	if len(args) == 0 {
		return Response{Code: 0, Output: "Usage: emqx_ctl <command> [args]\n\n" + s.Usage() + "\n" + PlannedHelp()}
	}
	s.mu.RLock()
	cmd, ok := s.commands[args[0]]
	s.mu.RUnlock()
	if !ok {
		if _, later := Planned[args[0]]; later {
			return Response{Code: 1, Output: NotAvailable(args[0])}
		}
		return Response{Code: 1, Output: fmt.Sprintf("unknown command %q\n\n%s", args[0], s.Usage())}
	}
	out, code := cmd.run(args[1:])
	return Response{Code: code, Output: out}
}

// Listen creates the socket in dir (created if missing) and serves it until Close. A stale
// socket left by a killed node is replaced; a live one (another node running in the same
// directory) is an error.
func (s *Server) Listen(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create data directory %q for the control socket: %w", dir, err)
	}
	path := filepath.Join(dir, SocketName)
	if _, err := os.Stat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return fmt.Errorf("another node is already running with data directory %q (control socket %s answers)", dir, path)
		}
		_ = os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("cannot listen on control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("cannot restrict control socket %s: %w", path, err)
	}
	s.ln, s.path = ln, path
	s.wg.Add(1)
	go s.serve(ln)
	return nil
}

func (s *Server) serve(ln net.Listener) {
	defer s.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(c)
		}()
	}
}

func (s *Server) handle(c net.Conn) {
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReaderSize(c, 4096).ReadBytes('\n')
	if err != nil {
		return
	}
	var req request
	var resp Response
	if err := json.Unmarshal(line, &req); err != nil {
		resp = Response{Code: 1, Output: "bad control request: " + err.Error()}
	} else {
		resp = s.Dispatch(req.Args)
	}
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	b, _ := json.Marshal(resp)
	_, _ = c.Write(append(b, '\n'))
}

// Close stops accepting, waits for running requests and removes the socket file.
func (s *Server) Close() error {
	if s.ln == nil {
		return nil
	}
	err := s.ln.Close()
	s.wg.Wait()
	_ = os.Remove(s.path)
	s.ln = nil
	return err
}

// ErrNodeDown is returned by Call when no node answers on the socket.
var ErrNodeDown = errors.New("ctl: node is not running")

// Call sends args to the node whose data directory is dir and returns its response.
// It returns an error wrapping ErrNodeDown when nothing listens there.
func Call(ctx context.Context, dir string, args []string) (Response, error) {
	path := filepath.Join(dir, SocketName)
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return Response{}, fmt.Errorf("%w (no answer on %s: %v)", ErrNodeDown, path, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	b, _ := json.Marshal(request{Args: args})
	if _, err := c.Write(append(b, '\n')); err != nil {
		return Response{}, fmt.Errorf("cannot send control request: %w", err)
	}
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return Response{}, fmt.Errorf("no control response from node: %w", err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return Response{}, fmt.Errorf("bad control response from node: %w", err)
	}
	return resp, nil
}
