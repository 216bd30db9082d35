// Package redis adapts Redis for the parts of ClinikAPI that several
// instances must share: the API rate limiter (one sliding-window counter per
// organization, updated atomically by a Lua script) and API key cache
// invalidation (pub/sub).
package redis

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/ratelimit"
)

// Client is a connection pool to one Redis server.
type Client struct {
	rdb    *goredis.Client
	prefix string
	now    func() time.Time
	log    *slog.Logger
}

// Open connects to url (redis://…) and checks the server answers. Every key
// and channel starts with prefix.
func Open(ctx context.Context, url, prefix string, log *slog.Logger, now func() time.Time) (*Client, error) {
	opt, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	rdb := goredis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("REDIS_URL: cannot reach Redis: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Client{rdb: rdb, prefix: prefix, now: now, log: log}, nil
}

// Close closes the pool.
func (c *Client) Close() error { return c.rdb.Close() }

// Ping checks Redis answers.
func (c *Client) Ping(ctx context.Context) error { return c.rdb.Ping(ctx).Err() }

// slidingWindow counts one event if it fits: KEYS = current and previous
// window counters; ARGV = limit, elapsed fraction (0..1), ttl in ms.
var slidingWindow = goredis.NewScript(`
local curr = tonumber(redis.call('GET', KEYS[1]) or '0')
local prev = tonumber(redis.call('GET', KEYS[2]) or '0')
local limit = tonumber(ARGV[1])
local elapsed = tonumber(ARGV[2])
local allowed = 0
if prev * (1 - elapsed) + curr + 1 <= limit + 1e-9 then
  curr = redis.call('INCR', KEYS[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  allowed = 1
end
return {allowed, curr, prev}
`)

var _ ratelimit.Limiter = (*Client)(nil)

// Allow implements ratelimit.Limiter, shared by every instance.
func (c *Client) Allow(ctx context.Context, key string, limit int, window time.Duration) (ratelimit.Result, error) {
	now := c.now()
	start := now.Truncate(window)
	idx := start.UnixNano() / int64(window)
	base := c.prefix + "rl:" + key + ":"
	elapsed := now.Sub(start)
	out, err := slidingWindow.Run(ctx, c.rdb,
		[]string{base + strconv.FormatInt(idx, 10), base + strconv.FormatInt(idx-1, 10)},
		limit, strconv.FormatFloat(float64(elapsed)/float64(window), 'f', 6, 64), (2 * window).Milliseconds()).Int64Slice()
	if err != nil {
		return ratelimit.Result{}, fmt.Errorf("redis rate limit: %w", err)
	}
	w := ratelimit.Window{Curr: int(out[1]), Prev: int(out[2]), Elapsed: elapsed, Size: window}
	return w.Result(limit, out[0] == 1), nil
}

const keysChannel = "api_keys"

var _ apikey.Invalidator = (*Client)(nil)

// Publish implements apikey.Invalidator.
func (c *Client) Publish(ctx context.Context, keyID string) error {
	return c.rdb.Publish(ctx, c.prefix+keysChannel, keyID).Err()
}

// Subscribe implements apikey.Invalidator. Every (re)subscription resets the
// cache, since messages sent while disconnected are lost.
func (c *Client) Subscribe(ctx context.Context, fn func(keyID string), reset func()) error {
	ps := c.rdb.Subscribe(ctx, c.prefix+keysChannel)
	defer ps.Close()
	// Receive does not return on ctx alone; closing the subscription ends it.
	stop := context.AfterFunc(ctx, func() { ps.Close() })
	defer stop()
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			reset()
			c.log.Warn("redis: key invalidation subscription interrupted; reconnecting", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		switch m := msg.(type) {
		case *goredis.Subscription:
			reset()
		case *goredis.Message:
			fn(m.Payload)
		}
	}
}
