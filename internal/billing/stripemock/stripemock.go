// Package stripemock starts stripe-mock (pinned as a Go tool in go.mod) for
// tests: Stripe's official mock of its API, validating requests against the
// OpenAPI spec and answering with fixtures.
package stripemock

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	once    sync.Once
	binary  string
	findErr string
)

// find resolves the stripe-mock binary once per test process
// (`go tool -n stripe-mock` builds it into the Go cache).
func find() (string, string) {
	once.Do(func() {
		var out, errOut bytes.Buffer
		cmd := exec.Command("go", "tool", "-n", "stripe-mock")
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			findErr = "go tool -n stripe-mock: " + err.Error() + ": " + errOut.String()
			return
		}
		binary = strings.TrimSpace(out.String())
	})
	return binary, findErr
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Start runs a fresh stripe-mock on a free port until the test ends and
// returns its base URL. It skips the test, saying why, only when the binary
// cannot be built or does not start.
func Start(t testing.TB) string {
	t.Helper()
	bin, msg := find()
	if bin == "" {
		t.Skipf("stripe-mock is not available (%s)", msg)
	}
	lastErr := ""
	for attempt := 0; attempt < 3; attempt++ {
		lastErr = ""
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-http-port", strconv.Itoa(port))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if os.Getenv("STRIPE_MOCK_VERBOSE") == "" {
			cmd.Stdout, cmd.Stderr = nil, nil
		}
		if err := cmd.Start(); err != nil {
			t.Skipf("stripe-mock does not start: %v", err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		addr := "127.0.0.1:" + strconv.Itoa(port)
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-done:
				lastErr = "stripe-mock exited"
			default:
			}
			if lastErr != "" {
				break
			}
			if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
				c.Close()
				t.Cleanup(func() {
					cmd.Process.Kill()
					<-done
				})
				return "http://" + addr
			}
			time.Sleep(100 * time.Millisecond)
		}
		if lastErr == "" {
			lastErr = "stripe-mock did not listen within 60 s"
		}
		cmd.Process.Kill()
		<-done
	}
	t.Skipf("stripe-mock could not be started: %s", lastErr)
	return ""
}
