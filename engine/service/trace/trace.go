// Package trace is the trace side service (`emqx_ctl trace`): a client trace writes every
// MQTT packet a client sends and receives, its connection and disconnection (with the
// reason) and the messages dropped for it to a file; a topic trace writes every message
// published to a topic matching its filter, and the drops of such messages. Each line has a
// timestamp and a level; a trace keeps the lines of its level and above.
//
// It is built on engine.Node's exported API only: the node's hooks (the packet hooks for
// client traces, MessagePublished and MessageDropped for topic traces), installed while at
// least one trace is on, so that no trace costs the broker nothing. A hook runs on an event
// loop: it finds the trace (one map lookup or a few filter matches), describes the event in
// a line of text and hands it to the service's writer goroutine through a bounded queue; a
// full queue drops the line and counts it (the trace file says how many were dropped). Only
// the writer touches the files. A trace stops by itself, with a line in its file and in the
// node's log, when its file reaches Options.MaxBytes.
//
// A topic trace does not subscribe: it sees every message published to its topics, routed
// or not, and changes neither routing nor the node's subscription counts.
//
// With Options.Publish, each line is also published live under
// $SYS/brokers/<node>/trace/client/<id> or .../trace/topic/<filter> (systopic.go), guarded
// by acl.conf like any $SYS topic.
package trace

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/trie"
)

// Kind is what a trace follows.
type Kind string

// Kinds of trace.
const (
	Client Kind = "client" // one client id
	Topic  Kind = "topic"  // a topic filter
)

// Options configure the service.
type Options struct {
	// Dir is the directory relative trace file names resolve against (the node's home);
	// "" leaves them relative to the working directory.
	Dir string
	// MaxBytes bounds each trace file (0: 10 MiB): the trace stops when its next line would
	// not fit.
	MaxBytes int64
	// QueueLen bounds the lines waiting for the writer, all traces together (0: 10,000).
	QueueLen int
	// Log receives the service's own lines (a trace stopped by its size limit, a write
	// error); nil discards them.
	Log *slog.Logger
	// Publish also publishes every line under $SYS/brokers/<node>/trace/ (systopic.go).
	Publish bool
}

// Info describes a running trace.
type Info struct {
	Kind Kind
	Name string // the client id or the topic filter
	// Level is as given to Start ("all" when none was).
	Level string
	File  string // the file's path, as resolved
	// Written is the bytes written to the file so far, Dropped the lines the full queue
	// dropped.
	Written int64
	Dropped uint64
}

