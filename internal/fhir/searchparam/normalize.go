package searchparam

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Normalize folds a string for string-parameter matching, the same way for
// indexed values (fhir.Value.Text) and search input: lower case, accents
// removed ("Müller" → "muller", "Ørsted" → "orsted", "Straße" →
// "strasse"), every run of characters other than letters and digits
// (spaces, punctuation, symbols) turned into one space, trimmed.
// "  O'Brien-Smith " → "o brien smith".
func Normalize(s string) string {
	if normalASCII(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	emit := func(r rune) {
		if unicode.Is(unicode.Mn, r) {
			return // a combining accent
		}
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			space = true
			return
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		if f, ok := fold[r]; ok {
			b.WriteString(f)
			return
		}
		b.WriteRune(unicode.ToLower(r))
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			case c >= 'A' && c <= 'Z':
				c += 'a' - 'A'
			default:
				space = true
				i++
				continue
			}
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteByte(c)
			i++
			continue
		}
		// Decompose one rune (NFD: "é" → "e" + U+0301) and drop the marks.
		p := norm.NFD.PropertiesString(s[i:])
		size := p.Size()
		if size == 0 {
			size = 1
		}
		if d := p.Decomposition(); d != nil {
			for _, r := range string(d) {
				emit(r)
			}
		} else {
			r, n := utf8.DecodeRuneInString(s[i:])
			size = n
			emit(r)
		}
		i += size
	}
	return b.String()
}

// normalASCII reports whether s is already normal: lower-case ASCII
// letters and digits in words separated by single spaces.
func normalASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
		case c == ' ' && i > 0 && i < len(s)-1 && s[i-1] != ' ':
		default:
			return false
		}
	}
	return true
}

// fold spells letters that do not decompose into a base letter and an
// accent.
var fold = map[rune]string{
	'ß': "ss", 'ẞ': "ss",
	'Æ': "ae", 'æ': "ae",
	'Œ': "oe", 'œ': "oe",
	'Ø': "o", 'ø': "o",
	'Ł': "l", 'ł': "l",
	'Đ': "d", 'đ': "d",
	'Ð': "d", 'ð': "d",
	'Þ': "th", 'þ': "th",
	'ı': "i",
	'Ħ': "h", 'ħ': "h",
}
