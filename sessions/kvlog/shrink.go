package kvlog

import "time"

// Go maps keep the buckets of their largest size after deletions: an index that once held a
// million keys (a burst of queued messages) keeps about 40 MB of buckets when a thousand
// remain. The writer tracks the index's largest size since it was last built and, once the
// live keys fall to a quarter of it, copies them into a map of their size: O(live keys),
// under idxMu, on the writer goroutine, at most once per halving of the index (amortised
// constant per deletion).

// shrinkMin is the largest size below which the index is never rebuilt: a small map's
// buckets cost less than copying it.
const shrinkMin = 4096

// noteIndexSize records the index's size after a batch and rebuilds the map when the live
// keys fell to a quarter of its largest size. Called with idxMu held for writing.
func (l *Log) noteIndexSize() {
	n := len(l.index)
	if n > l.indexPeak {
		l.indexPeak = n
		return
	}
	if l.indexPeak < shrinkMin || n > l.indexPeak/4 {
		return
	}
	l.index = rebuiltIndex(l.index)
	l.indexPeak = n
	l.indexRebuilds++
}

// rebuiltIndex copies m into a map sized for its entries.
func rebuiltIndex(m map[string]*entry) map[string]*entry {
	out := make(map[string]*entry, len(m))
	for k, e := range m {
		out[k] = e
	}
	return out
}

// A batch buffer is kept while batches use it (batch.reset drops one that the batch just
// written used little of), so the last large batch of a burst (a thousand sessions expiring
// at once) leaves both of the writer's buffers at its size when nothing is written after it.
// Every idleTrimEvery the writer drops buffers above idleBatchCap if no batch was written
// since its previous look.

// idleTrimEvery is how often the writer looks for idle batch buffers.
const idleTrimEvery = 5 * time.Second

// idleBatchCap is the capacity up to which an idle batch's buffer is kept.
const idleBatchCap = 64 << 10

// trimIdle runs on the writer goroutine: after an interval without batches it drops the
// empty batches' buffers above idleBatchCap (and commit lists above 64 entries).
func (l *Log) trimIdle() {
	if l.batches != l.trimmedAt {
		l.trimmedAt = l.batches
		return
	}
	l.mu.Lock()
	for _, b := range []*batch{l.pending, l.spare} {
		if b == nil || !b.empty() {
			continue
		}
		if cap(b.buf) > idleBatchCap {
			b.buf = nil
		}
		if cap(b.commits) > 64 {
			b.commits = nil
		}
	}
	l.mu.Unlock()
}
