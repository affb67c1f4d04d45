// Package config owns brun's configuration: the defaults, the ini file (the
// seed's [etcd] [kafka] [es] [log] keys plus brun's own sections) and the
// validation that runs before any network I/O.
//
// Every error names the key as section.key and quotes its value, so a user
// can find the line to fix. This package must never dial a server, read
// etcd or start goroutines.
package config
