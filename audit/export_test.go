package audit

// Reseal re-encodes r with a correct hash for its content, keeping Seq
// and Prev: what a forger who knows the format would do.
func Reseal(r *Record) ([]byte, error) {
	if err := r.seal(r.Seq, r.Prev); err != nil {
		return nil, err
	}
	return r.Raw, nil
}
