package logging

import (
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/bytebufferpool"
)

// Defaults of Options.
const (
	DefaultMaxLines       = 4096
	DefaultMaxBytes       = 4 << 20
	DefaultReportInterval = 10 * time.Second
)

// batchBytes is how many bytes the writer goroutine gathers before one write to the
// destination.
const batchBytes = 64 << 10

// Options tunes a Writer. The zero value takes the defaults.
type Options struct {
	// MaxLines and MaxBytes bound the queue: a line that would exceed either is dropped.
	MaxLines int
	MaxBytes int
	// ReportInterval is the shortest time between two reports of dropped lines.
	ReportInterval time.Duration
	// Report formats the line that reports n lines dropped since the first of them, in the
	// log's own format (it must end with a newline). Nil: TextReport. It runs on the writer
	// goroutine.
	Report func(n uint64, since time.Time) []byte
}

// Writer is an io.Writer that queues each Write as one line and writes the queue to its
// destination from its own goroutine. See the package comment.
//
// Concurrency: Write, Dropped, Flush and Close are safe for concurrent use. The destination
// is written from a single goroutine at a time, so it need not be safe for concurrent use.
// Lifetime: from New until Close; after Close, Write writes synchronously (for the last
// lines of a shutdown).
type Writer struct {
	out  io.Writer
	opts Options
	pool bytebufferpool.Pool

	mu      sync.Mutex
	pending []*bytebufferpool.ByteBuffer // queued lines, oldest first
	bytes   int                          // bytes in pending
	unrep   uint64                       // drops not reported yet
	since   time.Time                    // time of the first unreported drop
	closed  bool

	dropped atomic.Uint64
	wake    chan struct{}      // one token while pending is non-empty and unclaimed
	flush   chan chan struct{} // Flush requests
	done    chan struct{}      // closed when the goroutine has exited
	syncMu  sync.Mutex         // serialises synchronous writes after Close
	batch   []byte             // the goroutine's write buffer
}

// New starts a Writer that writes to out. Close it to stop its goroutine.
func New(out io.Writer, opts Options) *Writer {
	if opts.MaxLines <= 0 {
		opts.MaxLines = DefaultMaxLines
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.ReportInterval <= 0 {
		opts.ReportInterval = DefaultReportInterval
	}
	if opts.Report == nil {
		opts.Report = TextReport
	}
	w := &Writer{
		out:   out,
		opts:  opts,
		wake:  make(chan struct{}, 1),
		flush: make(chan chan struct{}),
		done:  make(chan struct{}),
	}
	go w.run()
	return w
}

// Write queues a copy of p as one line and returns at once: len(p), nil even when the line
// is dropped because the queue is full (Dropped counts those). It never waits on the
// destination. After Close it writes p synchronously.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.done // the goroutine's last batch goes first
		w.syncMu.Lock()
		defer w.syncMu.Unlock()
		return w.out.Write(p)
	}
	if len(w.pending) >= w.opts.MaxLines || w.bytes+len(p) > w.opts.MaxBytes {
		if w.unrep == 0 {
			w.since = time.Now()
		}
		w.unrep++
		w.mu.Unlock()
		w.dropped.Add(1)
		totalDropped.Add(1)
		return len(p), nil
	}
	b := w.pool.Get()
	b.B = append(b.B[:0], p...)
	w.pending = append(w.pending, b)
	w.bytes += len(p)
	first := len(w.pending) == 1
	w.mu.Unlock()
	if first {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// Dropped returns how many lines were dropped because the queue was full, since New.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

// totalDropped counts the lines every Writer of the process dropped.
var totalDropped atomic.Uint64

// TotalDropped returns how many lines every Writer of the process dropped so far (the
// log.dropped metric). Safe for concurrent use.
func TotalDropped() uint64 { return totalDropped.Load() }

// Flush waits until every line queued before the call is written (and reported drops with
// them). It may wait on the destination: never call it from an event loop. It returns at
// once after Close.
func (w *Writer) Flush() {
	req := make(chan struct{})
	select {
	case w.flush <- req:
		<-req
	case <-w.done:
	}
}

// Close writes what is queued, reports the drops not reported yet, and stops the goroutine.
// It does not close the destination. Later calls do nothing.
func (w *Writer) Close() error {
	w.mu.Lock()
	already := w.closed
	w.closed = true
	w.mu.Unlock()
	if !already {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	<-w.done
	return nil
}

// run is the writer goroutine.
func (w *Writer) run() {
	defer close(w.done)
	tick := time.NewTicker(w.opts.ReportInterval)
	defer tick.Stop()
	var lines []*bytebufferpool.ByteBuffer
	lastReport := time.Time{}
	for {
		var req chan struct{}
		report := false
		select {
		case <-w.wake:
		case req = <-w.flush:
			report = true
		case <-tick.C:
			report = time.Since(lastReport) >= w.opts.ReportInterval
		}
		w.mu.Lock()
		lines, w.pending = w.pending, lines[:0]
		w.bytes = 0
		closed := w.closed
		var n uint64
		var since time.Time
		if report || closed {
			n, since = w.unrep, w.since
			w.unrep = 0
		}
		w.mu.Unlock()
		w.writeLines(lines)
		clear(lines)
		if n > 0 {
			lastReport = time.Now()
			w.write(w.opts.Report(n, since))
		}
		w.send()
		if req != nil {
			close(req)
		}
		if closed {
			return
		}
	}
}

// writeLines writes lines in batches of about batchBytes and returns their buffers.
func (w *Writer) writeLines(lines []*bytebufferpool.ByteBuffer) {
	for _, b := range lines {
		if len(w.batch)+len(b.B) > batchBytes {
			w.send()
		}
		w.batch = append(w.batch, b.B...)
		w.pool.Put(b)
	}
}

func (w *Writer) write(p []byte) {
	if len(w.batch)+len(p) > batchBytes {
		w.send()
	}
	w.batch = append(w.batch, p...)
}

// send writes the batch. A failing destination loses the batch: there is nowhere to report
// the error but the log itself.
func (w *Writer) send() {
	if len(w.batch) == 0 {
		return
	}
	_, _ = w.out.Write(w.batch)
	w.batch = w.batch[:0]
}

// TextReport formats a drop report as slog's text handler formats a warning.
func TextReport(n uint64, since time.Time) []byte {
	b := make([]byte, 0, 128)
	b = append(b, "time="...)
	b = time.Now().AppendFormat(b, slogTime)
	b = append(b, ` level=WARN msg="`...)
	b = AppendReportMessage(b, n, since)
	return append(b, "\"\n"...)
}

// AppendReportMessage appends the message of a drop report:
// "log lines dropped under overload: N since <time>", the time as slog writes it.
func AppendReportMessage(dst []byte, n uint64, since time.Time) []byte {
	dst = append(dst, "log lines dropped under overload: "...)
	dst = strconv.AppendUint(dst, n, 10)
	dst = append(dst, " since "...)
	return since.AppendFormat(dst, slogTime)
}

// slogTime is the time format of slog's text handler.
const slogTime = "2006-01-02T15:04:05.000Z07:00"
