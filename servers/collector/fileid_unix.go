package collector

import (
	"os"
	"syscall"
)

// fileIdentity returns the device and inode of a file: what stays the same
// when a file is renamed and changes when a new file takes its path.
func fileIdentity(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), st.Ino
	}
	return 0, 0
}
