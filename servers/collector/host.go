package collector

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"brun/base/version"
)

// host is what every event says of the machine and the agent (ECS host.*,
// agent.name and agent.version, event.timezone), found once at start.
type host struct {
	name     string   // host.name, host.hostname and agent.name
	ips      []string // host.ip
	timezone string   // event.timezone
	version  string   // agent.version
}

// maxHostIPs bounds host.ip: a host with hundreds of addresses (a
// container host) would otherwise repeat them all in every event.
const maxHostIPs = 16

func findHost(now time.Time) host {
	name, _ := os.Hostname()
	return host{name: name, ips: hostIPs(), timezone: localZone(os.Getenv("TZ"), "/etc/localtime", now), version: version.Get().Version}
}

// hostIPs lists the host's unicast addresses that others can reach it on:
// neither loopback nor link-local.
func hostIPs() []string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || n.IP.IsLoopback() || n.IP.IsLinkLocalUnicast() || n.IP.IsMulticast() || n.IP.IsUnspecified() {
			continue
		}
		out = append(out, n.IP.String())
		if len(out) == maxHostIPs {
			break
		}
	}
	return out
}

// localZone names the zone the host's clock is in, as event.timezone: the
// IANA name when it can be known (TZ, or the zoneinfo file localtime
// links to), else the offset at now, such as "+08:00" or "Z" for UTC.
func localZone(tz, localtime string, now time.Time) string {
	tz = strings.TrimPrefix(tz, ":")
	if tz != "" {
		if _, err := time.LoadLocation(tz); err == nil {
			return tz
		}
	}
	if tz == "" {
		if target, err := os.Readlink(localtime); err == nil {
			if i := strings.Index(target, "zoneinfo/"); i >= 0 {
				name := filepath.ToSlash(target[i+len("zoneinfo/"):])
				if _, err := time.LoadLocation(name); err == nil {
					return name
				}
			}
		}
	}
	_, off := now.Zone()
	if off == 0 {
		return "Z"
	}
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	return string(sign) + twoDigits(off/3600) + ":" + twoDigits(off%3600/60)
}

func twoDigits(n int) string { return string([]byte{byte('0' + n/10), byte('0' + n%10)}) }
