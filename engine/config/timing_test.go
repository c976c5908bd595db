package config

import (
	"strings"
	"testing"

	"github.com/emqgo/emqgo/etc"
)

func BenchmarkParseDefault(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(etc.EmqxConf)))
	for b.Loop() {
		if _, _, err := Parse("emqx.conf", []byte(etc.EmqxConf), nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseTypos measures the worst case: every line an unknown key needing a suggestion.
func BenchmarkParseTypos(b *testing.B) {
	data := []byte(strings.Repeat("listener.tcp.external.max_conection = 1\n", 1000))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Parse("typos.conf", data, nil); err == nil {
			b.Fatal("no error")
		}
	}
}
