package kvlog

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
