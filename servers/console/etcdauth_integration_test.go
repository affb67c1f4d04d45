package console

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"brun/base/testkit"
)

// TestEtcdTLSAndPassword runs a private etcd (the shared one stays as it
// is) that demands TLS client certificates and has authentication on, and
// a console-only brun that reaches it with etcd.tls.* and
// etcd.username/password: /readyz sees etcd, and a job written through the
// API is what etcdctl (as root) reads. With a wrong password brun stops at
// start, naming etcd.username.
func TestEtcdTLSAndPassword(t *testing.T) {
	testkit.Integration(t)
	dir := t.TempDir()
	ca, cert, key := writeCerts(t, dir)
	client, peer := testkit.FreeAddr(t), testkit.FreeAddr(t)
	etcd := exec.Command("etcd", "--name", "authtest", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", "https://"+client, "--advertise-client-urls", "https://"+client,
		"--listen-peer-urls", "http://"+peer, "--initial-advertise-peer-urls", "http://"+peer,
		"--initial-cluster", "authtest=http://"+peer,
		"--cert-file", cert, "--key-file", key, "--trusted-ca-file", ca, "--client-cert-auth")
	logs := testkit.NewSyncBuffer()
	etcd.Stdout, etcd.Stderr = logs, logs
	if err := etcd.Start(); err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	t.Cleanup(func() {
		etcd.Process.Kill()
		etcd.Wait()
		if t.Failed() {
			t.Logf("private etcd's log:\n%s", logs.String())
		}
	})
	ctl := func(args ...string) (string, error) {
		cmd := exec.Command("etcdctl", append([]string{"--endpoints=https://" + client, "--cacert=" + ca, "--cert=" + cert, "--key=" + key,
			"--dial-timeout=2s", "--command-timeout=5s"}, args...)...)
		cmd.Env = append(os.Environ(), "ETCDCTL_API=3")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	testkit.WaitFor(t, 30*time.Second, "the private etcd to answer", func() bool { _, err := ctl("endpoint", "health"); return err == nil })
	for _, args := range [][]string{{"user", "add", "root", "--new-user-password=rootpw"}, {"auth", "enable"}} {
		if out, err := ctl(args...); err != nil {
			t.Fatalf("etcdctl %v: %v\n%s", args, err, out)
		}
	}

	cases := []struct {
		password string
		ready    bool
	}{
		{"rootpw", true},
		{"wrong", false},
	}
	for _, c := range cases {
		t.Run("password "+c.password, func(t *testing.T) {
			run := testkit.Unique("etcdauth")
			listen := testkit.FreeAddr(t)
			dir := t.TempDir()
			token := "tok-" + run
			ini := writeFile(t, dir, "brun.ini", fmt.Sprintf(`
[brun]
roles = console
data.dir = %s/data
[etcd]
endpoints = https://%s
prefix = /%s/
username = root
password = %s
tls.enabled = true
tls.ca = %s
tls.cert = %s
tls.key = %s
[console]
listen = %s
token = %s
[log]
dir =
`, dir, client, run, c.password, ca, cert, key, listen, token))
			p := testkit.StartBrun(t, ini)
			if !c.ready {
				// The etcd client authenticates when it is made: a wrong
				// password stops brun at start, naming the setting.
				p.WaitLog(30*time.Second, "authentication failed")
				if !strings.Contains(p.Logs.String(), `etcd.username "root"`) {
					t.Fatalf("the error does not name etcd.username:\n%s", p.Logs.String())
				}
				return
			}
			var code int
			var body string
			testkit.WaitFor(t, 30*time.Second, "an answer on /readyz", func() bool {
				code, body = httpGet("http://" + listen + "/readyz")
				return code != 0
			})
			if code != 200 || !strings.Contains(body, `"name":"etcd"`) {
				t.Fatalf("/readyz: %d %s, want 200 with etcd", code, body)
			}
			res, out := putJob(t, "http://"+listen, token, "a1", "app", `{"path":"/var/log/app.log","topic":"app"}`)
			if res != 201 {
				t.Fatalf("PUT through the console: %d %s\n%s", res, out, p.Logs.String())
			}
			got, err := ctl("--user=root:rootpw", "get", "--print-value-only", "/"+run+"/job/a1/app")
			if err != nil || strings.TrimSpace(got) != `{"path":"/var/log/app.log","topic":"app"}` {
				t.Fatalf("etcdctl get after PUT: %v %q", err, got)
			}
		})
	}
}

// putJob PUTs a job through a console, as a script does (bearer token,
// JSON); it returns the status code and body.
func putJob(t *testing.T, base, token, agent, name, value string) (int, string) {
	t.Helper()
	code, body := consoleCall(t, base, token, "PUT", "/api/agents/"+agent+"/jobs/"+name, value)
	return code, strings.TrimSpace(string(body))
}

// consoleCall sends method path (with body as JSON when there is one) to
// the console at base with the bearer token, and returns the status code
// and body.
func consoleCall(t *testing.T, base, token, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// writeCerts makes a CA and one certificate signed by it for 127.0.0.1,
// usable by etcd as server and by its clients; it returns the PEM files.
// Its common name is no etcd user, so only the password grants access.
func writeCerts(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "brun test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "no-such-user"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", leafDER), write("key.pem", "EC PRIVATE KEY", keyDER)
}
