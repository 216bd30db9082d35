// Package redis adapts Redis for the parts of ClinikAPI that several
// instances must share: the API rate limiter (one sliding log per
// organization, a sorted set updated atomically by a Lua script) and API key cache
// invalidation (pub/sub).
package redis

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/clinikapi/clinikapi/internal/apikey"
	"github.com/clinikapi/clinikapi/internal/random"
	"github.com/clinikapi/clinikapi/internal/ratelimit"
)

// Client is a connection pool to one Redis server.
type Client struct {
	rdb    *goredis.Client
	prefix string
	now    func() time.Time
	log    *slog.Logger
	// member and seq name each admitted event uniquely in a sorted set.
	member string
	seq    atomic.Uint64
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
	return &Client{rdb: rdb, prefix: prefix, now: now, log: log, member: random.ID("rl") + ":"}, nil
}

// Close closes the pool.
func (c *Client) Close() error { return c.rdb.Close() }

// Ping checks Redis answers.
func (c *Client) Ping(ctx context.Context) error { return c.rdb.Ping(ctx).Err() }

// slidingLog admits one event if it fits: KEYS[1] is the key's sorted set
// of admitted events (score: time in µs); ARGV = now (µs), window (µs),
// limit, a unique member. It answers {allowed, counted, oldest (µs), the
// time (µs) of the event whose expiry admits one more (when refused)}.
var slidingLog = goredis.NewScript(`
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
local allowed = 0
if n < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  n = n + 1
  allowed = 1
end
local oldest, free = 0, now
if n > 0 then
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
  oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
  if allowed == 0 and limit > 0 then
    free = tonumber(redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')[2])
  end
end
return {allowed, n, oldest, free}
`)

var _ ratelimit.Limiter = (*Client)(nil)

// Allow implements ratelimit.Limiter with a sliding log shared by every
// instance (one sorted set per key, updated atomically). Times come from
// the instances' clocks, which should agree (NTP) to within the precision
// the limit needs.
func (c *Client) Allow(ctx context.Context, key string, limit int, window time.Duration) (ratelimit.Result, error) {
	now := c.now()
	us := now.UnixMicro()
	member := c.member + strconv.FormatUint(c.seq.Add(1), 36)
	out, err := slidingLog.Run(ctx, c.rdb, []string{c.prefix + "rlog:" + key},
		us, window.Microseconds(), limit, member).Int64Slice()
	if err != nil {
		return ratelimit.Result{}, fmt.Errorf("redis rate limit: %w", err)
	}
	// Scores are whole microseconds: measure from now rounded down the same way.
	now = time.UnixMicro(us)
	return ratelimit.Decide(now, window, limit, int(out[1]), out[0] == 1, time.UnixMicro(out[2]), time.UnixMicro(out[3])), nil
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
