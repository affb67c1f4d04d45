package config

import (
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	env := map[string]string{"HOST": "es1", "EMPTY": "", "PORT": "9200"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cases := []struct {
		in, want string
	}{
		{"plain", "plain"},
		{"http://${HOST}:${PORT}", "http://es1:9200"},
		{"${MISSING:-fallback}", "fallback"},
		{"${EMPTY:-fallback}", "fallback"},
		{"${HOST:-fallback}", "es1"},
		{"${MISSING:-}", ""},
		{"${EMPTY}", ""},
		{"pa$$word", "pa$word"},
		{"$${HOST}", "${HOST}"},
		{"cost $5 and $", "cost $5 and $"},
		{"${app.name}", "${app.name}"},
		{"${MISSING:-a:-b}", "a:-b"},
	}
	for _, c := range cases {
		got, ref, reason := expand(c.in, lookup)
		if reason != "" || got != c.want {
			t.Errorf("expand(%q) = %q (%q %s), want %q", c.in, got, ref, reason, c.want)
		}
	}
	for in, wantRef := range map[string]string{
		"${MISSING}":        "${MISSING}",
		"a ${HOST} ${NOPE}": "${NOPE}",
		"${HOST":            "${HOST",
		"${1ST}":            "${1ST}",
		"${A-b}":            "${A-b}",
		"${}":               "${}",
	} {
		got, ref, reason := expand(in, lookup)
		if reason == "" || ref != wantRef {
			t.Errorf("expand(%q) = %q, ref %q, reason %q; want an error about %q", in, got, ref, reason, wantRef)
		}
	}
}

// Every value is expanded; an unset variable names section.key and the
// variable, and never a value from the environment.
func TestLoadExpandsVariables(t *testing.T) {
	t.Setenv("BRUN_TEST_ES", "http://es.example.com:9200")
	t.Setenv("BRUN_TEST_NUMS", "7")
	c, err := Load(writeConf(t, `
[etcd]
endpoints = 127.0.0.1:2379
[kafka]
endpoints = ${BRUN_TEST_KAFKA:-kafka1:9092},kafka2:9092
[es]
endpoints = ${BRUN_TEST_ES}
nums = ${BRUN_TEST_NUMS}
password = pa$$word
[log]
file.name = ${app.name}
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.ES.Endpoints[0] != "http://es.example.com:9200" || c.ES.Nums != 7 || c.ES.Password != "pa$word" {
		t.Errorf("es: %+v", c.ES)
	}
	if strings.Join(c.Kafka.Endpoints, ",") != "kafka1:9092,kafka2:9092" {
		t.Errorf("kafka.endpoints %v", c.Kafka.Endpoints)
	}
	if c.LogFileName() != "brun" {
		t.Errorf("log.file.name %q", c.LogFileName())
	}

	t.Setenv("BRUN_TEST_SECRET", "s3cret-value")
	_, err = Load(writeConf(t, minimal+"[es]\nusername = ${BRUN_TEST_SECRET}\npassword = ${BRUN_TEST_UNSET}\n"))
	want := `es.password: "${BRUN_TEST_UNSET}" names BRUN_TEST_UNSET, which is not set in the environment`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
	if strings.Contains(err.Error(), "s3cret-value") {
		t.Errorf("the error shows a variable's value: %v", err)
	}
}
