package text

import (
	"testing"
	"unicode/utf8"
)

func TestEvalCheckRunes(t *testing.T) {
	cases := []struct {
		in   string
		max  int
		want string
	}{
		{"héllo wörld", 5, "héll…"},
		{"héllo", 5, "héllo"},
		{"日本語のテキスト", 4, "日本語…"},
		{"ab", 0, ""},
		{"abc", 1, "…"},
	}
	for _, c := range cases {
		got := Truncate(c.in, c.max)
		if got != c.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("Truncate(%q, %d) is not valid UTF-8", c.in, c.max)
		}
		if n := utf8.RuneCountInString(got); n > c.max && c.max >= 0 {
			t.Errorf("Truncate(%q, %d) has %d characters", c.in, c.max, n)
		}
	}
}
