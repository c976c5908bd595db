//go:build race

package sessions

// poison overwrites a pooled message's bytes when it goes back to the pool, in race-detector
// builds (the test suite): a holder that forgot to Hold or Pin then reads 0xEE bytes instead
// of the payload it expected, and the tests that compare payloads fail.
func poison(b []byte) {
	for i := range b {
		b[i] = 0xEE
	}
}
