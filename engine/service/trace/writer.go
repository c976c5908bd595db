package trace

import (
	"bufio"
	"strconv"
	"time"
)

// record is one line for a trace's file, or (end set) the end of the trace.
type record struct {
	t     *trace
	at    time.Time
	level Level
	text  string // the line without its timestamp and level
	local bool   // written to the file only, not published (a line about a trace line)

	end  string        // not "": close the trace's file, saying this
	done chan struct{} // closed once the file is closed (end records)
}

// endReserve is room kept at the end of a file for the line that says the trace stopped.
const endReserve = 256

// run is the writer goroutine: it writes the queued lines into the traces' files, flushing
// each file when the queue is empty, and closes the files of ended traces.
func (s *Service) run() {
	defer close(s.done)
	var dirty []*trace
	for {
		select {
		case r := <-s.queue:
			dirty = s.handle(r, dirty)
			for len(s.queue) > 0 {
				dirty = s.handle(<-s.queue, dirty)
			}
			for _, t := range dirty {
				s.flush(t)
			}
			dirty = dirty[:0]
		case <-s.stop:
			for len(s.queue) > 0 { // only lines of traces Close ended already
				s.handle(<-s.queue, nil)
			}
			return
		}
	}
}

// handle writes one record and returns dirty with its trace added when it wrote to it.
func (s *Service) handle(r record, dirty []*trace) []*trace {
	t := r.t
	if r.end != "" {
		s.publishLine(t, t.finish(r.at, r.end))
		close(r.done)
		return dirty
	}
	if t.buf == nil {
		return dirty // stopped already: the line came too late
	}
	if d := t.dropped.Load(); d > t.reported {
		n := d - t.reported
		t.reported = d
		if !s.line(t, r.at, LevelWarning, strconv.FormatUint(n, 10)+" lines dropped: the trace queue was full", false) {
			return dirty
		}
	}
	if !s.line(t, r.at, r.level, r.text, r.local) {
		return dirty
	}
	if !t.dirty {
		t.dirty = true
		dirty = append(dirty, t)
	}
	return dirty
}

// line writes one line into t's file, and publishes it unless local; at the size limit it
// ends the trace instead and reports false.
func (s *Service) line(t *trace, at time.Time, level Level, text string, local bool) bool {
	n := len(stampLayout) + len(level.String()) + len(text) + 5
	if t.written+int64(n) > s.opts.MaxBytes-endReserve {
		s.publishLine(t, t.finish(at, "stopped: the file reached its size limit of "+strconv.FormatInt(s.opts.MaxBytes, 10)+" bytes"))
		s.forget(t)
		s.log.Warn("trace stopped: its file reached the size limit", "kind", string(t.kind), "name", t.name, "file", t.path, "max_bytes", s.opts.MaxBytes)
		return false
	}
	b := t.scratch[:0]
	b = at.AppendFormat(b, stampLayout)
	b = append(b, " ["...)
	b = append(b, level.String()...)
	b = append(b, "] "...)
	b = append(b, text...)
	b = append(b, '\n')
	t.scratch = b
	if !s.write(t, b) {
		return false
	}
	if !local {
		s.publishLine(t, b)
	}
	return true
}

// write puts b into t's buffer; a write error ends the trace.
func (s *Service) write(t *trace, b []byte) bool {
	if _, err := t.buf.Write(b); err != nil {
		s.fail(t, err)
		return false
	}
	t.written += int64(len(b))
	t.size.Store(t.written)
	return true
}

// flush writes t's buffered lines to its file.
func (s *Service) flush(t *trace) {
	t.dirty = false
	if t.buf == nil {
		return
	}
	if err := t.buf.Flush(); err != nil {
		s.fail(t, err)
	}
}

// fail ends t after a write error.
func (s *Service) fail(t *trace, err error) {
	s.log.Error("trace stopped: cannot write its file", "kind", string(t.kind), "name", t.name, "file", t.path, "error", err)
	if t.file != nil {
		_ = t.file.Close()
	}
	t.file, t.buf = nil, nil
	s.forget(t)
}

// stampLayout is the timestamp of every line, in local time.
const stampLayout = "2006-01-02 15:04:05.000"

// start opens t's buffer and writes its first line, which it returns. Called by Start
// before the hooks can see t, so on Start's goroutine.
func (t *trace) start(at time.Time, text string) ([]byte, error) {
	t.buf = bufio.NewWriterSize(t.file, 32<<10)
	b := at.AppendFormat(nil, stampLayout)
	b = append(b, " [info] "...)
	b = append(b, text...)
	b = append(b, '\n')
	if _, err := t.buf.Write(b); err != nil {
		return nil, err
	}
	t.written = int64(len(b))
	t.size.Store(t.written)
	return b, t.buf.Flush()
}

// finish writes the last line of t, saying why it ends, closes its file and returns the
// line. A trace finished already is left alone (nil).
func (t *trace) finish(at time.Time, why string) []byte {
	if t.buf == nil {
		return nil
	}
	if at.IsZero() {
		at = time.Now()
	}
	b := at.AppendFormat(nil, stampLayout)
	b = append(b, " [info] trace of "...)
	b = append(b, t.kind...)
	b = append(b, ' ')
	b = append(b, t.name...)
	b = append(b, ' ')
	b = append(b, why...)
	b = append(b, '\n')
	_, _ = t.buf.Write(b)
	t.written += int64(len(b))
	t.size.Store(t.written)
	_ = t.buf.Flush()
	_ = t.file.Close()
	t.file, t.buf = nil, nil
	return b
}
