package text

import "testing"

func TestShortStringsStay(t *testing.T) {
	if got := Truncate("hello", 10); got != "hello" {
		t.Fatalf("Truncate(hello, 10) = %q", got)
	}
}

func TestASCII(t *testing.T) {
	if got := Truncate("hello world", 5); got != "hell…" {
		t.Fatalf("Truncate(hello world, 5) = %q", got)
	}
}
