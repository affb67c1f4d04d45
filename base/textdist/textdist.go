// Package textdist measures how far apart two short names are, for the
// "did you mean" of a misspelt ini key or job field. It is a leaf.
package textdist

// Distance is the Levenshtein distance of a and b, in bytes. Names longer
// than 64 bytes are never close to a known one and are not compared: the
// result is then larger than any real distance, so input written to be
// long costs nothing.
func Distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
