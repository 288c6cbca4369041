package main

import (
	"time"

	"github.com/quotatui/quotatui/internal/statusapi"
)

// listenStatus binds the status socket of s's database, so `quotatui
// status` asks this process instead of syncing. Without it status syncs
// itself, so a failure is a warning, never the end of the process.
func listenStatus(c *cli, s *stack, command string) {
	srv, err := statusapi.Listen(statusapi.Options{
		Dir:      statusapi.DefaultDir(c.getenv),
		DB:       s.cfg.DBPath,
		Engine:   s.quota,
		Judge:    tuiJudge,
		Instance: statusapi.NewInstance(command, version, shownDB(s.cfg.DBPath), time.Now()),
		Clock:    s.clock,
		Logger:   s.log,
	})
	if err != nil {
		s.log.Warn("status: no status socket; 'quotatui status' syncs by itself meanwhile", "err", err)
		return
	}
	s.log.Info("status: answering 'quotatui status'", "socket", srv.SocketPath())
	s.status = srv
}
