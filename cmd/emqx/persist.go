package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/emqgo/emqgo/engine/config"
	"github.com/emqgo/emqgo/sessions"
	"github.com/emqgo/emqgo/sessions/kvlog"
)

// storeOptions maps persistence.* onto the store's options.
func storeOptions(p *config.Persistence) (kvlog.Options, error) {
	f, err := kvlog.ParseFsync(p.Fsync)
	if err != nil {
		return kvlog.Options{}, fmt.Errorf("persistence.fsync: %w", err)
	}
	return kvlog.Options{
		Fsync:          f,
		FsyncInterval:  p.FsyncInterval,
		SegmentSize:    p.SegmentSize,
		CompactRatio:   p.CompactRatio,
		CompactMinSize: p.CompactMinSize,
	}, nil
}

// openStore opens the durable store in persistence.dir (resolved against the node's home, as
// node.data_dir), logs what start-up found and repaired, and routes the store's notices
// and failure transitions to the log (an alarm line when it fails, another when it recovers).
func openStore(cfg *config.Config, log *slog.Logger) (*sessions.Store, error) {
	p := &cfg.Persistence
	opts, err := storeOptions(p)
	if err != nil {
		return nil, err
	}
	sl := log.With("component", "store", "dir", p.Dir)
	opts.Logf = func(format string, args ...any) { sl.Info(fmt.Sprintf(format, args...)) }
	opts.OnState = func(failed bool, err error) {
		if failed {
			sl.Error("alarm raised: durable store failed; retained messages and persistent sessions are kept in memory only until it recovers", "alarm", "store_failed", "error", err)
		} else {
			sl.Warn("alarm cleared: durable store recovered", "alarm", "store_failed")
		}
	}
	st, rec, err := sessions.OpenStore(p.Dir, opts)
	if err != nil {
		if errors.Is(err, kvlog.ErrLocked) {
			return nil, fmt.Errorf("persistence.dir %q is in use by another running node", p.Dir)
		}
		return nil, fmt.Errorf("cannot open the durable store in %q (persistence.dir): %w", p.Dir, err)
	}
	for _, d := range rec.Damaged {
		sl.Warn("durable store was damaged: the readable records were loaded, the rest was moved aside",
			"file", d.File, "offset", d.Offset, "bytes", d.Bytes, "records_lost", d.RecordsLost, "reason", d.Reason, "moved_to", d.MovedTo)
	}
	if len(rec.TempFiles) > 0 || len(rec.ObsoleteFiles) > 0 || len(rec.PartialCompaction) > 0 {
		sl.Info("durable store: finished or undid an interrupted compaction",
			"temp_files_removed", len(rec.TempFiles), "obsolete_removed", len(rec.ObsoleteFiles), "partial_outputs_kept", len(rec.PartialCompaction))
	}
	sl.Info("durable store opened", "fsync", opts.Fsync.String(), "segments", rec.Segments, "records", rec.Records,
		"live_keys", rec.LiveKeys, "bytes", rec.TotalBytes, "duration", rec.Duration.Round(1e6).String())
	return st, nil
}
