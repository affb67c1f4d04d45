package collector

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLocalZone(t *testing.T) {
	dir := t.TempDir()
	shanghai := filepath.Join(dir, "localtime-shanghai")
	if err := os.Symlink("/usr/share/zoneinfo/Asia/Shanghai", shanghai); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "localtime-copy") // a copy, not a link: no name to read
	if err := os.WriteFile(plain, []byte("TZif"), 0o644); err != nil {
		t.Fatal(err)
	}
	at := func(off int) time.Time { return time.Date(2026, 6, 1, 12, 0, 0, 0, time.FixedZone("", off)) }
	cases := []struct {
		name, tz, localtime string
		now                 time.Time
		want                string
	}{
		{"TZ names the zone", "Europe/Paris", plain, at(7200), "Europe/Paris"},
		{"TZ with a colon", ":America/New_York", plain, at(-4 * 3600), "America/New_York"},
		{"localtime links to zoneinfo", "", shanghai, at(8 * 3600), "Asia/Shanghai"},
		{"no name: the offset", "", plain, at(8 * 3600), "+08:00"},
		{"negative offset with minutes", "", plain, at(-(3*3600 + 1800)), "-03:30"},
		{"UTC", "", filepath.Join(dir, "missing"), at(0), "Z"},
		{"a TZ Go does not know: the offset", "Nowhere/Atlantis", plain, at(3600), "+01:00"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := time.LoadLocation("Asia/Shanghai"); err != nil && c.want == "Asia/Shanghai" {
				t.Skip("no zoneinfo on this machine")
			}
			if got := localZone(c.tz, c.localtime, c.now); got != c.want {
				t.Errorf("localZone(%q, %s) = %q, want %q", c.tz, filepath.Base(c.localtime), got, c.want)
			}
		})
	}
}

func TestHostIPsAreReachableAddresses(t *testing.T) {
	ips := hostIPs()
	if len(ips) > maxHostIPs {
		t.Fatalf("%d addresses, want at most %d", len(ips), maxHostIPs)
	}
	for _, ip := range ips {
		if ip == "127.0.0.1" || ip == "::1" {
			t.Errorf("host.ip lists loopback %s", ip)
		}
	}
}
