package gen

import (
	"fmt"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// person is the compact per-citizen state (56 bytes) every table is
// derived from. Rows themselves are never kept.
type person struct {
	pin       uint64
	birth     int32
	death     int32 // 0: alive (nobody in the data dies on 1970-01-01)
	household int32
	father    int32 // person index, -1 unknown
	mother    int32
	spouse    int32
	flags     uint32
	perm      uint16 // commune index of permanent residence
	cur       uint16 // commune index of current residence
	birthProv uint8  // province index of birth registration (PIN prefix)
	hometown  uint8
	sex       uint8 // 0 male, 1 female
	ethnic    uint8 // code-1
	religion  uint8
	relation  uint8
	marital   uint8
	family    uint8
	middle    uint8
	given     uint8
}

type household struct {
	first   int32 // index of the head; members are contiguous
	n       uint8
	commune uint16
}

// Per-person decisions taken once so that every table, and the manifest
// counts, agree on them.
const (
	fNoBirthReg uint32 = 1 << iota
	fBadPIN
	fNameUpper
	fNameNFD
	fNameDoubleSpace
	fPhoneNull
	fNoCard
	fCardBeforeBirth
	fNoPerm
	fDeathUnregistered
	fDeathDateMismatch
	fPermActiveAfterDeath
	fCardAfterDeath
	fAllowance
	fAllowanceDup
	fInsured
	fMoved
	fTempHistory
	fHmong
)

// Imperfection rates. Each is applied by an independent draw, so the exact
// numbers vary around rate*population; the manifest records them exactly.
const (
	rateNoBirthReg            = 0.005  // citizens with no births row
	rateBadPIN                = 0.001  // births rows with a wrong century/sex digit
	rateNameUpper             = 0.010  // births.full_name upper-cased
	rateNameNFD               = 0.020  // births.full_name in NFD
	rateNameDoubleSpace       = 0.005  // births.full_name with a double space
	ratePhoneNull             = 0.10   // citizens.phone NULL
	rateChildNoCard           = 0.03   // living children under 6 without a card
	rateCardBeforeBirth       = 0.005  // children's cards starting before birth
	rateChildNoPerm           = 0.01   // living children under 6 with no permanent residence
	rateDeathUnregistered     = 0.02   // deceased without a hotich.deaths row
	rateDeathDateMismatch     = 0.01   // registered deaths whose date differs
	ratePermActiveAfterDeath  = 0.05   // deceased whose permanent residence stays active
	rateCardAfterDeath        = 0.05   // insured deceased whose card stays valid
	rateAllowanceRegistered   = 0.90   // registered deaths with a funeral allowance
	rateAllowanceUnregistered = 0.50   // unregistered deaths with an allowance anyway
	rateAllowanceLiving       = 0.0001 // living citizens paid a funeral allowance
	rateAllowanceDuplicate    = 0.01   // allowances paid twice
)

type member struct {
	sex, rel, marital  uint8
	age                float64 // years on refDate
	father, mother, sp int     // local index, -1 none
}

const (
	hhSingle = iota
	hhCouple
	hhNuclear
	hhSingleParent
	hhThreeGen
)

var (
	hhTypes   = newWeighted([]float64{14, 13, 52, 7, 14})
	kidCounts = newWeighted([]float64{25, 45, 20, 10})
)

// pinPrefix indexes the per-(province, G, YY) counters.
func pinPrefix(code, g, yy int) int { return code*1000 + g*100 + yy }

func pinFeistel(seed int64, prefix int) feistel {
	return newFeistel(1_000_000, uint64(seed)^sPINKey<<56, uint64(prefix))
}

// centurySex is the G digit of Decree 137/2015.
func centurySex(year int, sex uint8) int { return (year/100-19)*2 + int(sex) }

func (g *generator) buildPopulation() error {
	n := g.n
	g.persons = make([]person, 0, n)
	g.households = make([]household, 0, n/3+1)
	g.pinCount = make([]uint32, 100*1000)
	var ms []member
	for len(g.persons) < n {
		h := len(g.households)
		r := newRng(g.seed, sHousehold, uint64(h))
		prov := provWeights.pick(&r)
		com := g.pickCommune(&r, prov)
		eth := ethnicPick.pick(&r)
		rel := religionPick.pick(&r)
		ms = composeHousehold(&r, ms[:0])
		if rem := n - len(g.persons); len(ms) > rem {
			ms = ms[:rem]
		}
		first := int32(len(g.persons))
		g.households = append(g.households, household{first: first, n: uint8(len(ms)), commune: uint16(com)})
		grp := familyGroup(eth)
		headFamily := familyGroups[grp][familyPick[grp].pick(&r)].idx
		for j, m := range ms {
			p := person{
				household: int32(h), father: -1, mother: -1, spouse: -1,
				perm: uint16(com), cur: uint16(com),
				sex: m.sex, ethnic: uint8(eth), religion: uint8(rel),
				relation: m.rel, marital: m.marital,
			}
			link := func(l int) int32 {
				if l < 0 || l >= len(ms) {
					return -1
				}
				return first + int32(l)
			}
			p.father, p.mother, p.spouse = link(m.father), link(m.mother), link(m.sp)
			p.birth = refDate - int32(m.age*365.2425) - int32(r.intn(365))
			if p.birth > refDate {
				p.birth = refDate
			}
			// Family names pass from father to child; wives keep their own.
			switch {
			case j == 0 || m.rel == relFather:
				p.family = headFamily
			case p.father >= 0 && int(p.father-first) < j:
				p.family = g.persons[p.father].family
			case p.mother >= 0 && int(p.mother-first) < j:
				p.family = g.persons[p.mother].family
			default:
				p.family = familyGroups[grp][familyPick[grp].pick(&r)].idx
			}
			if err := g.personDetails(&p, int(first)+j, prov); err != nil {
				return err
			}
			g.persons = append(g.persons, p)
		}
	}
	return nil
}

// composeHousehold draws a household's members, head first. Ages are in
// years on refDate.
func composeHousehold(r *rng, ms []member) []member {
	add := func(m member) int { ms = append(ms, m); return len(ms) - 1 }
	couple := func(husbandAge float64, maleHead bool) (hus, wife int) {
		wifeAge := max(19, husbandAge-float64(r.between(-1, 6))+r.float())
		if maleHead {
			hus = add(member{sex: 0, rel: relHead, marital: msMarried, age: husbandAge, father: -1, mother: -1})
			wife = add(member{sex: 1, rel: relWife, marital: msMarried, age: wifeAge, father: -1, mother: -1, sp: hus})
		} else {
			wife = add(member{sex: 1, rel: relHead, marital: msMarried, age: wifeAge, father: -1, mother: -1})
			hus = add(member{sex: 0, rel: relHusband, marital: msMarried, age: husbandAge, father: -1, mother: -1, sp: wife})
		}
		ms[hus].sp, ms[wife].sp = wife, hus
		return
	}
	kids := func(k int, father, mother int, motherAge float64, room int) {
		at := 20 + r.float()*9 // mother's age at first birth
		for i := 0; i < k && room > 0; i++ {
			age := motherAge - at
			if age < 0 {
				return
			}
			if age <= 32 {
				sex := uint8(0)
				if r.chance(0.485) {
					sex = 1
				}
				add(member{sex: sex, rel: relChild, marital: msSingle, age: age, father: father, mother: mother, sp: -1})
				room--
			}
			at += 2 + r.float()*3.5
		}
	}
	switch hhTypes.pick(r) {
	case hhSingle:
		var age float64
		switch u := r.float(); {
		case u < 0.15:
			age = 18 + r.float()*12
		case u < 0.45:
			age = 30 + r.float()*20
		case u < 0.72:
			age = 50 + r.float()*20
		default:
			age = 70 + r.float()*25
		}
		pf := 0.5
		if age >= 60 {
			pf = 0.7 // widows outlive widowers
		}
		sex := uint8(0)
		if r.chance(pf) {
			sex = 1
		}
		status := uint8(msSingle)
		if age >= 30 {
			switch u := r.float(); {
			case age >= 60 && u < 0.7, age < 60 && u < 0.15:
				status = msWidowed
			case u < 0.85:
				status = msDivorced
			}
		}
		add(member{sex: sex, rel: relHead, marital: status, age: age, father: -1, mother: -1, sp: -1})
	case hhCouple:
		age := 22 + r.float()*10
		if r.chance(0.7) {
			age = 50 + r.float()*35
		}
		couple(age, r.chance(0.85))
	case hhNuclear:
		age := 27 + r.float()*21
		if r.chance(0.3) {
			age = 48 + r.float()*15
		}
		h, w := couple(age, r.chance(0.8))
		kids(kidCounts.pick(r)+1, h, w, ms[w].age, 4)
	case hhSingleParent:
		age := 25 + r.float()*30
		sex := uint8(1)
		if r.chance(0.2) {
			sex = 0
		}
		status := uint8(msDivorced)
		if u := r.float(); u < 0.3 {
			status = msWidowed
		} else if u < 0.5 {
			status = msSingle
		}
		p := add(member{sex: sex, rel: relHead, marital: status, age: age, father: -1, mother: -1, sp: -1})
		f, m := p, -1
		if sex == 1 {
			f, m = -1, p
		}
		motherAge := age
		if sex == 0 {
			motherAge = age - float64(r.between(0, 5))
		}
		kids(r.between(1, 3), f, m, motherAge, 3)
	case hhThreeGen:
		headAge := 28 + r.float()*24
		maleHead := r.chance(0.75)
		var head int
		room := 4
		var motherAge float64
		var hus, wife int
		if r.chance(0.85) {
			hus, wife = couple(headAge, maleHead)
			head = 0
			motherAge = ms[wife].age
		} else {
			sex := uint8(0)
			if !maleHead {
				sex = 1
			}
			head = add(member{sex: sex, rel: relHead, marital: msWidowed, age: headAge, father: -1, mother: -1, sp: -1})
			hus, wife = -1, -1
			if sex == 1 {
				wife, motherAge = head, headAge
			} else {
				hus, motherAge = head, headAge-3
			}
			room = 5
		}
		kids(r.between(1, 3), hus, wife, motherAge, room-2)
		fa, mo := -1, -1
		hasFather, hasMother := r.chance(0.6), r.chance(0.9)
		if !hasFather && !hasMother {
			hasMother = true
		}
		if hasFather {
			fa = add(member{sex: 0, rel: relFather, marital: msWidowed, age: min(100, ms[head].age+float64(r.between(22, 35))), father: -1, mother: -1, sp: -1})
		}
		if hasMother {
			mo = add(member{sex: 1, rel: relMother, marital: msWidowed, age: min(100, ms[head].age+float64(r.between(20, 32))), father: -1, mother: -1, sp: -1})
		}
		if fa >= 0 && mo >= 0 {
			ms[fa].marital, ms[mo].marital = msMarried, msMarried
			ms[fa].sp, ms[mo].sp = mo, fa
		}
		ms[head].father, ms[head].mother = fa, mo
	}
	return ms
}

// personDetails draws everything about one person that is not decided by the
// household, in a fixed order on the person's own stream.
func (g *generator) personDetails(p *person, i int, hhProv int) error {
	r := newRng(g.seed, sPerson, uint64(i))
	age := float64(refDate-p.birth) / 365.2425
	// Birth registration province: mostly where the family lives.
	stay := 0.75
	if age < 10 {
		stay = 0.95
	}
	if r.chance(stay) {
		p.birthProv = uint8(hhProv)
	} else {
		p.birthProv = uint8(provWeights.pick(&r))
	}
	p.hometown = p.birthProv
	if r.chance(0.15) {
		p.hometown = uint8(provWeights.pick(&r))
	}
	// Working-age adults often live away from their permanent residence.
	away := 0.04
	if age >= 18 && age < 40 {
		away = 0.22
	}
	if r.chance(away) {
		dp := migrateWeights.pick(&r)
		p.cur = uint16(g.pickCommune(&r, dp))
		if p.cur == p.perm {
			p.cur = uint16(provinces[dp].firstCommune + (int(p.cur)-provinces[dp].firstCommune+1)%provinces[dp].communes)
		}
	}
	// Names.
	year := yearOf(p.birth)
	if p.ethnic+1 == 8 {
		p.flags |= fHmong
		p.middle = 0 // "A" / "Thị", see middleName
		if p.sex == 0 {
			p.given = uint8(r.intn(len(hmongGivenMale)))
		} else {
			p.given = uint8(r.intn(len(hmongGivenFemale)))
		}
	} else {
		trad := 0.15
		switch {
		case year < 1970:
			trad = 0.75
		case year < 1990:
			trad = 0.55
		case year < 2005:
			trad = 0.35
		}
		middles, givens := middleMale, givenMale
		if p.sex == 1 {
			middles, givens = middleFemale, givenFemale
		}
		if !r.chance(trad) {
			p.middle = uint8(1 + r.intn(len(middles)-1))
		}
		p.given = uint8(r.intn(len(givens)))
	}
	// PIN: province of birth registration, century/sex, year, six digits.
	code := provinces[p.birthProv].code
	prefix := pinPrefix(code, centurySex(year, p.sex), year%100)
	k := g.pinCount[prefix]
	g.pinCount[prefix]++
	if k >= 1_000_000 {
		return fmt.Errorf("gen: all million PINs of prefix %06d issued; lower the scale", prefix)
	}
	p.pin = uint64(prefix)*1_000_000 + pinFeistel(g.seed, prefix).apply(uint64(k))

	// Death: more likely with age; tuned to about 0.6% of the population.
	var pd float64
	switch {
	case age < 1:
		pd = 0.004
	case age < 40:
		pd = 0.0008
	case age < 60:
		pd = 0.005
	case age < 70:
		pd = 0.015
	case age < 80:
		pd = 0.04
	default:
		pd = 0.11
	}
	if lo := max(p.birth, refDate-3*365); r.chance(pd) && lo < refDate {
		p.death = lo + int32(r.intn(int(refDate-lo)))
	}

	// Imperfections and other per-person decisions, one draw each.
	set := func(f uint32, ok bool) {
		if ok {
			p.flags |= f
		}
	}
	u := r.float()
	set(fNoBirthReg, u < rateNoBirthReg)
	set(fBadPIN, u >= rateNoBirthReg && u < rateNoBirthReg+rateBadPIN)
	u = r.float()
	set(fNameUpper, u < rateNameUpper)
	set(fNameNFD, u >= rateNameUpper && u < rateNameUpper+rateNameNFD)
	set(fNameDoubleSpace, u >= rateNameUpper+rateNameNFD && u < rateNameUpper+rateNameNFD+rateNameDoubleSpace)
	if p.flags&(fNoBirthReg|fBadPIN) != 0 {
		p.flags &^= fNameUpper | fNameNFD | fNameDoubleSpace
	}
	if p.flags&fNameNFD != 0 && norm.NFD.String(p.fullName()) == p.fullName() {
		p.flags &^= fNameNFD // no diacritics: the variant would not differ
	}
	set(fPhoneNull, r.chance(ratePhoneNull))
	alive := p.death == 0
	under6 := p.birth > under6Cutoff
	insured := 0.92
	if under6 {
		insured = 1 - rateChildNoCard
	}
	set(fInsured, r.chance(insured))
	set(fNoCard, under6 && alive && p.flags&fInsured == 0)
	set(fCardBeforeBirth, under6 && alive && p.flags&fInsured != 0 && r.chance(rateCardBeforeBirth))
	set(fNoPerm, under6 && alive && r.chance(rateChildNoPerm))
	set(fMoved, age >= 20 && r.chance(0.2))
	set(fTempHistory, age >= 18 && r.chance(0.06))
	if !alive {
		set(fDeathUnregistered, r.chance(rateDeathUnregistered))
		set(fDeathDateMismatch, p.flags&fDeathUnregistered == 0 && r.chance(rateDeathDateMismatch))
		set(fPermActiveAfterDeath, r.chance(ratePermActiveAfterDeath))
		set(fCardAfterDeath, p.flags&fInsured != 0 && r.chance(rateCardAfterDeath))
		if p.flags&fDeathUnregistered == 0 {
			set(fAllowance, r.chance(rateAllowanceRegistered))
		} else {
			set(fAllowance, r.chance(rateAllowanceUnregistered))
		}
	} else {
		set(fAllowance, r.chance(rateAllowanceLiving))
	}
	set(fAllowanceDup, p.flags&fAllowance != 0 && r.chance(rateAllowanceDuplicate))
	return nil
}

func (p *person) alive() bool { return p.death == 0 }

func (p *person) pinString() string { return pinString(p.pin) }

func pinString(pin uint64) string {
	var b [12]byte
	for i := 11; i >= 0; i-- {
		b[i] = byte('0' + pin%10)
		pin /= 10
	}
	return string(b[:])
}

func (p *person) middleName() string {
	if p.flags&fHmong != 0 {
		if p.sex == 0 {
			return "A"
		}
		return "Thị"
	}
	if p.sex == 0 {
		return middleMale[p.middle]
	}
	return middleFemale[p.middle]
}

func (p *person) givenName() string {
	switch {
	case p.flags&fHmong != 0 && p.sex == 0:
		return hmongGivenMale[p.given]
	case p.flags&fHmong != 0:
		return hmongGivenFemale[p.given]
	case p.sex == 0:
		return givenMale[p.given]
	}
	return givenFemale[p.given]
}

// fullName is the canonical NFC name the NPD holds.
func (p *person) fullName() string {
	return familyNames[p.family] + " " + p.middleName() + " " + p.givenName()
}

// birthName is the name as the civil register spells it: the canonical name
// or one of the documented variants.
func (p *person) birthName() string {
	n := p.fullName()
	switch {
	case p.flags&fNameUpper != 0:
		return strings.ToUpper(n)
	case p.flags&fNameNFD != 0:
		return norm.NFD.String(n)
	case p.flags&fNameDoubleSpace != 0:
		return strings.Replace(n, " ", "  ", 1)
	}
	return n
}

func (p *person) sexCode() string {
	if p.sex == 0 {
		return "M"
	}
	return "F"
}

// badPIN is the PIN the civil register holds for a fBadPIN birth: the sex
// digit flipped, or, if that would be another citizen's PIN, a century digit
// no living person can have.
func (g *generator) badPIN(p *person) uint64 {
	prefix := int(p.pin / 1_000_000)
	nnn := p.pin % 1_000_000
	gd := prefix / 100 % 10
	alt := prefix - gd*100 + (gd^1)*100
	if k := pinFeistel(g.seed, alt).invert(nnn); k < uint64(g.pinCount[alt]) {
		alt = prefix - gd*100 + (gd^1+4)*100
	}
	return uint64(alt)*1_000_000 + nnn
}
