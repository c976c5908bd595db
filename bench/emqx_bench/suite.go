package main

import (
	"context"
	"errors"
)

func runSuite(ctx context.Context, args []string) error { return errors.New("not yet") }
