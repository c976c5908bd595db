// Package depcheck holds the test that enforces the package map of ARCHITECTURE.md for every
// package of the module: each package falls under a rule (foundation, engine library, the
// core, side service, cmd, bench and tools), and a package no rule covers fails the test. The
// rules live in rules_test.go; run them with `make depcheck`. Nothing imports this package.
package depcheck
