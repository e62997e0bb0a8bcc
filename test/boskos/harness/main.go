// Command harness drives a Boskos-compatible lease server (paddock's sidecar)
// through the real Go client, sigs.k8s.io/boskos/client, unchanged.
//
// Usage:
//
//	go run . -url http://127.0.0.1:8080 -type harness -owner harness-bot
//
// The pool of -type must hold at least one resource in state "free" and none
// held by anyone else (the reset step moves every stale "busy" lease of that
// type). It prints "OK <step>" per step and exits 0, or prints
// "FAIL <step>: <error>" and exits 1. A step that the server may legitimately
// not support prints "SKIP <step>: <why>" (or fails with -strict).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"sigs.k8s.io/boskos/client"
	"sigs.k8s.io/boskos/common"
)

type failure struct {
	step string
	err  error
}

func fail(step string, format string, args ...any) {
	panic(failure{step, fmt.Errorf(format, args...)})
}

func ok(step string) { fmt.Printf("OK %s\n", step) }

// wantStatus checks that err is the aggregate error the client builds after
// retrying a non-200 answer, and that it names the expected status code.
func wantStatus(step string, err error, code int) {
	if err == nil {
		fail(step, "expected HTTP %d, got success", code)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("%d", code)) {
		fail(step, "expected HTTP %d, got: %v", code, err)
	}
	ok(step)
}

func main() {
	url := flag.String("url", "", "base URL of the lease server, e.g. http://127.0.0.1:8080 (any path is ignored by the client)")
	rtype := flag.String("type", "", "resource type of a pool with at least one free resource, used by nobody else")
	owner := flag.String("owner", "paddock-harness", "owner name for the leases")
	other := flag.String("other-owner", "", "a second owner used for the owner-mismatch checks (default: <owner>-intruder)")
	realBackoff := flag.Bool("real-backoff", false, "keep the client's real retry sleeps (1s, 4s, 9s per failed call; 10s between refused dials)")
	strict := flag.Bool("strict", false, "fail instead of SKIP on optional behaviour (ErrTypeNotFound detection)")
	timeout := flag.Duration("timeout", 2*time.Minute, "overall deadline")
	verbose := flag.Bool("v", false, "let the client log")
	flag.StringVar(&username, "username", "", "basic-auth user, as NewClient takes it (with -password-file)")
	flag.StringVar(&passwordFile, "password-file", "", "file holding the basic-auth password, as NewClient takes it")
	flag.Parse()
	if *url == "" || *rtype == "" || *owner == "" {
		fmt.Fprintln(os.Stderr, "usage: harness -url http://127.0.0.1:PORT -type TYPE [-owner OWNER]")
		os.Exit(2)
	}
	if *other == "" {
		*other = *owner + "-intruder"
	}
	if !*verbose {
		logrus.SetOutput(io.Discard)
	}

	done := make(chan int, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				f, isFailure := r.(failure)
				if !isFailure {
					panic(r)
				}
				fmt.Printf("FAIL %s: %v\n", f.step, f.err)
				done <- 1
			}
		}()
		run(*url, *rtype, *owner, *other, *realBackoff, *strict)
		done <- 0
	}()
	select {
	case code := <-done:
		os.Exit(code)
	case <-time.After(*timeout):
		fmt.Printf("FAIL timeout: scenario did not finish within %v\n", *timeout)
		os.Exit(1)
	}
}

// The Boskos client's own basic auth: NewClient(owner, url, username, passwordFile).
var username, passwordFile string

func newClient(step, owner, url string, realBackoff bool) *client.Client {
	c, err := client.NewClient(owner, url, username, passwordFile)
	if err != nil {
		fail(step, "NewClient: %v", err)
	}
	if !realBackoff {
		// Same requests, same number of attempts, shorter pauses.
		c.Dialer.RetryCount = 1
		c.Dialer.RetrySleep = 100 * time.Millisecond
	}
	return c
}

