package acl

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// tokenKind is the kind of one lexical token of an acl.conf file.
type tokenKind uint8

const (
	tokEOF      tokenKind = iota
	tokLBrace             // {
	tokRBrace             // }
	tokLBracket           // [
	tokRBracket           // ]
	tokComma              // ,
	tokDot                // . (end of a rule)
	tokBinOpen            // <<
	tokBinClose           // >>
	tokAtom               // allow, 'and'; text is the atom's name
	tokString             // "…"; text is the decoded value (UTF-8)
	tokVar                // an Erlang variable (Foo, _x): never valid here
	tokNumber             // 12, 1.5: never valid here
	tokOther              // any other character
)

// token is one lexical token with the position of its first character.
type token struct {
	kind tokenKind
	text string
	line int
	col  int
}

// describe renders the token for an error message ("found …").
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of file"
	case tokString:
		s := t.text
		if utf8.RuneCountInString(s) > 40 {
			r := []rune(s)
			s = string(r[:40]) + "…"
		}
		return quoteString(s)
	case tokAtom:
		return quoteErlang(t.text, '\'')
	default:
		return "'" + t.text + "'"
	}
}

// lexer splits an acl.conf file into tokens. Lines and columns count from 1; a column counts
// characters (UTF-8 sequences), a tab is one column.
type lexer struct {
	name string
	data []byte
	pos  int
	line int
	col  int
}

func newLexer(name string, data []byte) *lexer {
	lx := &lexer{name: name, data: data, line: 1, col: 1}
	// Editors on Windows may start the file with a UTF-8 byte order mark.
	if len(data) >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF {
		lx.pos = 3
	}
	return lx
}

func (lx *lexer) errorf(line, col int, format string, args ...any) *ParseError {
	return newParseError(lx.name, line, col, format, args...)
}

// advance consumes one byte and keeps line and column up to date.
func (lx *lexer) advance() {
	b := lx.data[lx.pos]
	lx.pos++
	switch {
	case b == '\n':
		lx.line++
		lx.col = 1
	case b&0xC0 != 0x80:
		// Continuation bytes of a UTF-8 sequence do not start a new column.
		lx.col++
	}
}

func (lx *lexer) peekByte(off int) int {
	if lx.pos+off < len(lx.data) {
		return int(lx.data[lx.pos+off])
	}
	return -1
}

// skipSpace skips white space and comments (from % to the end of the line).
func (lx *lexer) skipSpace() {
	for lx.pos < len(lx.data) {
		b := lx.data[lx.pos]
		switch {
		case b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '\v':
			lx.advance()
		case b == '%':
			for lx.pos < len(lx.data) && lx.data[lx.pos] != '\n' {
				lx.advance()
			}
		default:
			return
		}
	}
}

// next returns the next token.
func (lx *lexer) next() (token, error) {
	lx.skipSpace()
	t := token{line: lx.line, col: lx.col}
	if lx.pos >= len(lx.data) {
		t.kind = tokEOF
		return t, nil
	}
	b := lx.data[lx.pos]
	single := func(k tokenKind) (token, error) {
		t.kind = k
		t.text = string(b)
		lx.advance()
		return t, nil
	}
	switch {
	case b == '{':
		return single(tokLBrace)
	case b == '}':
		return single(tokRBrace)
	case b == '[':
		return single(tokLBracket)
	case b == ']':
		return single(tokRBracket)
	case b == ',':
		return single(tokComma)
	case b == '.':
		return single(tokDot)
	case b == '<' && lx.peekByte(1) == '<':
		lx.advance()
		lx.advance()
		t.kind, t.text = tokBinOpen, "<<"
		return t, nil
	case b == '>' && lx.peekByte(1) == '>':
		lx.advance()
		lx.advance()
		t.kind, t.text = tokBinClose, ">>"
		return t, nil
	case b == '"':
		s, err := lx.quoted('"')
		t.kind, t.text = tokString, s
		return t, err
	case b == '\'':
		s, err := lx.quoted('\'')
		t.kind, t.text = tokAtom, s
		return t, err
	case b >= 'a' && b <= 'z':
		t.kind, t.text = tokAtom, lx.word()
		return t, nil
	case b >= 'A' && b <= 'Z' || b == '_':
		t.kind, t.text = tokVar, lx.word()
		return t, nil
	case b >= '0' && b <= '9':
		start := lx.pos
		for lx.pos < len(lx.data) && isNumberByte(lx.data[lx.pos]) {
			lx.advance()
		}
		t.kind, t.text = tokNumber, string(lx.data[start:lx.pos])
		return t, nil
	default:
		r, size := utf8.DecodeRune(lx.data[lx.pos:])
		if r == utf8.RuneError && size <= 1 {
			return t, lx.errorf(t.line, t.col, "invalid UTF-8 byte 0x%02x", b)
		}
		for range size {
			lx.advance()
		}
		t.kind, t.text = tokOther, string(r)
		return t, nil
	}
}

