package etcdx

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/etcdserver"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
)

const (
	// rootUser is the embedded etcd's one user, with etcd's built-in role
	// root: brun's roles and the operator's etcdctl both act as it.
	rootUser = "root"
	// PasswordFile is the name, in the embedded etcd's directory, of the
	// file holding rootUser's password (mode 0600, no newline).
	PasswordFile = "root.password"
	// passwordBytes is the password's entropy: 192 bits.
	passwordBytes = 24
)

// ensureAuth makes sure the member s, whose data is in dir, has
// authentication on with user root (role root) and the password of
// dir/root.password, and returns that password. It is called while no
// client can reach the member (see gate), once it is ready.
//
// A member without authentication (a first start, or a data dir from a
// brun that did not turn it on) gets a new password, written to the file
// before etcd is changed: a stop in between leaves a file whose password
// the next start sets up. A member with authentication on needs the file,
// with the right password; without it brun can't act as root, and says
// which file is missing and what to do.
func ensureAuth(ctx context.Context, s *etcdserver.EtcdServer, dir string) (string, error) {
	path := filepath.Join(dir, PasswordFile)
	pw, err := readPassword(path)
	if err != nil {
		return "", err
	}
	if s.AuthStore().IsAuthEnabled() {
		if pw == "" {
			return "", fmt.Errorf("the embedded etcd in %s has authentication on, but %s, which holds the password of its user %s, is missing: put the file back, or (losing the jobs stored in it) move %s away to start an empty etcd",
				dir, path, rootUser, dir)
		}
		if _, err := s.AuthStore().CheckPassword(rootUser, pw); err != nil {
			return "", fmt.Errorf("%s does not hold the password of the embedded etcd's user %s (%v): put the right file back, or (losing the jobs stored in it) move %s away to start an empty etcd",
				path, rootUser, err, dir)
		}
		return pw, nil
	}
	if pw == "" {
		if pw, err = newPassword(); err != nil {
			return "", err
		}
		if err := writeFileAtomic(path, []byte(pw), 0o600); err != nil {
			return "", fmt.Errorf("embedded etcd's password: %w", err)
		}
	}
	cli := v3client.New(s)
	defer cli.Close()
	if err := enableAuth(ctx, cli, pw); err != nil {
		return "", fmt.Errorf("embedded etcd in %s: turning authentication on: %w", dir, err)
	}
	return pw, nil
}

// enableAuth creates (or resets the password of) user root, gives it role
// root and turns authentication on. Every step tolerates having been done
// before, by an earlier start that stopped half way or by an operator.
func enableAuth(ctx context.Context, cli *clientv3.Client, pw string) error {
	if _, err := cli.UserAdd(ctx, rootUser, pw); errors.Is(err, rpctypes.ErrUserAlreadyExist) {
		if _, err := cli.UserChangePassword(ctx, rootUser, pw); err != nil {
			return fmt.Errorf("password of user %s: %w", rootUser, err)
		}
	} else if err != nil {
		return fmt.Errorf("add user %s: %w", rootUser, err)
	}
	if _, err := cli.RoleAdd(ctx, "root"); err != nil && !errors.Is(err, rpctypes.ErrRoleAlreadyExist) {
		return fmt.Errorf("add role root: %w", err)
	}
	if _, err := cli.UserGrantRole(ctx, rootUser, "root"); err != nil {
		return fmt.Errorf("grant role root to %s: %w", rootUser, err)
	}
	if _, err := cli.AuthEnable(ctx); err != nil {
		return fmt.Errorf("auth enable: %w", err)
	}
	return nil
}

// readPassword returns the password in path, or "" when there is no such
// file. A file others may read is made private again: the directory above
// it is, so the password has not left brun's user.
func readPassword(path string) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("embedded etcd's password: %w", err)
	}
	if info, err := os.Stat(path); err == nil && info.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return "", fmt.Errorf("embedded etcd's password: %w", err)
		}
	}
	pw := strings.TrimSpace(string(data))
	if pw == "" {
		return "", fmt.Errorf("embedded etcd's password file %s is empty: put the right file back, or remove it if the etcd in %s never had authentication on",
			path, filepath.Dir(path))
	}
	return pw, nil
}

// newPassword returns 192 random bits, URL-safe base64 without padding: no
// ':' (etcdctl's --user splits there), nothing a shell or an ini file
// would change.
func newPassword() (string, error) {
	b := make([]byte, passwordBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("embedded etcd's password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// writeFileAtomic replaces path with data: a reader (or a crash) sees the
// old file or the whole new one, never a part.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, there is none
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// The rename itself is durable only once the directory is.
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
