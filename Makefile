# Build, test and package lanseedd. `make` builds the binary; `make deb`
# builds dist/lanseedd_<version>_<arch>.deb with nfpm.
VERSION ?= 0.1.0+git$(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
GOARCH  ?= $(shell go env GOARCH)
NFPM    := github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

.PHONY: build test deb clean

build:
	CGO_ENABLED=0 go build -buildvcs=true -trimpath -ldflags "-s -w -X main.Version=$(VERSION)" -o dist/lanseedd ./cmd/lanseedd

test:
	go test ./...

deb: build
	VERSION=$(VERSION) GOARCH=$(GOARCH) go run $(NFPM) package -f contrib/debian/nfpm.yaml -p deb -t dist/

clean:
	rm -rf dist
