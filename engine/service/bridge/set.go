package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/emqgo/emqgo/engine"
)

// Alarms is where a Set raises and clears its backlog alarms (the $SYS service's registry,
// wired by cmd). Implementations are safe for concurrent use.
type Alarms interface {
	Raise(name, message string, details map[string]any) bool
	Clear(name string) bool
}

// Options configure a Set.
type Options struct {
	Node *engine.Node
	Log  *slog.Logger
	// StateFile keeps the forwards and subscriptions changed at run time (bridges add-forward
	// ...), which replace the configured ones at the next start; "" keeps nothing.
	StateFile string
	// Alarms receives the backlog alarms; nil raises none.
	Alarms Alarms
}

// Set is the bridges of the emqx_bridge_mqtt plugin. Safe for concurrent use.
type Set struct {
	opts    Options
	bridges map[string]*Bridge
	names   []string // sorted

	saveMu    sync.Mutex
	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
}

// savedBridge is one bridge's run-time state in the state file.
type savedBridge struct {
	Forwards      []string       `json:"forwards"`
	Subscriptions []Subscription `json:"subscriptions"`
	// Running is the last `bridges start` (true) or `bridges stop` (false); absent when
	// neither was used, and start_type decides.
	Running *bool `json:"running,omitempty"`
}

// Open creates the bridges of cfgs (with the run-time changes of the state file) and starts
// those with AutoStart, which connect in the background. Close it when done.
func Open(opts Options, cfgs []Config) (*Set, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	saved, err := readState(opts.StateFile)
	if err != nil {
		return nil, err
	}
	s := &Set{opts: opts, bridges: map[string]*Bridge{}, stop: make(chan struct{}), done: make(chan struct{})}
	for _, c := range cfgs {
		if _, dup := s.bridges[c.Name]; dup {
			s.closeBridges()
			return nil, fmt.Errorf("bridge %s is configured twice", c.Name)
		}
		sb, ok := saved[c.Name]
		if ok {
			c.Forwards, c.Subscriptions = sb.Forwards, sb.Subscriptions
		}
		b, err := open(opts.Node, c, opts.Log, s.save)
		if err != nil {
			s.closeBridges()
			return nil, err
		}
		if sb.Running != nil {
			b.running.Store(sb.Running)
		}
		s.bridges[c.Name] = b
		s.names = append(s.names, c.Name)
	}
	sort.Strings(s.names)
	for _, name := range s.names {
		b := s.bridges[name]
		start := b.cfg.AutoStart
		if r := b.running.Load(); r != nil {
			start = *r // the last bridges start/stop outlives a restart
		}
		if start {
			b.startRetrying()
		}
	}
	go s.watch()
	return s, nil
}

func readState(file string) (map[string]savedBridge, error) {
	out := map[string]savedBridge{}
	if file == "" {
		return out, nil
	}
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read bridge state: %w", err)
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("bridge state %s is damaged (remove it to start from the configuration): %w", file, err)
	}
	return out, nil
}

// save writes the state file (every bridge's forwards and subscriptions), atomically.
func (s *Set) save() {
	if s.opts.StateFile == "" {
		return
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	state := map[string]savedBridge{}
	for name, b := range s.bridges {
		state[name] = savedBridge{Forwards: b.Forwards(), Subscriptions: b.Subscriptions(), Running: b.running.Load()}
	}
	data, _ := json.MarshalIndent(state, "", "  ")
	err := os.MkdirAll(filepath.Dir(s.opts.StateFile), 0o755)
	if err == nil {
		tmp := s.opts.StateFile + ".tmp"
		if err = os.WriteFile(tmp, append(data, '\n'), 0o644); err == nil {
			err = os.Rename(tmp, s.opts.StateFile)
		}
	}
	if err != nil {
		s.opts.Log.Error("cannot save the bridges' run-time changes; they last until restart", "file", s.opts.StateFile, "error", err)
	}
}

// Bridge returns the bridge name, or nil.
func (s *Set) Bridge(name string) *Bridge { return s.bridges[name] }

// Names lists the bridges, sorted.
func (s *Set) Names() []string { return append([]string(nil), s.names...) }

// Metrics returns every bridge's metrics, sorted by name.
func (s *Set) Metrics() []Metrics {
	out := make([]Metrics, len(s.names))
	for i, name := range s.names {
		out[i] = s.bridges[name].Metrics()
	}
	return out
}

// Start starts bridge name (one connection attempt; see Bridge.Start). Started, it is started
// again at the next start of the node whatever its start_type (the state file keeps it).
func (s *Set) Start(ctx context.Context, name string) error {
	b := s.bridges[name]
	if b == nil {
		return fmt.Errorf("no bridge named %q", name)
	}
	err := b.Start(ctx)
	if err == nil || errors.Is(err, ErrAlreadyStarted) {
		s.keepRunning(b, true)
	}
	return err
}

// Stop stops bridge name (see Bridge.Stop). It stays stopped across restarts of the node
// until started again (the state file keeps it).
func (s *Set) Stop(name string) error {
	b := s.bridges[name]
	if b == nil {
		return fmt.Errorf("no bridge named %q", name)
	}
	if err := b.Stop(); err != nil {
		return err
	}
	s.keepRunning(b, false)
	return nil
}

// keepRunning records the state a command left b in, for the next start.
func (s *Set) keepRunning(b *Bridge, running bool) {
	if r := b.running.Load(); r != nil && *r == running {
		return
	}
	b.running.Store(&running)
	s.save()
}

// Close stops every bridge and closes their queues (a durable queue keeps its messages).
// Closing again does nothing.
func (s *Set) Close() {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		s.closeBridges()
	})
}

func (s *Set) closeBridges() {
	for _, b := range s.bridges {
		b.close()
		if s.opts.Alarms != nil && b.cfg.BacklogAlarm > 0 {
			s.opts.Alarms.Clear(alarmName(b.cfg.Name))
		}
	}
}

func alarmName(bridge string) string { return "bridge_backlog/" + bridge }

// watch raises a bridge's backlog alarm while its oldest queued message is older than its
// BacklogAlarm, and clears it when the backlog is younger again.
func (s *Set) watch() {
	defer close(s.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	raised := map[string]bool{}
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if s.opts.Alarms == nil {
			continue
		}
		for _, name := range s.names {
			b := s.bridges[name]
			if b.cfg.BacklogAlarm <= 0 {
				continue
			}
			m := b.Metrics()
			switch over := m.OldestAge > b.cfg.BacklogAlarm; {
			case over && !raised[name]:
				raised[name] = true
				s.opts.Alarms.Raise(alarmName(name),
					fmt.Sprintf("bridge %s: oldest unsent message waited %s (threshold %s), %d messages queued", name, m.OldestAge.Round(time.Second), b.cfg.BacklogAlarm, m.Queued),
					map[string]any{"bridge": name, "queued": m.Queued, "queued_bytes": m.QueuedBytes, "oldest_age_seconds": int64(m.OldestAge.Seconds()), "status": m.Status})
			case !over && raised[name]:
				raised[name] = false
				s.opts.Alarms.Clear(alarmName(name))
			}
		}
	}
}
