package logtest

import (
	"context"
	"testing"
	"time"
)

func TestAwaitWakesOnWrites(t *testing.T) {
	l := New()
	go func() {
		l.Write([]byte("[INFO]  plugin: first line: a=1\n"))
		l.Write([]byte("[WARN]  plugin: second line: b=2 a=1\n"))
	}()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	l.AwaitLine(ctx, t, "second line", "a=1", "b=2")
	l.AwaitAll(ctx, t, "first line", "b=2")
	if l.HasLine("first line", "b=2") {
		t.Error("HasLine matched fragments from two lines")
	}
	if !l.HasAll("first line", "b=2") {
		t.Error("HasAll missed texts on two lines")
	}
}
