//go:build unix

package etcdx

import "syscall"

// diskFree is what statfs says an unprivileged user may still write on the
// file system holding dir (f_bavail). brun running as root could also use
// the blocks reserved for root; leaving them out errs on the safe side, and
// keeps them for the rest of the host.
func diskFree(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}
