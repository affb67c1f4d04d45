package testkit

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// NetHost is a host of its own for a test: a network namespace joined to
// this machine by a veth pair, with an address of its own, so that a brun
// run in it sees one non-loopback address (its default agent id, as on a
// real host) and can be cut off the network and brought back.
//
// The servers listen on 127.0.0.1 only. Forward makes a port of them
// answer on the namespace's own 127.0.0.1 too, through the veth: the
// namespace's end dials the machine's end of the pair, which dials the
// server, so a cut link cuts the traffic as a pulled cable would. Nothing
// is sent anywhere but between loopback and the namespace's addresses,
// which NewNetHost assigns from 10.231.0.0/16.
type NetHost struct {
	Name string // the namespace
	IP   string // the namespace's address (its agent id)
	gw   string // the machine's end of the pair
	link string // the machine's end's interface

	mu        sync.Mutex
	listeners []net.Listener
	conns     []net.Conn
}

// NetnsAvailable reports why this machine can't make NetHosts ("" when it
// can): it takes root and iproute2's ip.
func NetnsAvailable() string {
	if os.Geteuid() != 0 {
		return "network namespaces need root"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "no ip command (iproute2)"
	}
	return ""
}

// NewNetHost makes host n (1 to 250) of the test: namespace brun-host<n>
// with address 10.231.<n>.2, its machine-side end 10.231.<n>.1. A
// namespace or link of that name left by an earlier run is removed
// first. Everything is removed when the test ends.
func NewNetHost(t testing.TB, n int) *NetHost {
	t.Helper()
	if why := NetnsAvailable(); why != "" {
		t.Skip(why)
	}
	if n < 1 || n > 250 {
		t.Fatalf("NetHost %d: n is 1 to 250", n)
	}
	h := &NetHost{
		Name: fmt.Sprintf("brun-host%d", n),
		IP:   fmt.Sprintf("10.231.%d.2", n),
		gw:   fmt.Sprintf("10.231.%d.1", n),
		link: fmt.Sprintf("brunh%d", n),
	}
	exec.Command("ip", "netns", "del", h.Name).Run()
	exec.Command("ip", "link", "del", h.link).Run()
	peer := h.link + "p"
	for _, args := range [][]string{
		{"netns", "add", h.Name},
		{"link", "add", h.link, "type", "veth", "peer", "name", peer},
		{"link", "set", peer, "netns", h.Name},
		{"addr", "add", h.gw + "/30", "dev", h.link},
		{"link", "set", h.link, "up"},
		{"-n", h.Name, "addr", "add", h.IP + "/30", "dev", peer},
		{"-n", h.Name, "link", "set", peer, "up"},
		{"-n", h.Name, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			exec.Command("ip", "netns", "del", h.Name).Run()
			exec.Command("ip", "link", "del", h.link).Run()
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	t.Cleanup(func() {
		h.mu.Lock()
		for _, l := range h.listeners {
			l.Close()
		}
		for _, c := range h.conns {
			c.Close()
		}
		h.mu.Unlock()
		exec.Command("ip", "netns", "del", h.Name).Run()
		exec.Command("ip", "link", "del", h.link).Run()
	})
	return h
}

// Command returns cmd to run inside the namespace.
func (h *NetHost) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.Name, name}, args...)...)
}

// Cut takes the host off the network: its link goes down, and what it
// sends or is sent is lost until Restore.
func (h *NetHost) Cut(t testing.TB) {
	t.Helper()
	if out, err := exec.Command("ip", "link", "set", h.link, "down").CombinedOutput(); err != nil {
		t.Fatalf("cut %s: %v\n%s", h.Name, err, out)
	}
}

// Restore brings the host's link back up.
func (h *NetHost) Restore(t testing.TB) {
	t.Helper()
	if out, err := exec.Command("ip", "link", "set", h.link, "up").CombinedOutput(); err != nil {
		t.Fatalf("restore %s: %v\n%s", h.Name, err, out)
	}
}

// Forward makes each port of the machine's 127.0.0.1 answer on the
// namespace's 127.0.0.1, through the veth pair.
func (h *NetHost) Forward(t testing.TB, ports ...int) {
	t.Helper()
	for _, p := range ports {
		port := strconv.Itoa(p)
		// The machine's end: the pair's address to the server.
		outer, err := net.Listen("tcp", net.JoinHostPort(h.gw, port))
		if err != nil {
			t.Fatalf("forward %s: %v", port, err)
		}
		h.track(outer, nil)
		go h.serve(outer, func() (net.Conn, error) {
			return net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", port), 5*time.Second)
		})
		// The namespace's end: its loopback to the pair's other end.
		var inner net.Listener
		if err := h.in(func() error {
			var err error
			inner, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
			return err
		}); err != nil {
			t.Fatalf("forward %s in %s: %v", port, h.Name, err)
		}
		h.track(inner, nil)
		go h.serve(inner, func() (c net.Conn, err error) {
			err = h.in(func() error {
				c, err = net.DialTimeout("tcp", net.JoinHostPort(h.gw, port), 5*time.Second)
				return err
			})
			return c, err
		})
	}
}

func (h *NetHost) track(l net.Listener, c net.Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l != nil {
		h.listeners = append(h.listeners, l)
	}
	if c != nil {
		h.conns = append(h.conns, c)
	}
}

// serve copies each connection l accepts to one dial makes, both ways.
func (h *NetHost) serve(l net.Listener, dial func() (net.Conn, error)) {
	for {
		a, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			b, err := dial()
			if err != nil {
				a.Close()
				return
			}
			h.track(nil, a)
			h.track(nil, b)
			go func() { io.Copy(a, b); a.Close(); b.Close() }()
			io.Copy(b, a)
			a.Close()
			b.Close()
		}()
	}
}

// in runs f on an OS thread that has entered the namespace: a socket f
// makes belongs to the namespace for good. The thread goes back to the
// machine's namespace afterwards, or, if it can't, ends with its
// goroutine (a locked thread is not reused).
func (h *NetHost) in(f func() error) error {
	ns, err := os.Open("/run/netns/" + h.Name)
	if err != nil {
		return err
	}
	defer ns.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			errc <- err
			return
		}
		defer self.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		err = f()
		if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}
