package benchkit

import "testing"

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
		if got, err := ParseSize(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "MiB", "-1MiB", "0", "1.5GiB", "ten"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) succeeded", bad)
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
		if got, err := ParseRate(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "50", "50mbps", "-1mbit", "fast"} {
		if _, err := ParseRate(bad); err == nil {
			t.Errorf("ParseRate(%q) succeeded", bad)
		}
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{1 << 30: "1 GiB", 3 << 30: "3 GiB", 20 << 20: "20 MiB", 1<<20 + 1: "1048577 B"} {
		if got := HumanSize(n); got != want {
			t.Errorf("HumanSize(%d) = %q, want %q", n, got, want)
		}
	}
}
