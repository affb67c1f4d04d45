// Package config owns brun's configuration: the defaults, the ini file (the
// seed's [etcd] [kafka] [es] [log] keys plus brun's own sections), the
// environment variables its values name (expand.go), the secret files its
// *_file keys name (secrets.go), and the validation that runs before any
// network I/O.
//
// Every error names the key as section.key and quotes its value, so a user
// can find the line to fix; Load reports all of them at once, as `brun
// check` prints them. A secret's value is never quoted. This package must
// never dial a server, read etcd or start goroutines.
package config