func isNumberByte(b byte) bool {
	return b >= '0' && b <= '9' || b == '.' || b == '#' || b == '_' ||
		b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// word scans an unquoted atom or variable name.
func (lx *lexer) word() string {
	start := lx.pos
	for lx.pos < len(lx.data) {
		b := lx.data[lx.pos]
		if b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '@' {
			lx.advance()
			continue
		}
		break
	}
	return string(lx.data[start:lx.pos])
}

// quoted scans a string ("…") or a quoted atom ('…') with Erlang's escape sequences and
// returns its value encoded as UTF-8.
func (lx *lexer) quoted(quote byte) (string, error) {
	startLine, startCol := lx.line, lx.col
	what := "string"
	if quote == '\'' {
		what = "quoted atom"
	}
	lx.advance()
	var sb strings.Builder
	for {
		if lx.pos >= len(lx.data) {
			return "", lx.errorf(startLine, startCol, "unterminated %s", what)
		}
		b := lx.data[lx.pos]
		if b == quote {
			lx.advance()
			return sb.String(), nil
		}
		if b != '\\' {
			r, size := utf8.DecodeRune(lx.data[lx.pos:])
			if r == utf8.RuneError && size <= 1 {
				return "", lx.errorf(lx.line, lx.col, "invalid UTF-8 byte 0x%02x in %s", b, what)
			}
			sb.Write(lx.data[lx.pos : lx.pos+size])
			for range size {
				lx.advance()
			}
			continue
		}
		escLine, escCol := lx.line, lx.col
		lx.advance()
		r, err := lx.escape(escLine, escCol)
		if err != nil {
			return "", err
		}
		sb.WriteRune(r)
	}
}

// escape decodes the escape sequence after a backslash, as Erlang does: \b \d \e \f \n \r
// \s \t \v, octal \NNN, hexadecimal \xHH and \x{H…}, control \^c, and any other character
// stands for itself (\\ \" \').
func (lx *lexer) escape(line, col int) (rune, error) {
	if lx.pos >= len(lx.data) {
		return 0, lx.errorf(line, col, "unterminated escape sequence")
	}
	b := lx.data[lx.pos]
	if r := simpleEscape(b); r >= 0 {
		lx.advance()
		return r, nil
	}
	switch {
	case b >= '0' && b <= '7':
		v := 0
		for i := 0; i < 3 && lx.pos < len(lx.data) && lx.data[lx.pos] >= '0' && lx.data[lx.pos] <= '7'; i++ {
			v = v*8 + int(lx.data[lx.pos]-'0')
			lx.advance()
		}
		return rune(v), nil
	case b == 'x':
		lx.advance()
		var digits string
		if lx.peekByte(0) == '{' {
			lx.advance()
			start := lx.pos
			for lx.pos < len(lx.data) && isHex(lx.data[lx.pos]) {
				lx.advance()
			}
			digits = string(lx.data[start:lx.pos])
			if lx.peekByte(0) != '}' || digits == "" {
				return 0, lx.errorf(line, col, "invalid escape sequence: expected \\x{hex digits}")
			}
			lx.advance()
		} else {
			if !isHex(byte(lx.peekByte(0))) || !isHex(byte(lx.peekByte(1))) {
				return 0, lx.errorf(line, col, "invalid escape sequence: expected \\xHH or \\x{H…}")
			}
			digits = string(lx.data[lx.pos : lx.pos+2])
			lx.advance()
			lx.advance()
		}
		v, err := strconv.ParseUint(digits, 16, 32)
		if err != nil || v > utf8.MaxRune || v >= 0xD800 && v <= 0xDFFF {
			return 0, lx.errorf(line, col, "invalid character code \\x{%s}", digits)
		}
		return rune(v), nil
	case b == '^':
		lx.advance()
		if lx.pos >= len(lx.data) {
			return 0, lx.errorf(line, col, "unterminated escape sequence")
		}
		c := lx.data[lx.pos]
		if c >= utf8.RuneSelf {
			return 0, lx.errorf(line, col, "invalid control escape")
		}
		lx.advance()
		return rune(c & 31), nil
	default:
		r, size := utf8.DecodeRune(lx.data[lx.pos:])
		if r == utf8.RuneError && size <= 1 {
			return 0, lx.errorf(lx.line, lx.col, "invalid UTF-8 byte 0x%02x", b)
		}
		for range size {
			lx.advance()
		}
		return r, nil
	}
}

func isHex(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F'
}

// simpleEscape returns the character of a one-letter escape, or -1.
func simpleEscape(b byte) rune {
	switch b {
	case 'b':
		return 8
	case 'd':
		return 127
	case 'e':
		return 27
	case 'f':
		return 12
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 's':
		return ' '
	case 't':
		return '\t'
	case 'v':
		return 11
	}
	return -1
}
