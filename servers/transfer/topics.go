package transfer

import (
	"slices"
	"sort"
	"sync"

	"brun/servers/job"
)

// topicSet is the list of topics to consume, which the etcd mirror may
// change at any time.
type topicSet struct {
	mu      sync.Mutex
	list    []string
	changed chan struct{} // closed and replaced on each change
}

func newTopicSet(initial []string) *topicSet {
	return &topicSet{list: sortedUnique(initial), changed: make(chan struct{})}
}

// get returns the current list and a channel closed at its next change.
func (t *topicSet) get() ([]string, <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.list, t.changed
}

// set replaces the list; an equal list is not a change.
func (t *topicSet) set(list []string) {
	list = sortedUnique(list)
	t.mu.Lock()
	defer t.mu.Unlock()
	if slices.Equal(list, t.list) {
		return
	}
	t.list = list
	close(t.changed)
	t.changed = make(chan struct{})
}

func sortedUnique(in []string) []string {
	out := slices.Clone(in)
	sort.Strings(out)
	return slices.Compact(out)
}

// jobTopics returns the topics named by the valid jobs among kv.
func jobTopics(kv map[string][]byte) []string {
	var out []string
	for _, v := range kv {
		if spec, err := job.Parse(v); err == nil {
			out = append(out, spec.Topic)
		}
	}
	return out
}
