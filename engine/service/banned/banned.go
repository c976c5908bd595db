// Package banned keeps the node's banned table (engine.Node.AddBan) durable in a file of the
// data directory and serves `emqx_ctl banned add|del|list`. The engine checks the table at
// CONNECT; this package only loads it at start and writes it after every change (from its
// own goroutine: a change made on an event loop, by flapping detection, never waits for the
// disk).
package banned

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/emqgo/emqgo/engine"
)

// record is one ban in the file.
type record struct {
	Type   string    `json:"type"`
	Value  string    `json:"value"`
	By     string    `json:"by,omitempty"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
	Until  time.Time `json:"until,omitempty"`
}

// Store writes a node's banned table to a file. Safe for concurrent use; Close stops it.
type Store struct {
	n     *engine.Node
	path  string
	log   *slog.Logger
	dirty chan struct{}
	done  chan struct{}
	once  sync.Once
	mu    sync.Mutex // serialises writes: each reads the table inside, so the last is newest
}

// Open loads path (a missing file is an empty table) into n's banned table, dropping expired
// entries, and keeps the file up to date with every later change until Close.
func Open(n *engine.Node, path string, log *slog.Logger) (*Store, error) {
	bans, err := read(path)
	if err != nil {
		return nil, err
	}
	s := &Store{n: n, path: path, log: log, dirty: make(chan struct{}, 1), done: make(chan struct{})}
	n.SetBans(bans)
	n.OnBansChanged(func() {
		select {
		case s.dirty <- struct{}{}:
		default: // a write is already due; it will see this change
		}
	})
	go s.run()
	return s, nil
}

func read(path string) ([]engine.Ban, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the banned table: %w", err)
	}
	var recs []record
	if err := json.Unmarshal(data, &recs); err != nil {
		return nil, fmt.Errorf("banned table %s is damaged: %w", path, err)
	}
	now := time.Now()
	out := make([]engine.Ban, 0, len(recs))
	for i, r := range recs {
		kind, ok := engine.ParseBanKind(r.Type)
		v, okv := engine.NormalizeBanValue(kind, r.Value)
		if !ok || !okv {
			return nil, fmt.Errorf("banned table %s: entry %d (%s %q) is not a valid ban", path, i+1, r.Type, r.Value)
		}
		b := engine.Ban{Kind: kind, Value: v, By: r.By, Reason: r.Reason, At: r.At, Until: r.Until}
		if !b.Expired(now) {
			out = append(out, b)
		}
	}
	return out, nil
}

func (s *Store) run() {
	for {
		select {
		case <-s.dirty:
			if err := s.write(); err != nil {
				s.log.Error("cannot write the banned table; the change holds until restart", "file", s.path, "error", err.Error())
			}
		case <-s.done:
			return
		}
	}
}

// write replaces the file atomically: a synced temporary file renamed over it.
func (s *Store) write() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	bans := s.n.Bans()
	recs := make([]record, len(bans))
	for i, b := range bans {
		recs[i] = record{Type: b.Kind.String(), Value: b.Value, By: b.By, Reason: b.Reason, At: b.At, Until: b.Until}
	}
	data, err := json.MarshalIndent(recs, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), filepath.Base(s.path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.path)
}

// Flush writes the table now (emqx_ctl waits for it, so that `banned add` is durable when
// it answers).
func (s *Store) Flush() error { return s.write() }

// Close stops following changes; the file holds the table as last written.
func (s *Store) Close() {
	s.once.Do(func() {
		s.n.OnBansChanged(nil)
		close(s.done)
	})
}
