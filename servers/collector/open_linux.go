package collector

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// RefusedError says why the agent will not read a file: it is outside
// agent.allow once its links are followed, it is not a regular file, or
// it does not behave like one (procfs, sysfs: size 0, yet readable). The
// file was closed unread.
type RefusedError struct {
	Path   string // the path the job named
	Reason string
}

func (e *RefusedError) Error() string { return e.Path + ": " + e.Reason }

// pseudoFS names the filesystems whose files report sizes that do not
// track their content: a reader following size and offset would read them
// again and again.
var pseudoFS = map[int64]string{
	unix.PROC_SUPER_MAGIC:    "procfs",
	unix.SYSFS_MAGIC:         "sysfs",
	unix.DEBUGFS_MAGIC:       "debugfs",
	unix.TRACEFS_MAGIC:       "tracefs",
	unix.SECURITYFS_MAGIC:    "securityfs",
	unix.CGROUP_SUPER_MAGIC:  "cgroupfs",
	unix.CGROUP2_SUPER_MAGIC: "cgroup2fs",
	unix.BPF_FS_MAGIC:        "bpffs",
	0x62656570:               "configfs", // CONFIGFS_MAGIC
	unix.PSTOREFS_MAGIC:      "pstore",
	unix.EFIVARFS_MAGIC:      "efivarfs",
	unix.SELINUX_MAGIC:       "selinuxfs",
	unix.SMACK_MAGIC:         "smackfs",
	unix.BINFMTFS_MAGIC:      "binfmt_misc",
	unix.NSFS_MAGIC:          "nsfs",
	0x65735543:               "fusectl", // FUSE_CTL_SUPER_MAGIC
}

// openChecked opens path for reading only if the file it names now, after
// every symlink is followed, is a regular file on a real filesystem and
// (when allow is not empty) its real path is inside agent.allow.
//
// The check is made on the opened file, not on the path before opening,
// so that a symlink swapped between a check and an open can't lead the
// agent outside the allowlist: the path is first opened with O_PATH
// (which neither reads the file nor opens a device), the descriptor's
// type, filesystem and real path (/proc/self/fd/N) are checked, and only
// then is that same inode opened for reading through /proc/self/fd/N. A
// refusal is a *RefusedError; a missing file wraps fs.ErrNotExist.
func openChecked(path string, allow []string) (f *os.File, real string, err error) {
	pfd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, "", &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(pfd)

	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil {
		return nil, "", &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, "", &RefusedError{Path: path, Reason: "is " + kindOf(st.Mode) + ", not a regular file; a job reads regular files only"}
	}
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(pfd, &sfs); err == nil {
		if name, ok := pseudoFS[int64(sfs.Type)]; ok {
			return nil, "", &RefusedError{Path: path, Reason: "is on " + name + ", whose file sizes do not track their content; it can't be followed as a log"}
		}
	}

	proc := "/proc/self/fd/" + strconv.Itoa(pfd)
	real, err = os.Readlink(proc)
	if err != nil {
		if len(allow) > 0 {
			return nil, "", &RefusedError{Path: path, Reason: "agent.allow can't be checked without /proc (" + err.Error() + ")"}
		}
		real = path
		f, err = os.OpenFile(path, os.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	} else {
		if len(allow) > 0 && !MatchAny(allow, real) {
			return nil, "", &RefusedError{Path: path, Reason: "is " + real + ", outside agent.allow; not read"}
		}
		f, err = os.OpenFile(proc, os.O_RDONLY|unix.O_NOCTTY, 0)
	}
	if err != nil {
		return nil, "", fmt.Errorf("open %s: %w", path, errors.Unwrap(err))
	}
	// Without /proc the path was opened a second time: it must still be
	// the inode checked above, and a regular file.
	var st2 unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st2); err != nil || st2.Dev != st.Dev || st2.Ino != st.Ino {
		f.Close()
		return nil, "", &RefusedError{Path: path, Reason: "changed while it was opened; tried again at the next scan"}
	}
	if yieldsPastSize(f) {
		f.Close()
		return nil, "", &RefusedError{Path: path, Reason: "has more to read than its size says (a pseudo file); it can't be followed as a log"}
	}
	return f, real, nil
}

// yieldsPastSize reports whether f gives bytes beyond the size it reports,
// as files of kernel filesystems do (size 0, yet readable). A regular file
// growing at that moment is told apart by its size after the read.
func yieldsPastSize(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	var b [1]byte
	n, _ := f.ReadAt(b[:], fi.Size())
	if n == 0 {
		return false
	}
	after, err := f.Stat()
	return err == nil && after.Size() <= fi.Size()
}

func kindOf(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return "a directory (name its files, e.g. with a glob: dir/*.log)"
	case unix.S_IFCHR, unix.S_IFBLK:
		return "a device"
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFLNK:
		return "a symlink"
	}
	return "not a regular file"
}

// isNotExist reports whether err means the path names nothing (yet).
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
