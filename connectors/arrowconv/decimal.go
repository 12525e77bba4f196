package arrowconv

import (
	"errors"
	"math/big"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// Decimal errors never quote the value: it may be personal data.
var (
	errNotNumber = errors.New("not a decimal number")
	errScale     = errors.New("more fractional digits than the target scale")
	errPrecision = errors.New("more digits than the target precision")
)

// ParseDecimal converts decimal text (optionally signed, with a fraction and
// an exponent) to an unscaled decimal128 of the given precision and scale.
// It is exact: digits the scale cannot hold are an error, never rounded.
func ParseDecimal(s string, prec, scale int32) (decimal128.Num, error) {
	s = strings.TrimSpace(s)
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	exp := 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e > 1000 || e < -1000 {
			return decimal128.Num{}, errNotNumber
		}
		exp = e
		s = s[:i]
	}
	intPart, frac := s, ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		intPart, frac = s[:i], s[i+1:]
	}
	if intPart == "" && frac == "" {
		return decimal128.Num{}, errNotNumber
	}
	digits := make([]byte, 0, len(intPart)+len(frac)+int(max(scale, 0)))
	for _, part := range []string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			c := part[i]
			if c < '0' || c > '9' {
				return decimal128.Num{}, errNotNumber
			}
			digits = append(digits, c)
		}
	}
	// value = digits × 10^(exp-len(frac)); unscaled = value × 10^scale.
	shift := int(scale) + exp - len(frac)
	if shift >= 0 {
		for range shift {
			digits = append(digits, '0')
		}
	} else {
		cut := len(digits) + shift
		if cut < 0 {
			cut = 0
		}
		for _, c := range digits[cut:] {
			if c != '0' {
				return decimal128.Num{}, errScale
			}
		}
		digits = digits[:cut]
	}
	// Leading zeros do not count against the precision.
	i := 0
	for i < len(digits) && digits[i] == '0' {
		i++
	}
	digits = digits[i:]
	if len(digits) > int(prec) || len(digits) > 38 {
		return decimal128.Num{}, errPrecision
	}
	var n decimal128.Num
	if len(digits) <= 19 {
		u, _ := strconv.ParseUint(string(digits), 10, 64) // empty means zero
		n = decimal128.FromU64(u)
	} else {
		var b big.Int
		b.SetString(string(digits), 10)
		n = decimal128.FromBigInt(&b)
	}
	if neg {
		n = n.Negate()
	}
	return n, nil
}

// DecimalFromBig converts unscaled×10^exp exactly to the target precision and scale.
func DecimalFromBig(unscaled *big.Int, exp int32, prec, scale int32) (decimal128.Num, error) {
	v := new(big.Int).Set(unscaled)
	shift := scale + exp
	ten := big.NewInt(10)
	if shift > 0 {
		v.Mul(v, new(big.Int).Exp(ten, big.NewInt(int64(shift)), nil))
	} else if shift < 0 {
		var rem big.Int
		v.QuoRem(v, new(big.Int).Exp(ten, big.NewInt(int64(-shift)), nil), &rem)
		if rem.Sign() != 0 {
			return decimal128.Num{}, errScale
		}
	}
	abs := new(big.Int).Abs(v)
	if len(abs.String()) > int(prec) && abs.Sign() != 0 {
		return decimal128.Num{}, errPrecision
	}
	return decimal128.FromBigInt(v), nil
}

// FormatDecimal renders an unscaled decimal with its scale, exactly.
func FormatDecimal(n decimal128.Num, scale int32) string {
	b := n.BigInt()
	neg := b.Sign() < 0
	s := new(big.Int).Abs(b).String()
	if scale > 0 {
		if len(s) <= int(scale) {
			s = strings.Repeat("0", int(scale)-len(s)+1) + s
		}
		s = s[:len(s)-int(scale)] + "." + s[len(s)-int(scale):]
	} else if scale < 0 && b.Sign() != 0 {
		s += strings.Repeat("0", int(-scale))
	}
	if neg {
		s = "-" + s
	}
	return s
}

// RescaleDecimal changes scale and checks precision, refusing any loss.
func RescaleDecimal(n decimal128.Num, from, to, prec int32) (decimal128.Num, error) {
	return DecimalFromBig(n.BigInt(), -from, prec, to)
}
