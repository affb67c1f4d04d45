package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeSecret(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// Every secret key is read from its *_file twin, without the trailing
// newline; the twin's path may come from the environment.
func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{}
	for _, k := range SecretKeys() {
		p := filepath.Join(dir, k)
		if err := os.WriteFile(p, []byte("from-"+k+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		files[k] = p
	}
	t.Setenv("BRUN_TEST_SECRETS", dir)
	c, err := Load(writeConf(t, `
[etcd]
endpoints = 127.0.0.1:2379
username = brun
password_file = ${BRUN_TEST_SECRETS}/etcd.password
[kafka]
endpoints = 127.0.0.1:9092
sasl.mechanism = PLAIN
sasl.username = brun
sasl.password_file = `+files["kafka.sasl.password"]+`
[es]
endpoints = http://127.0.0.1:9200
password =
password_file = `+files["es.password"]+`
apikey_file = `+files["es.apikey"]+`
[console]
token_file = `+files["console.token"]+`
`))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{
		"etcd.password":       c.Etcd.Password,
		"kafka.sasl.password": c.Kafka.SASLPassword,
		"es.password":         c.ES.Password,
		"es.apikey":           c.ES.APIKey,
		"console.token":       c.Console.Token,
	}
	for k, v := range got {
		if v != "from-"+k {
			t.Errorf("%s = %q, want %q", k, v, "from-"+k)
		}
		if c.SecretFiles[k] != files[k] {
			t.Errorf("SecretFiles[%s] = %q, want %q", k, c.SecretFiles[k], files[k])
		}
	}
}

func TestSecretFileProblems(t *testing.T) {
	good := writeSecret(t, "s3cret\r\n", 0o600)
	empty := writeSecret(t, "\n", 0o600)
	missing := filepath.Join(t.TempDir(), "nope")
	big := writeSecret(t, strings.Repeat("x", maxSecretBytes+1), 0o600)
	cases := []struct {
		body string
		want string
	}{
		{"[es]\npassword = inline\npassword_file = " + good, `es.password_file: "` + good + `" is set, and so is es.password: set one of them`},
		{"[console]\ntoken_file = " + missing, `console.token_file: "` + missing + `" can't be read: no such file or directory`},
		{"[es]\napikey_file = " + empty, `es.apikey_file: "` + empty + `" is empty`},
		{"[es]\napikey_file = " + big, `es.apikey_file: "` + big + `" is larger than 64 KiB`},
		{"[es]\napikey_file = " + filepath.Dir(good), `es.apikey_file: "` + filepath.Dir(good) + `" can't be read: is a directory`},
		{"[kafka]\nsasl.password_file = ${BRUN_TEST_UNSET_FILE}", `kafka.sasl.password_file: "${BRUN_TEST_UNSET_FILE}" names BRUN_TEST_UNSET_FILE`},
	}
	for _, c := range cases {
		_, err := Load(writeConf(t, minimal+c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want it to contain %q", c.body, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%q: the error shows the secret: %v", c.body, err)
		}
	}
	if os.Getuid() != 0 { // root reads any file
		unreadable := writeSecret(t, "s3cret", 0o000)
		_, err := Load(writeConf(t, minimal+"[es]\npassword_file = "+unreadable))
		if want := `es.password_file: "` + unreadable + `" can't be read: permission denied`; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("unreadable: %v, want %q", err, want)
		}
	}
	// The file's content is taken as it is apart from the line ending.
	c, err := Load(writeConf(t, minimal+"[es]\npassword_file = "+good))
	if err != nil {
		t.Fatal(err)
	}
	if c.ES.Password != "s3cret" {
		t.Errorf("es.password = %q, want s3cret", c.ES.Password)
	}
}

// A password in an endpoint URL is not quoted back either.
func TestEndpointPasswordNotQuoted(t *testing.T) {
	_, err := Load(writeConf(t, minimal+"[es]\nendpoints = htps://elastic:s3cret@es:9200\n"))
	if want := `es.endpoints: "htps://***@es:9200" is not an http:// or https:// URL`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %q", err, want)
	}
	for in, want := range map[string]string{
		"https://u:p@h:9200/x": "https://***@h:9200/x",
		"http://h:9200":        "http://h:9200",
		"h:9200":               "h:9200",
		"a@b://c":              "a@b://c",
	} {
		if got := Redacted(in); got != want {
			t.Errorf("Redacted(%q) = %q, want %q", in, got, want)
		}
	}
}
