//go:build !unix

package etcdx

import "math"

// diskFree does not know the free space where statfs is missing: the check
// at start passes, and a full disk is reported when etcd fails to write.
func diskFree(string) (uint64, error) { return math.MaxUint64, nil }
