package local

import "strings"

// expandMacros expands $name, ${name}, ${name?text} and ${name:text} in s
// with the values vars gives (Postfix's mac_expand() for forward_path and
// luser_relay). Values pass through filter first: bytes not in it become
// "_" (forward_expansion_filter); an empty filter keeps values as they are.
// Unknown names expand to nothing.
func expandMacros(s string, vars map[string]string, filter string) string {
	var b strings.Builder
	value := func(name string) string {
		v := vars[name]
		if filter == "" {
			return v
		}
		return filterChars(v, filter)
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		n := s[i+1]
		switch {
		case n == '$':
			b.WriteByte('$')
			i += 2
		case n == '{' || n == '(':
			closer := byte('}')
			if n == '(' {
				closer = ')'
			}
			depth, end := 0, -1
			for j := i + 1; j < len(s); j++ {
				if s[j] == n {
					depth++
				} else if s[j] == closer {
					depth--
					if depth == 0 {
						end = j
						break
					}
				}
			}
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			inner := s[i+2 : end]
			k := strings.IndexAny(inner, "?:")
			if k < 0 {
				b.WriteString(value(inner))
			} else {
				name, text := inner[:k], inner[k+1:]
				if (inner[k] == '?') == (vars[name] != "") {
					b.WriteString(expandMacros(text, vars, filter))
				}
			}
			i = end + 1
		case isNameChar(n):
			j := i + 1
			for j < len(s) && isNameChar(s[j]) {
				j++
			}
			b.WriteString(value(s[i+1 : j]))
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

func isNameChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// filterChars replaces every byte of s that is not in allowed with "_".
func filterChars(s, allowed string) string {
	b := []byte(s)
	for i, c := range b {
		if strings.IndexByte(allowed, c) < 0 {
			b[i] = '_'
		}
	}
	return string(b)
}
