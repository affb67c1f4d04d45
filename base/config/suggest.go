package config

import (
	"fmt"
	"sort"
	"strings"
)

// Suggestions: an unknown section or key is most often a typo of a known
// one ("dialtimeout", "[elastic]"). Saying which one it probably is saves
// the reader a trip to conf/brun.ini. servers/job has its own copy of the
// distance for job fields: both packages are leaves and share no code.

// maxSuggestDistance is how far (in single-letter edits, letters compared
// without case) a name may be from a known one to be offered as "did you
// mean": 2 catches a swapped or missing letter without guessing wildly.
const maxSuggestDistance = 2

// didYouMean returns `; did you mean "x"?` for the known name nearest to
// name, or "" when none is within maxSuggestDistance. Ties go to the
// name first in sorted order, so the hint is the same on every run.
func didYouMean(name string, known []string) string {
	sorted := append([]string(nil), known...)
	sort.Strings(sorted)
	best, bestD := "", maxSuggestDistance+1
	for _, k := range sorted {
		if d := editDistance(strings.ToLower(name), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// editDistance is the Levenshtein distance of a and b, in bytes. Names
// longer than 64 bytes are never close to a key: they are not compared.
func editDistance(a, b string) int {
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

// keyNames lists the keys of one known section.
func keyNames(section string) []string {
	names := make([]string, 0, len(keys[section]))
	for k := range keys[section] {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// sectionsWithKey lists the known sections that have key, for a key
// written outside any section.
func sectionsWithKey(key string) []string {
	var out []string
	for _, s := range sectionNames() {
		if _, ok := keys[s][key]; ok {
			out = append(out, "["+s+"]")
		}
	}
	return out
}
