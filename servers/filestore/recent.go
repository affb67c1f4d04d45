package filestore

import "hash/maphash"

// recentIDs remembers the ids of the last cap documents written, so that a
// replay (the same document sent again after a crash or a Kafka
// rebalance) is skipped instead of written twice. It is bounded: ids older
// than the last cap are forgotten, as replays come from the last seconds
// of writing. Ids are kept as two independent 64-bit hashes: a false
// match, which would skip a new document, needs both to collide.
type recentIDs struct {
	seed1, seed2 maphash.Seed
	ring         []idKey
	next         int
	full         bool
	set          map[idKey]struct{}
}

type idKey [2]uint64

func newRecentIDs(capacity int) *recentIDs {
	return &recentIDs{
		seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed(),
		ring: make([]idKey, capacity), set: make(map[idKey]struct{}, capacity),
	}
}

func (r *recentIDs) key(id string) idKey {
	return idKey{maphash.String(r.seed1, id), maphash.String(r.seed2, id)}
}

// has reports whether id is among the remembered ids.
func (r *recentIDs) has(id string) bool {
	_, ok := r.set[r.key(id)]
	return ok
}

// add remembers id, forgetting the oldest id when full.
func (r *recentIDs) add(id string) {
	k := r.key(id)
	if _, ok := r.set[k]; ok {
		return
	}
	if r.full {
		delete(r.set, r.ring[r.next])
	}
	r.ring[r.next] = k
	r.set[k] = struct{}{}
	r.next++
	if r.next == len(r.ring) {
		r.next, r.full = 0, true
	}
}