func checkResource(step string, r common.Resource, rtype, name, state, owner string) {
	if r.Name == "" || (name != "" && r.Name != name) {
		fail(step, "name: got %q, want %q", r.Name, name)
	}
	if r.Type != rtype {
		fail(step, "%s: type: got %q, want %q", r.Name, r.Type, rtype)
	}
	if r.State != state {
		fail(step, "%s: state: got %q, want %q", r.Name, r.State, state)
	}
	if r.Owner != owner {
		fail(step, "%s: owner: got %q, want %q", r.Name, r.Owner, owner)
	}
	if r.LastUpdate.IsZero() {
		fail(step, "%s: lastupdate is missing or zero", r.Name)
	}
}

func run(url, rtype, owner, other string, realBackoff, strict bool) {
	if !realBackoff {
		client.SleepFunc = func(time.Duration) {}
	}
	c := newClient("client", owner, url, realBackoff)
	intruder := newClient("client", other, url, realBackoff)

	// GET /metric?type=T
	step := "metric-before"
	m, err := c.Metric(rtype)
	if err != nil {
		fail(step, "%v", err)
	}
	if m.Type != rtype || m.Current[common.Free] < 1 {
		fail(step, "want type %q with >= 1 free, got %+v", rtype, m)
	}
	ok(step)

	// POST /acquire?type=T&state=free&owner=O&dest=busy
	step = "acquire"
	r, err := c.Acquire(rtype, common.Free, common.Busy)
	if err != nil {
		fail(step, "%v", err)
	}
	checkResource(step, *r, rtype, "", common.Busy, owner)
	name := r.Name
	ok(step)

	// 404 -> ErrNotFound, answered at once (not retried).
	step = "acquire-none"
	if _, err = c.Acquire(rtype, "harness-no-such-state", common.Busy); !errors.Is(err, client.ErrNotFound) {
		fail(step, "want client.ErrNotFound, got %v", err)
	}
	ok(step)

	// 404 whose body contains `resource type "X" does not exist` -> ErrTypeNotFound
	// (opt-in on the client side).
	step = "acquire-unknown-type"
	tc := newClient(step, owner, url, realBackoff)
	tc.DistinguishNotFoundVsTypeNotFound = true
	_, err = tc.Acquire("harness-no-such-type", common.Free, common.Busy)
	switch {
	case errors.Is(err, client.ErrTypeNotFound):
		ok(step)
	case errors.Is(err, client.ErrNotFound) && !strict:
		fmt.Printf("SKIP %s: got ErrNotFound; ErrTypeNotFound needs the 404 body to contain %s verbatim\n",
			step, common.ResourceTypeNotFoundMessage("harness-no-such-type"))
	default:
		fail(step, "want client.ErrTypeNotFound, got %v", err)
	}

	// POST /update?name=N&owner=O&state=busy, JSON body {"harness":"hello","scratch":"x"}
	step = "update-userdata"
	if err = c.UpdateOne(name, common.Busy, common.UserDataFromMap(common.UserDataMap{"harness": "hello", "scratch": "x"})); err != nil {
		fail(step, "%v", err)
	}
	ok(step)

	// An empty value deletes the key.
	step = "update-delete-key"
	if err = c.UpdateOne(name, common.Busy, common.UserDataFromMap(common.UserDataMap{"scratch": ""})); err != nil {
		fail(step, "%v", err)
	}
	ok(step)

	// Heartbeats: POST /update for every held resource, no body.
	step = "heartbeat"
	if err = c.SyncAll(); err != nil {
		fail(step, "SyncAll: %v", err)
	}
	if err = c.UpdateAll(common.Busy); err != nil {
		fail(step, "UpdateAll: %v", err)
	}
	ok(step)

	// Error codes: the client retries every non-200 on update/release and
	// returns an aggregate naming the status.
	wantStatus("update-wrong-state", c.Update(name, common.Free, nil), 409)
	wantStatus("update-wrong-owner", intruder.Update(name, common.Busy, nil), 401)
	wantStatus("release-wrong-owner", intruder.Release(name, common.Free), 401)
	wantStatus("release-unknown", c.Release(fmt.Sprintf("harness-missing-%d", time.Now().UnixNano()), common.Free), 404)

	// POST /acquirebystate on a resource that is not free -> 404 -> ErrNotFound.
	step = "acquirebystate-held"
	if _, err = intruder.AcquireByState(common.Free, common.Busy, []string{name}); !errors.Is(err, client.ErrNotFound) {
		fail(step, "want client.ErrNotFound, got %v", err)
	}
	ok(step)

	step = "metric-held"
	if m, err = c.Metric(rtype); err != nil {
		fail(step, "%v", err)
	}
	if m.Current[common.Busy] < 1 || m.Owners[owner] < 1 {
		fail(step, "want >= 1 busy and >= 1 owned by %q, got %+v", owner, m)
	}
	ok(step)

	// POST /release?name=N&dest=free&owner=O
	step = "release"
	if err = c.ReleaseOne(name, common.Free); err != nil {
		fail(step, "%v", err)
	}
	if c.HasResource() {
		fail(step, "client still lists a held resource")
	}
	ok(step)

	// POST /acquirebystate?state=free&dest=busy&names=N&owner=O -> JSON array.
	step = "acquirebystate"
	rs, err := c.AcquireByState(common.Free, common.Busy, []string{name})
	if err != nil {
		fail(step, "%v", err)
	}
	if len(rs) != 1 {
		fail(step, "want 1 resource, got %d", len(rs))
	}
	checkResource(step, rs[0], rtype, name, common.Busy, owner)
	ok(step)

	// Boskos keeps userdata across release/acquire; "scratch" was deleted.
	step = "userdata-kept"
	if got, want := rs[0].UserData.ToMap(), (common.UserDataMap{"harness": "hello"}); !reflect.DeepEqual(got, want) {
		fail(step, "userdata: got %v, want %v", got, want)
	}
	ok(step)

	// POST /reset?type=T&state=busy&expire=1h0m0s&dest=free: nothing that old.
	step = "reset-not-expired"
	moved, err := c.Reset(rtype, common.Busy, time.Hour, common.Free)
	if err != nil {
		fail(step, "%v", err)
	}
	if _, has := moved[name]; has {
		fail(step, "%s was reset although updated within the hour: %v", name, moved)
	}
	ok(step)

	// POST /reset?...&expire=1.5s: our lease is stale by then.
	step = "reset"
	time.Sleep(2100 * time.Millisecond)
	moved, err = c.Reset(rtype, common.Busy, 1500*time.Millisecond, common.Free)
	if err != nil {
		fail(step, "%v", err)
	}
	if moved[name] != owner {
		fail(step, "want %s -> %q in the answer, got %v", name, owner, moved)
	}
	ok(step)

	// A reset lease has no owner any more: releasing it is an owner mismatch.
	// (ReleaseOne also drops it from the client's local list.)
	wantStatus("release-after-reset", c.ReleaseOne(name, common.Free), 401)

	// AcquireWait sends a request_id (a UUID) and polls every 3s on 404.
	step = "acquire-wait"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	r, err = c.AcquireWait(ctx, rtype, common.Free, common.Busy)
	cancel()
	if err != nil {
		fail(step, "%v", err)
	}
	checkResource(step, *r, rtype, "", common.Busy, owner)
	ok(step)

	step = "release-all"
	if err = c.ReleaseAll(common.Free); err != nil {
		fail(step, "%v", err)
	}
	ok(step)

	step = "metric-after"
	if m, err = c.Metric(rtype); err != nil {
		fail(step, "%v", err)
	}
	if m.Owners[owner] != 0 || m.Current[common.Free] < 1 {
		fail(step, "want nothing owned by %q and >= 1 free, got %+v", owner, m)
	}
	ok(step)

	// Last: a waiting request that never gets anything ends with ErrNotFound
	// when its context ends. (Its request_id may stay queued on the server for
	// the request TTL, so nothing of this type/state should follow it.)
	step = "acquire-wait-timeout"
	ctx, cancel = context.WithTimeout(context.Background(), 1*time.Second)
	_, err = c.AcquireWait(ctx, rtype, "harness-no-such-state", common.Busy)
	cancel()
	if !errors.Is(err, client.ErrNotFound) {
		fail(step, "want client.ErrNotFound, got %v", err)
	}
	ok(step)
}
