package main

import "github.com/smith-build/smith/internal/bytesize"

// byteSize is a --max-size value in bytes; kong parses it with
// UnmarshalText.
type byteSize int64

// UnmarshalText implements encoding.TextUnmarshaler for kong.
func (s *byteSize) UnmarshalText(text []byte) error {
	n, err := bytesize.Parse(string(text))
	if err != nil {
		return err
	}
	*s = byteSize(n)
	return nil
}
