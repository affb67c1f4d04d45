package etcdx

import (
	"fmt"
	"os"
)

// minFree is the free space the embedded etcd's directory must have at
// start: etcd preallocates its write-ahead log in segments of 64 MiB and
// cuts a new one when the current one is full, and its database grows too.
// Below this a start would end in etcd's "failed to create WAL" panic, or
// in a failed write soon after.
const minFree = 128 << 20

// walSegment is the size etcd preallocates for each write-ahead log file.
const walSegment = 64 << 20

// freeSpace returns the bytes available to brun on the file system holding
// dir. A variable so that tests can pretend a disk is full.
var freeSpace = diskFree

// checkRoom reports, as one error naming data.dir/etcd, a directory the
// embedded etcd could not run in: not writable, or with less than minFree
// available. It writes and removes one empty file.
func checkRoom(dir string) error {
	f, err := os.CreateTemp(dir, ".brun-write-check-*")
	if err != nil {
		return fmt.Errorf("data.dir/etcd %s is not writable: %w", dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	free, err := freeSpace(dir)
	if err != nil {
		return fmt.Errorf("data.dir/etcd %s: free space: %w", dir, err)
	}
	if free < minFree {
		return fmt.Errorf("data.dir/etcd %s: %s free, the embedded etcd needs at least %s there (it preallocates its write-ahead log in %s files): free some space, or set brun.data.dir to a larger file system",
			dir, mib(free), mib(minFree), mib(walSegment))
	}
	return nil
}

// mib formats a byte count for an operator: "52.3 MiB".
func mib(n uint64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
