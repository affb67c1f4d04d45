// Package datadir owns brun.data.dir as a whole: it is created private to
// brun's user, and one brun at a time may use it. Two processes on one
// data.dir would erase each other's offsets and fight over the embedded
// etcd's files, so the second one stops at once, naming the first.
//
// It must not know what lives inside the directory; each part of brun
// keeps its own files there.
package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// LockName is the lock file under data.dir; it holds the pid of the brun
// that has the directory.
const LockName = "brun.lock"

// Dir is a data.dir held by this process until Close.
type Dir struct {
	Path string
	lock *os.File
	// Loose is set when the directory existed with permissions for group
	// or others: it holds offsets, jobs and, in local mode, shipped log
	// lines, which other local users should not read. brun says so and
	// leaves the directory's mode to the operator.
	Loose os.FileMode
}

// BusyError means another process holds the data.dir.
type BusyError struct {
	Path string
	PID  int // 0 when the lock file names none
}

func (e *BusyError) Error() string {
	who := "another brun"
	if e.PID > 0 {
		who += " (pid " + strconv.Itoa(e.PID) + ")"
	}
	return fmt.Sprintf("brun.data.dir %s is in use by %s: each brun needs a data.dir of its own", e.Path, who)
}

// Open creates path (mode 0700) when it is missing and takes an exclusive
// lock on it (flock on path/brun.lock, released by the kernel when the
// process ends, however it ends). A held lock is a *BusyError; a
// directory that can't be made or written is an error naming it and the
// reason.
func Open(path string) (*Dir, error) {
	d := &Dir{Path: path}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(path, 0o700); err != nil {
			return nil, fmt.Errorf("brun.data.dir %s: %w", path, unwrapPath(err))
		}
	case err != nil:
		return nil, fmt.Errorf("brun.data.dir %s: %w", path, unwrapPath(err))
	case !fi.IsDir():
		return nil, fmt.Errorf("brun.data.dir %s: not a directory", path)
	default:
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			d.Loose = perm
		}
	}
	lockPath := filepath.Join(path, LockName)
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("brun.data.dir %s: can't write in it: %w", path, unwrapPath(err))
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &BusyError{Path: path, PID: readPID(f)}
		}
		return nil, fmt.Errorf("brun.data.dir %s: lock %s: %w", path, lockPath, err)
	}
	if err := writePID(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("brun.data.dir %s: can't write in it: %w", path, err)
	}
	d.lock = f
	return d, nil
}

// Close releases the lock. The lock file stays: removing it would let a
// third process lock a new file while a second still waits on the old one.
func (d *Dir) Close() error {
	if d.lock == nil {
		return nil
	}
	d.lock.Truncate(0)
	err := d.lock.Close()
	d.lock = nil
	return err
}

func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		return err
	}
	return f.Sync()
}

func readPID(f *os.File) int {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil {
		return 0
	}
	return pid
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
