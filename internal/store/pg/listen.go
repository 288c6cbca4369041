package pg

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/quotatui/quotatui/internal/store"
)

// The store LISTENs on its schema's channel on a connection of its own and
// tells its subscribers what other instances (and this one) committed:
// the meta trigger announces the counters by name, session bindings
// announce their key's hash. When the connection breaks, the listener
// reconnects with a growing pause (100 ms to 5 s) and, once listening
// again, tells every subscriber that anything may have changed meanwhile
// (store.ChangeLost), so they read everything afresh.

// Listener timing.
const (
	listenRetryFirst = 100 * time.Millisecond
	listenRetryMax   = 5 * time.Second
)

// listener fans the notifications out. Subscribers are called on the
// listener's goroutine and must not block.
type listener struct {
	once sync.Once
	mu   sync.Mutex
	subs []func(payload string) // "" means: notifications were lost

	changed chan struct{} // Changed's coalescing signal
	pending atomic.Uint32 // store.Change bits not yet taken

	listening atomic.Bool
}

// subscribe adds fn and starts the listener if it is not running yet.
func (s *Store) subscribe(fn func(payload string)) {
	s.listener.mu.Lock()
	s.listener.subs = append(s.listener.subs, fn)
	s.listener.mu.Unlock()
	s.listener.once.Do(func() {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.listen()
		}()
	})
}

// Changed returns a channel signalled (coalesced) when another instance,
// or this one, changed accounts, marks or figures; TakeChanges says
// which. The first call starts the listener; Close stops it.
func (s *Store) Changed() <-chan struct{} {
	l := &s.listener
	l.mu.Lock()
	if l.changed == nil {
		l.changed = make(chan struct{}, 1)
		ch := l.changed
		l.mu.Unlock()
		s.subscribe(func(payload string) {
			var c store.Change
			switch payload {
			case "":
				c = store.ChangeLost
			case "accounts_version":
				c = store.ChangeAccounts
			case "sync_version":
				c = store.ChangeSync
			default:
				return
			}
			for {
				old := l.pending.Load()
				if l.pending.CompareAndSwap(old, old|uint32(c)) {
					break
				}
			}
			select {
			case ch <- struct{}{}:
			default:
			}
		})
		return ch
	}
	ch := l.changed
	l.mu.Unlock()
	return ch
}

// TakeChanges returns and forgets the changes announced since the last
// call.
func (s *Store) TakeChanges() store.Change { return store.Change(s.listener.pending.Swap(0)) }

// Listening reports whether the listener is connected now (for tests and
// the health of a long-running instance).
func (s *Store) Listening() bool { return s.listener.listening.Load() }

func (l *listener) publish(payload string) {
	l.mu.Lock()
	subs := l.subs
	l.mu.Unlock()
	for _, fn := range subs {
		fn(payload)
	}
}

// listen runs until the store closes.
func (s *Store) listen() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	wait := listenRetryFirst
	first := true
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, func() {
			if !first {
				s.log.Info("store: listening to the other instances again; reading everything they may have changed meanwhile")
			}
			// Also the first time: what changed between the subscriber's
			// own read and this LISTEN was announced to nobody.
			s.listener.publish("")
			first = false
			wait = listenRetryFirst
		})
		s.listener.listening.Store(false)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("store: lost the notifications of the other instances; reconnecting", "err", err, "retry_in", wait.String())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, listenRetryMax)
	}
}

// listenOnce connects, LISTENs, calls up once listening and then hands
// every notification to the subscribers until the connection fails.
func (s *Store) listenOnce(ctx context.Context, up func()) error {
	conn, err := pgx.ConnectConfig(ctx, s.connConfig("listener"))
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(cctx)
		cancel()
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel()}.Sanitize()); err != nil {
		return err
	}
	s.listener.listening.Store(true)
	up()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		s.listener.publish(strings.TrimSpace(n.Payload))
	}
}
