package config

import (
	"fmt"
	"strings"
)

// Environment variables in ini values, so that one file serves many hosts
// and secrets need not be written in it (see also the *_file keys):
//
//	${NAME}            the variable's value; unset is an error
//	${NAME:-default}   the value, or default when unset or empty
//	$$                 a literal "$"
//
// NAME is letters, digits and "_", not starting with a digit, as in the
// shell. default is taken literally up to the first "}" (no variables in
// it). Any other "$" is kept as it is, and so is the seed's ${app.name}
// placeholder of log.file.name, which is not a variable. A "${" that is
// none of these (no closing "}", a name with other characters) is an
// error, not kept literally: it is far more likely a mistake than meant.

// expand replaces the variable references in v with lookup's values. On
// error it returns the offending reference and why it failed; never the
// value of a variable, which may be a secret.
func expand(v string, lookup func(string) (string, bool)) (_ string, ref, reason string) {
	if !strings.Contains(v, "$") {
		return v, "", ""
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '$' || i+1 == len(v) {
			b.WriteByte(v[i])
			continue
		}
		switch v[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '{':
		default:
			b.WriteByte('$')
			continue
		}
		end := strings.IndexByte(v[i:], '}')
		if end < 0 {
			return "", v[i:], "has no closing \"}\" (write $$ for a literal $)"
		}
		ref := v[i : i+end+1]
		if ref == appNameVar {
			b.WriteString(ref)
			i += end
			continue
		}
		body := ref[2 : len(ref)-1]
		name, def, hasDef := strings.Cut(body, ":-")
		if !validVarName(name) {
			return "", ref, "is not ${NAME} or ${NAME:-default} (NAME: letters, digits, _; write $$ for a literal $)"
		}
		val, set := lookup(name)
		switch {
		case hasDef && val == "":
			val = def
		case !set:
			return "", ref, fmt.Sprintf("names %s, which is not set in the environment (for a default: ${%s:-value})", name, name)
		}
		b.WriteString(val)
		i += end
	}
	return b.String(), "", ""
}

// validVarName reports whether s is a shell variable name.
func validVarName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
