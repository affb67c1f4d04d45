package console

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"brun/base/config"
)

// tokenBytes is how much randomness a generated token holds: 256 bits,
// 43 URL-safe characters, so the login URL needs no escaping.
const tokenBytes = 32

// minTokenChars is the shortest token the token file may hold: 128 bits
// in URL-safe base64.
const minTokenChars = 22

// Token returns the credential every /api call needs. With [console] token
// set it is that (generated false). Otherwise it is the token brun keeps in
// data.dir/console.token (generated true): read when the file exists, else
// made from 256 random bits and written there (mode 0600, O_EXCL), so it
// stays the same across restarts and a browser stays logged in.
//
// The file must be a regular file of brun's user that no one else may
// read or write: a file with group or other permission bits is refused,
// not fixed, because another user may have read the token already; the
// error says to delete the file (brun then makes a new token) or chmod it.
// Every error names the file. data.dir must exist.
func Token(cfg *config.Config) (token string, generated bool, err error) {
	if cfg.Console.Token != "" {
		return cfg.Console.Token, false, nil
	}
	path := cfg.ConsoleTokenFile()
	token, err = readToken(path)
	if errors.Is(err, fs.ErrNotExist) {
		token, err = createToken(path)
		if errors.Is(err, fs.ErrExist) { // made meanwhile: use that one
			token, err = readToken(path)
		}
	}
	if err != nil {
		return "", true, err
	}
	return token, true, nil
}

// readToken reads the token file at path, checking it first on the open
// descriptor (no symlink followed, so it can't be swapped for another
// file between a check and the read).
func readToken(path string) (string, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return "", fmt.Errorf("console token file %s is a symbolic link; it must be a file of its own: delete it and brun makes a new token", path)
		}
		return "", fmt.Errorf("console token file: %w", err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return "", fmt.Errorf("console token file %s: %w", path, err)
	}
	mode := fs.FileMode(st.Mode & 0o777)
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return "", fmt.Errorf("console token file %s is not a regular file", path)
	case int(st.Uid) != os.Geteuid():
		return "", fmt.Errorf("console token file %s belongs to uid %d, not to brun's user (%d): another user may have chosen the token; delete it and brun makes a new one", path, st.Uid, os.Geteuid())
	case mode&0o077 != 0:
		return "", fmt.Errorf("console token file %s has mode %v: other local users may have read the token; delete the file (brun makes a new token, ending every session) or chmod 600 it", path, mode)
	}
	data := make([]byte, 1024)
	n, err := f.Read(data)
	if err != nil && n == 0 {
		return "", fmt.Errorf("console token file %s: empty: delete it and brun makes a new token", path)
	}
	tok := strings.TrimSpace(string(data[:n]))
	if len(tok) < minTokenChars || len(tok) > 512 || strings.ContainsFunc(tok, func(c rune) bool { return !urlSafe(c) }) {
		return "", fmt.Errorf("console token file %s holds no token (%d to 512 of A-Z a-z 0-9 - _): delete it and brun makes a new one", path, minTokenChars)
	}
	return tok, nil
}

func urlSafe(c rune) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// createToken makes a new token and writes it to path, which must not
// exist (fs.ErrExist otherwise). A file it could not finish is removed, so
// the next start makes a new one.
func createToken(path string) (string, error) {
	b := make([]byte, tokenBytes)
	rand.Read(b) // never fails (crypto/rand)
	tok := base64.RawURLEncoding.EncodeToString(b)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return "", err
		}
		return "", fmt.Errorf("console token file: %w", err)
	}
	_, err = f.WriteString(tok + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", fmt.Errorf("console token file %s: %w", path, err)
	}
	return tok, nil
}
