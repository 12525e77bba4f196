package agent

// SwitchOff turns one of the agent's checks off until restore is called:
// the mutation test proves the adversarial suite notices. Tests only.
func SwitchOff(name string) (restore func()) {
	defencesOff[name] = true
	return func() { delete(defencesOff, name) }
}

// The checks SwitchOff knows.
const (
	DefColumns = defColumns
	DefCanEval = defCanEval
	DefReplay  = defReplay
	DefGuard   = defGuard
)
