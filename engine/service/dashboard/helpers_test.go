package dashboard

import (
	"log/slog"
	"os"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestMain(m *testing.M) {
	hashSpec.Iterations = bcrypt.MinCost // bcrypt all the same, but cheap under -race
	os.Exit(m.Run())
}
