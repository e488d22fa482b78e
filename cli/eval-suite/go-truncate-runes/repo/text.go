// Package text shortens strings for narrow columns.
package text

// Ellipsis ends a string that was cut.
const Ellipsis = "…"

// Truncate returns s when it has at most max characters; otherwise its first max-1
// characters followed by Ellipsis. A max below 1 gives "".
func Truncate(s string, max int) string {
	if max < 1 {
		return ""
	}
	if len(s) <= max {
		return s
	}
	return s[:max-1] + Ellipsis
}
