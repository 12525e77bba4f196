package main

import (
	"context"
	"errors"
)

func cmdGen(ctx context.Context, args []string) error {
	return errors.New("gen: not wired yet")
}

func cmdDemo(ctx context.Context, args []string) error {
	return errors.New("demo: not wired yet")
}
