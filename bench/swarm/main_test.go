package main

import (
	"io"
	"testing"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"100MiB", 100 << 20},
		{"20MiB", 20 << 20},
		{"1GiB", 1 << 30},
		{"64KiB", 64 << 10},
		{"5MB", 5_000_000},
		{"12345", 12345},
		{"7B", 7},
	} {
		if got, err := parseSize(tc.in); err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "MiB", "-1MiB", "0", "1.5GiB", "ten"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) succeeded", bad)
		}
	}
}

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
	}{
		{"50mbit", 50e6},
		{"1gbit", 1e9},
		{"800kbit", 800e3},
		{"1.5mbit", 1.5e6},
	} {
		if got, err := parseRate(tc.in); err != nil || got != tc.want {
			t.Errorf("parseRate(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "50", "50mbps", "-1mbit", "fast"} {
		if _, err := parseRate(bad); err == nil {
			t.Errorf("parseRate(%q) succeeded", bad)
		}
	}
}

func TestFlags(t *testing.T) {
	o, err := parseFlags([]string{"-n", "5", "-size", "20MiB", "-rate", "100mbit", "-webseed", "off", "-check"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.clients != 5 || o.size != 20<<20 || o.rate != "100mbit" || !o.check || len(o.webSeeds) != 1 || o.webSeeds[0] {
		t.Fatalf("parsed %+v", o)
	}
	for _, bad := range [][]string{{"-n", "0"}, {"-webseed", "maybe"}, {"-rate", "fast"}, {"extra"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) succeeded", bad)
		}
	}
}
