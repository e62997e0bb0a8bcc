// Command mix is the leases bench's client mix (scripts/bench/lease-mix.ts): -clients
// concurrent clients of the real Go client, sigs.k8s.io/boskos/client, unchanged, one
// client and owner each, against one lease server (paddock, the real Boskos, or a server
// that does nothing). Each loops: Acquire (-type, free -> busy), -heartbeats x UpdateOne,
// ReleaseOne (-> free), -loops times, starting no loop after -time-cap.
//
// Usage:
//
//	go run ./mix -url http://127.0.0.1:8080 -type res -clients 64 -loops 6
//
// It prints one JSON line: every call's latency by kind (ms, as the caller saw it,
// the client's retries included), the calls that failed by kind and error, the
// attempts the client repeated after a sleep (not its dial retries), and the double leases it saw. A double lease is an
// acquire answering a resource another client holds (and has not started to release),
// or naming another owner.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sync"
	"time"

	"sigs.k8s.io/boskos/client"
)

type result struct {
	Ops        int            `json:"ops"`
	WallMs     float64        `json:"wallMs"`
	Loops      int            `json:"loops"`
	Capped     bool           `json:"capped"`
	Doubles    int            `json:"doubles"`
	Retries    int            `json:"retries"` // attempts the client slept before repeating
	Acquire    []float64      `json:"acquire"`
	Update     []float64      `json:"update"`
	Release    []float64      `json:"release"`
	Errors     map[string]int `json:"errors"`
	FirstError string         `json:"firstError"`
}

// Every non-200 the client gives up on reads "status <code> <text>, ..." (Release then says
// "statusCode", the others "status code").
var statusCode = regexp.MustCompile(`status (\d{3}) `)

// kindOf names an error by what a caller can tell apart: the client's sentinels,
// or the HTTP status its aggregate error carries.
func kindOf(err error) string {
	switch {
	case errors.Is(err, client.ErrNotFound):
		return "not found"
	case errors.Is(err, client.ErrAlreadyInUse):
		return "already in use"
	}
	if m := statusCode.FindStringSubmatch(err.Error()); m != nil {
		return m[1]
	}
	return "error"
}

func main() {
	url := flag.String("url", "", "base URL of the lease server")
	rtype := flag.String("type", "", "resource type of a pool with a free resource for every client")
	clients := flag.Int("clients", 8, "concurrent clients")
	loops := flag.Int("loops", 1, "loops a client runs")
	heartbeats := flag.Int("heartbeats", 10, "UpdateOne calls a loop")
	timeCap := flag.Duration("time-cap", 2*time.Minute, "no loop starts after this")
	flag.Parse()
	if *url == "" || *rtype == "" {
		fmt.Fprintln(os.Stderr, "mix: -url and -type are required")
		os.Exit(2)
	}

	var mu sync.Mutex
	r := result{Errors: map[string]int{}}
	holder := map[string]int{}
	sleep := client.SleepFunc
	client.SleepFunc = func(d time.Duration) {
		mu.Lock()
		r.Retries++
		mu.Unlock()
		sleep(d)
	}
	timed := func(kind string, into *[]float64, call func() error) bool {
		start := time.Now()
		err := call()
		ms := float64(time.Since(start).Microseconds()) / 1000
		mu.Lock()
		defer mu.Unlock()
		r.Ops++
		if err == nil {
			*into = append(*into, ms)
			return true
		}
		key := kind + " " + kindOf(err)
		r.Errors[key]++
		if r.FirstError == "" {
			r.FirstError = fmt.Sprintf("%s: %v", key, err)
		}
		return false
	}

	t0 := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < *clients; c++ {
		owner := fmt.Sprintf("client-%d", c)
		bc, err := client.NewClient(owner, *url, "", "")
		if err != nil {
			fmt.Fprintf(os.Stderr, "mix: %v\n", err)
			os.Exit(1)
		}
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for loop := 0; loop < *loops; loop++ {
				if time.Since(t0) > *timeCap {
					mu.Lock()
					r.Capped = true
					mu.Unlock()
					return
				}
				var name string
				acquired := timed("acquire", &r.Acquire, func() error {
					res, err := bc.Acquire(*rtype, "free", "busy")
					if err != nil {
						return err
					}
					name = res.Name
					mu.Lock()
					defer mu.Unlock()
					if other, held := holder[name]; held && other != c {
						r.Doubles++
					}
					if res.Owner != owner {
						r.Doubles++
					}
					holder[name] = c
					return nil
				})
				if !acquired {
					continue
				}
				for i := 0; i < *heartbeats; i++ {
					timed("update", &r.Update, func() error { return bc.UpdateOne(name, "busy", nil) })
				}
				// From the moment the release is sent the server may hand the resource to someone else.
				mu.Lock()
				if holder[name] == c {
					delete(holder, name)
				}
				mu.Unlock()
				timed("release", &r.Release, func() error { return bc.ReleaseOne(name, "free") })
				mu.Lock()
				r.Loops++
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	r.WallMs = float64(time.Since(t0).Microseconds()) / 1000
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		fmt.Fprintf(os.Stderr, "mix: %v\n", err)
		os.Exit(1)
	}
}
