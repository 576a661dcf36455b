package torrent

// lanseedd: the pure-Go uTP in every build, with cgo or without (upstream
// uses go-libutp when cgo is on).

import (
	"github.com/anacrolix/log"
	"github.com/anacrolix/utp"
)

func NewUtpSocket(network, addr string, _ firewallCallback, _ log.Logger) (utpSocket, error) {
	s, err := utp.NewSocket(network, addr)
	if s == nil {
		return nil, err
	} else {
		return s, err
	}
}