// Service runs the traces of one node. Its methods are safe for concurrent use.
type Service struct {
	n         *engine.Node
	opts      Options
	log       *slog.Logger
	sysPrefix []byte // "$SYS/brokers/<node>/trace/", the live topics' prefix

	mu          sync.Mutex // guards traces, the snapshots' writes and the hooks
	traces      map[key]*trace
	removeHooks func()
	closed      bool

	clients atomic.Pointer[map[string]*trace] // client traces by client id, read by the hooks
	topics  atomic.Pointer[[]*trace]          // topic traces, read by the hooks

	queue chan record
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

type key struct {
	kind Kind
	name string
}

// trace is one running trace. Its file and written count belong to the writer goroutine.
type trace struct {
	key
	level     Level
	levelName string
	path      string
	filter    []string // topic traces: the filter's levels
	sysTopic  string   // the live topic, "" when lines are not published

	// Writer only (and Start, before the trace is visible): the file, its buffer (nil once
	// the trace ended), the bytes written, whether the buffer needs a flush, a line's bytes.
	file     *os.File
	buf      *bufio.Writer
	written  int64
	dirty    bool
	scratch  []byte
	size     atomic.Int64 // written, for Info
	dropped  atomic.Uint64
	reported uint64 // drops already written to the file (writer only)
}

// Errors of Start and Stop.
var (
	ErrExists   = errors.New("already_existed")
	ErrNotFound = errors.New("not_found")
	ErrClosed   = errors.New("the trace service is stopped")
)

// New starts the service's writer for n. Stop it before the node.
func New(n *engine.Node, opts Options) *Service {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 10 << 20
	}
	if opts.QueueLen <= 0 {
		opts.QueueLen = 10000
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		n:         n,
		opts:      opts,
		log:       log.With("component", "trace"),
		sysPrefix: []byte("$SYS/brokers/" + n.Name() + "/trace/"),
		traces:    make(map[key]*trace),
		queue:     make(chan record, opts.QueueLen),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	go s.run()
	return s
}

// Start begins tracing a client id (Client) or a topic filter (Topic) into file at level
// ("" or "all": every line). The file is created, or truncated if it exists. It fails if
// the same client or filter is traced already (ErrExists), on a bad level or filter, and
// when the file cannot be created.
func (s *Service) Start(kind Kind, name, file, level string) error {
	if level == "" {
		level = "all"
	}
	lv, err := ParseLevel(level)
	if err != nil {
		return err
	}
	t := &trace{key: key{kind, name}, level: lv, levelName: level}
	switch kind {
	case Client:
		if name == "" {
			return errors.New("empty client id")
		}
	case Topic:
		if err := codec.ValidTopicFilter([]byte(name)); err != nil || !trie.ValidFilter(name) {
			return fmt.Errorf("invalid topic filter %q", name)
		}
		t.filter = splitLevels(name)
	default:
		return fmt.Errorf("unknown kind of trace %q (client or topic)", kind)
	}
	if file == "" {
		return errors.New("empty file name")
	}
	if s.opts.Dir != "" && !filepath.IsAbs(file) {
		file = filepath.Join(s.opts.Dir, file)
	}
	t.path = file
	if s.opts.Publish {
		t.sysTopic = TopicOf(s.n.Name(), kind, name)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if _, ok := s.traces[t.key]; ok {
		return ErrExists
	}
	f, err := openTrace(file)
	if err != nil {
		return fmt.Errorf("cannot create trace file: %w", err)
	}
	t.file = f
	// The writer sees the trace only through records queued after this point, so this
	// first line is written here, before any.
	first, err := t.start(time.Now(), fmt.Sprintf("trace of %s %s started (level %s, at most %d bytes)", kind, name, level, s.opts.MaxBytes))
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("cannot write trace file: %w", err)
	}
	s.publishLine(t, first)
	s.traces[t.key] = t
	s.publish()
	return nil
}

// Stop ends the trace of a client id or topic filter and returns once its file is closed
// (what was queued for it before is written first). ErrNotFound if there is none.
func (s *Service) Stop(kind Kind, name string) error {
	s.mu.Lock()
	t, ok := s.traces[key{kind, name}]
	if ok {
		delete(s.traces, t.key)
		s.publish()
	}
	s.mu.Unlock()
	if !ok {
		return ErrNotFound
	}
	s.closeTrace(t, "stopped")
	return nil
}

// List returns the running traces, client traces first, each kind sorted by name.
func (s *Service) List() []Info {
	s.mu.Lock()
	out := make([]Info, 0, len(s.traces))
	for _, t := range s.traces {
		out = append(out, Info{Kind: t.kind, Name: t.name, Level: t.levelName, File: t.path, Written: t.size.Load(), Dropped: t.dropped.Load()})
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind == Client
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Close stops every trace (closing its file after what is queued for it) and the writer.
// Later calls do nothing.
func (s *Service) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	all := make([]*trace, 0, len(s.traces))
	for _, t := range s.traces {
		all = append(all, t)
	}
	clear(s.traces)
	s.publish()
	s.mu.Unlock()
	for _, t := range all {
		s.closeTrace(t, "stopped with the node")
	}
	s.once.Do(func() { close(s.stop) })
	<-s.done
}

// closeTrace queues the end of t behind its lines and waits until the writer closed its
// file.
func (s *Service) closeTrace(t *trace, why string) {
	done := make(chan struct{})
	select {
	case s.queue <- record{t: t, end: why, done: done}:
		select {
		case <-done:
		case <-s.done:
			t.finish(time.Now(), why) // the writer is gone: nothing else touches t
		}
	case <-s.done:
		t.finish(time.Now(), why)
	}
}

// forget removes t, stopped by the writer, if it is still the running trace of its key.
func (s *Service) forget(t *trace) {
	s.mu.Lock()
	if s.traces[t.key] == t {
		delete(s.traces, t.key)
		s.publish()
	}
	s.mu.Unlock()
}

// publish stores the hooks' snapshots of the traces, installs the hooks with the first
// trace and removes them with the last (all of them at once: reinstalling them as the kinds
// of traces change could lose or repeat an event). Hold mu.
func (s *Service) publish() {
	clients := make(map[string]*trace)
	var topics []*trace
	for _, t := range s.traces {
		if t.kind == Client {
			clients[t.name] = t
		} else {
			topics = append(topics, t)
		}
	}
	s.clients.Store(&clients)
	s.topics.Store(&topics)
	switch {
	case len(s.traces) > 0 && s.removeHooks == nil:
		s.removeHooks = s.n.AddHooks(s.hooks())
	case len(s.traces) == 0 && s.removeHooks != nil:
		s.removeHooks()
		s.removeHooks = nil
	}
}

// openTrace creates (or truncates) a trace file.
func openTrace(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
}
