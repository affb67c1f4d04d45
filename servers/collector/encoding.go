package collector

import (
	"bytes"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
)

// codec is how a job's encoding is read: how a newline and a carriage
// return look in it, and how a line is turned into UTF-8. Lines are cut on
// the encoded newline first and decoded one by one, so offsets stay exact
// byte offsets of the file.
type codec struct {
	nl, cr []byte
	bom    []byte            // stripped from the very first line
	enc    encoding.Encoding // nil: UTF-8, no decoding
}

func codecFor(name string) codec {
	c := codec{nl: []byte("\n"), cr: []byte("\r")}
	switch strings.ToLower(name) {
	case "", "utf-8":
		c.bom = []byte("\xef\xbb\xbf")
	case "utf-16le":
		c.nl, c.cr, c.bom = []byte("\n\x00"), []byte("\r\x00"), []byte("\xff\xfe")
		c.enc = unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)
	case "utf-16be":
		c.nl, c.cr, c.bom = []byte("\x00\n"), []byte("\x00\r"), []byte("\xfe\xff")
		c.enc = unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)
	case "gbk":
		c.enc = simplifiedchinese.GBK
	case "gb18030":
		c.enc = simplifiedchinese.GB18030
	case "big5":
		c.enc = traditionalchinese.Big5
	case "shift_jis":
		c.enc = japanese.ShiftJIS
	case "euc-jp":
		c.enc = japanese.EUCJP
	case "euc-kr":
		c.enc = korean.EUCKR
	case "latin1":
		c.enc = charmap.ISO8859_1
	case "iso-8859-2":
		c.enc = charmap.ISO8859_2
	case "iso-8859-15":
		c.enc = charmap.ISO8859_15
	case "windows-1250":
		c.enc = charmap.Windows1250
	case "windows-1251":
		c.enc = charmap.Windows1251
	case "windows-1252":
		c.enc = charmap.Windows1252
	}
	return c
}

// decoder turns one file's lines into UTF-8. Not safe for concurrent use.
type decoder struct {
	c   codec
	dec *encoding.Decoder
}

func (c codec) decoder() *decoder {
	d := &decoder{c: c}
	if c.enc != nil {
		d.dec = c.enc.NewDecoder()
	}
	return d
}

// decode returns text as UTF-8; atStart says the text begins at offset 0,
// where a byte-order mark is dropped. Bytes that are invalid in the
// encoding become U+FFFD. For UTF-8 text is returned as it is.
func (d *decoder) decode(text []byte, atStart bool) []byte {
	if atStart {
		text = bytes.TrimPrefix(text, d.c.bom)
	}
	if d.dec == nil {
		return text
	}
	out, err := d.dec.Bytes(text)
	if err != nil {
		return bytes.ToValidUTF8(text, []byte("\uFFFD"))
	}
	return out
}
