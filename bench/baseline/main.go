// Command baseline is the ceiling 'make bench' measures Shortlinks against:
// a Go redirect server with nothing but net/http and a map. It answers
// GET /CODE with the same 302, Location and Cache-Control as Shortlinks, for
// the codes in a codes file (as 'shortlinks seed --codes-file' writes it),
// and 404 for anything else. No metrics, no logs, no limits, no storage.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/shortlinks/shortlinks/bench/ceiling"
	"github.com/shortlinks/shortlinks/internal/config"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8090", "address to serve on")
	codes := flag.String("codes", "", "codes file: CODE<TAB>URL per line")
	flag.Parse()
	links, err := load(*codes)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		Addr:              *listen,
		Handler:           ceiling.Handler(links, config.Default().CacheControl),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	log.Printf("baseline: %d links on %s", len(links), *listen)
	log.Fatal(srv.ListenAndServe())
}

func load(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	links := make(map[string]string)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		code, url, ok := strings.Cut(sc.Text(), "\t")
		if ok && code != "" {
			links[code] = url
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(links) == 0 {
		return nil, fmt.Errorf("%s: no CODE<TAB>URL lines", path)
	}
	return links, nil
}
