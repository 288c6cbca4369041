package quota

// ListsModel reports whether the account's last answer listed the model id
// (known) and whether it listed any model at all (any): an account that
// never synced lists none. It reads the families in place.
func (s *Status) ListsModel(id string) (known, any bool) {
	for i := range s.Families {
		for _, m := range s.Families[i].Models {
			any = true
			if m.ID == id {
				return true, true
			}
		}
	}
	return false, any
}

// ModelListed reports whether any account's last answer listed the model
// id (known) and whether any account listed a model at all (listed). It
// reads the accounts' snapshots in place and stops at the first account
// that lists id, so a translated request naming a listed model costs a
// few comparisons however large the pool, where GetAllQuotas would build
// a Status for every account.
func (m *Manager) ModelListed(id string) (known, listed bool) {
	for _, a := range *m.accts.Load() {
		k, any := a.snap.Load().status.ListsModel(id)
		if k {
			return true, true
		}
		listed = listed || any
	}
	return false, listed
}
