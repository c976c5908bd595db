//go:build race

package osslsign

// raceEnabled shortens the leak test: under the race detector 100,000 signatures take minutes.
const raceEnabled = true
