package engine

// May reports whether principal may do operation op (policy.OpAudit and
// the others besides reading data). Without a policy the node trusts every
// authenticated principal, as it does for reading; under one, only a
// principal whose role lists op may.
func (e *Engine) May(principal, op string) bool {
	p := e.policy.Current()
	if p == nil {
		return true
	}
	return p.May(principal, op)
}
