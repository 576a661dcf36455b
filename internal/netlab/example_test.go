package netlab_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"

	"github.com/lanseedd/lanseedd/internal/netlab"
)

// A server and two clients on a 50 Mbit/s LAN: a Go HTTP server listens in
// host 0, and curl fetches from it in host 1.
func Example() {
	ctx := context.Background()
	lab, err := netlab.New(ctx, netlab.Config{Hosts: 3, Rate: "50mbit"})
	if err != nil {
		log.Fatal(err)
	}
	defer lab.Close()

	server := lab.Host(0)
	ln, err := server.Listen("tcp", ":80") // a socket inside host 0
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from "+server.Addr.String())
	}))

	out, err := lab.Host(1).Command(ctx, "curl", "-s", "http://"+server.Addr.String()+"/").Output()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(out))

	before, _ := server.Counters(ctx)
	_ = before.TxBytes // what host 0 sent into the LAN so far
}
