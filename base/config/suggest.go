package config

import (
	"fmt"
	"sort"
	"strings"

	"brun/base/textdist"
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
		if d := textdist.Distance(strings.ToLower(name), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
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
