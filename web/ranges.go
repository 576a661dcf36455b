package web

import (
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// MaxRanges bounds the byte ranges one request may ask for. BitTorrent web
// seed clients ask for one range at a time; net/http answers each range of
// a multi-range request with its own part headers, so 100,000 one-byte
// ranges of a 100 KB file made a 14 MB response.
const MaxRanges = 16

// boundRanges checks the Range header of a request for a body of size bytes
// before http.ServeContent answers it. It drops empty suffix ranges
// ("bytes=-0"), which select nothing but which net/http turns into a 206,
// and refuses, with 416, a request with more than MaxRanges ranges or with
// nothing left. It reports whether the request may go on.
func boundRanges(w http.ResponseWriter, r *http.Request, size int64) bool {
	h := r.Header.Get("Range")
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok {
		// Absent, or a unit net/http does not know and ignores.
		return true
	}
	var kept []string
	n := 0
	for ra := range strings.SplitSeq(spec, ",") {
		ra = textproto.TrimString(ra)
		if ra == "" {
			continue
		}
		if n++; n > MaxRanges {
			return refuseRange(w, size, "too many ranges: at most "+strconv.Itoa(MaxRanges)+" per request")
		}
		if emptySuffix(ra) {
			continue
		}
		kept = append(kept, ra)
	}
	if n > 0 && len(kept) == 0 {
		return refuseRange(w, size, "the range selects no bytes")
	}
	if len(kept) < n {
		r.Header.Set("Range", "bytes="+strings.Join(kept, ","))
	}
	return true
}

// emptySuffix reports whether a range spec is a suffix of length zero
// ("-0", "-000", "-+0": what net/http reads as one): RFC 9110 14.1.1 makes
// it unsatisfiable.
func emptySuffix(ra string) bool {
	digits, ok := strings.CutPrefix(ra, "-")
	digits = textproto.TrimString(digits)
	if !ok || digits == "" || digits[0] == '-' {
		return false // net/http refuses these itself
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	return err == nil && n == 0
}

func refuseRange(w http.ResponseWriter, size int64, msg string) bool {
	w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
	http.Error(w, msg, http.StatusRequestedRangeNotSatisfiable)
	return false
}
