package proxy

// Counters is Stats without RoutedTo: the counters alone, which are
// copies, without ranking every account. The dashboard takes them every
// second and asks RoutedTo only when something moved (at 1000 accounts a
// ranking is about 1 ms per family).
func (s *Server) Counters() Stats {
	st := Stats{Listen: s.listen.Load().(string), Paused: s.Paused(), Started: s.started}
	s.stats.fill(&st)
	st.ActiveSessions = s.tm.activeSessions()
	st.BufferedBytes = s.budget.held.Load()
	return st
}

// RoutedTo names, per family, the account a new session would get now:
// the label of the account quota.Manager.Best puts first.
func (s *Server) RoutedTo() map[string]string {
	to := map[string]string{}
	for f, model := range routedModels {
		if c, ok := s.q.Best(model); ok {
			to[f.String()] = c.Label
		}
	}
	return to
}
