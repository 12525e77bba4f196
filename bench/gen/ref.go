package gen

import (
	"fmt"

	"golang.org/x/text/unicode/norm"
)

// Reference data. Populations are the 2019 census in thousands (rounded);
// they weight where households live. Commune and facility codes are
// synthetic: the 2-digit statistics-office province code followed by a
// 3-digit sequence, so a commune's province is substr(code, 1, 2).

type province struct {
	code int // statistics-office code: PIN prefix is 0 + code
	name string
	pop  float64
	// communes and facilities are filled by init.
	firstCommune, communes int
	facilities             int
}

var provinces = []province{
	{code: 1, name: "Hà Nội", pop: 8054}, {code: 2, name: "Hà Giang", pop: 855},
	{code: 4, name: "Cao Bằng", pop: 531}, {code: 6, name: "Bắc Kạn", pop: 314},
	{code: 8, name: "Tuyên Quang", pop: 785}, {code: 10, name: "Lào Cai", pop: 731},
	{code: 11, name: "Điện Biên", pop: 599}, {code: 12, name: "Lai Châu", pop: 461},
	{code: 14, name: "Sơn La", pop: 1249}, {code: 15, name: "Yên Bái", pop: 822},
	{code: 17, name: "Hòa Bình", pop: 855}, {code: 19, name: "Thái Nguyên", pop: 1287},
	{code: 20, name: "Lạng Sơn", pop: 782}, {code: 22, name: "Quảng Ninh", pop: 1321},
	{code: 24, name: "Bắc Giang", pop: 1804}, {code: 25, name: "Phú Thọ", pop: 1464},
	{code: 26, name: "Vĩnh Phúc", pop: 1152}, {code: 27, name: "Bắc Ninh", pop: 1369},
	{code: 30, name: "Hải Dương", pop: 1893}, {code: 31, name: "Hải Phòng", pop: 2029},
	{code: 33, name: "Hưng Yên", pop: 1253}, {code: 34, name: "Thái Bình", pop: 1861},
	{code: 35, name: "Hà Nam", pop: 853}, {code: 36, name: "Nam Định", pop: 1781},
	{code: 37, name: "Ninh Bình", pop: 983}, {code: 38, name: "Thanh Hóa", pop: 3641},
	{code: 40, name: "Nghệ An", pop: 3328}, {code: 42, name: "Hà Tĩnh", pop: 1289},
	{code: 44, name: "Quảng Bình", pop: 896}, {code: 45, name: "Quảng Trị", pop: 633},
	{code: 46, name: "Thừa Thiên Huế", pop: 1129}, {code: 48, name: "Đà Nẵng", pop: 1135},
	{code: 49, name: "Quảng Nam", pop: 1496}, {code: 51, name: "Quảng Ngãi", pop: 1232},
	{code: 52, name: "Bình Định", pop: 1487}, {code: 54, name: "Phú Yên", pop: 873},
	{code: 56, name: "Khánh Hòa", pop: 1232}, {code: 58, name: "Ninh Thuận", pop: 591},
	{code: 60, name: "Bình Thuận", pop: 1231}, {code: 62, name: "Kon Tum", pop: 541},
	{code: 64, name: "Gia Lai", pop: 1514}, {code: 66, name: "Đắk Lắk", pop: 1869},
	{code: 67, name: "Đắk Nông", pop: 623}, {code: 68, name: "Lâm Đồng", pop: 1297},
	{code: 70, name: "Bình Phước", pop: 995}, {code: 72, name: "Tây Ninh", pop: 1170},
	{code: 74, name: "Bình Dương", pop: 2456}, {code: 75, name: "Đồng Nai", pop: 3097},
	{code: 77, name: "Bà Rịa–Vũng Tàu", pop: 1149}, {code: 79, name: "TP. Hồ Chí Minh", pop: 8993},
	{code: 80, name: "Long An", pop: 1689}, {code: 82, name: "Tiền Giang", pop: 1765},
	{code: 83, name: "Bến Tre", pop: 1289}, {code: 84, name: "Trà Vinh", pop: 1009},
	{code: 86, name: "Vĩnh Long", pop: 1023}, {code: 87, name: "Đồng Tháp", pop: 1600},
	{code: 89, name: "An Giang", pop: 1908}, {code: 91, name: "Kiên Giang", pop: 1723},
	{code: 92, name: "Cần Thơ", pop: 1236}, {code: 93, name: "Hậu Giang", pop: 734},
	{code: 94, name: "Sóc Trăng", pop: 1200}, {code: 95, name: "Bạc Liêu", pop: 907},
	{code: 96, name: "Cà Mau", pop: 1194},
}

// Migration destinations for people living away from their permanent
// residence: the industrial provinces draw most temporary residents.
var migrationWeight = map[int]float64{79: 30, 74: 18, 1: 16, 75: 10, 27: 5, 48: 4, 31: 4, 80: 3, 22: 2}

// commune is one synthetic commune; communes are laid out province by
// province so a commune index also finds its province.
type commune struct {
	code  string // 5 digits
	prov  uint8  // index into provinces
	urban bool
}

var (
	communes       []commune
	provByCode     [100]int // statistics-office code -> index, -1 if none
	provWeights    weighted
	migrateWeights weighted
	communeWeights []weighted // per province
	provCodes3     []string   // "001", ...
	provCodes2     []string   // "01", ...
)

func init() {
	for i := range provByCode {
		provByCode[i] = -1
	}
	w := make([]float64, len(provinces))
	mw := make([]float64, len(provinces))
	for i := range provinces {
		p := &provinces[i]
		provByCode[p.code] = i
		w[i] = p.pop
		mw[i] = 0.3 + migrationWeight[p.code]
		// About 10,000 communes in all, more per head in small provinces.
		p.communes = min(999, 60+int(p.pop*0.065))
		p.facilities = max(5, p.communes/8)
		p.firstCommune = len(communes)
		for j := 0; j < p.communes; j++ {
			communes = append(communes, commune{
				code:  fmt.Sprintf("%02d%03d", p.code, j+1),
				prov:  uint8(i),
				urban: j < p.communes/5,
			})
		}
		provCodes3 = append(provCodes3, fmt.Sprintf("%03d", p.code))
		provCodes2 = append(provCodes2, fmt.Sprintf("%02d", p.code))
	}
	provWeights = newWeighted(w)
	migrateWeights = newWeighted(mw)
	for i := range provinces {
		p := provinces[i]
		cw := make([]float64, p.communes)
		for j := range cw {
			// Fixed (seed-independent) sizes: urban wards are larger.
			r := newRng(0, sCommuneWeight, uint64(p.firstCommune+j))
			cw[j] = 0.5 + r.float()
			if j < p.communes/5 {
				cw[j] *= 2.5
			}
		}
		communeWeights = append(communeWeights, newWeighted(cw))
	}
	for _, l := range [][]string{familyNames, middleMale, middleFemale, givenMale, givenFemale, hmongGivenMale, hmongGivenFemale, streets, religions, relations} {
		for i, s := range l {
			l[i] = norm.NFC.String(s)
		}
	}
	familyPick = make([]weighted, len(familyGroups))
	for i, g := range familyGroups {
		ws := make([]float64, len(g))
		for j, f := range g {
			ws[j] = f.share
		}
		familyPick[i] = newWeighted(ws)
	}
	ethnicPick = newWeighted(ethnicShares[:])
	religionPick = newWeighted(religionShares)
}

func (g *generator) pickCommune(r *rng, prov int) int {
	return provinces[prov].firstCommune + communeWeights[prov].pick(r)
}

// Ethnic groups by statistics-office code 01..54 (index = code-1), shares
// roughly per the 2019 census.
var ethnicShares = [54]float64{
	85.3, 1.9, 1.9, 0.8, 1.3, 1.5, 1.1, 1.5, 0.9, 0.5, // 01-10
	0.01, 0.4, 0.3, 0.2, 0.2, 0.2, 0.2, 0.2, 0.15, 0.13, // 11-20
	0.15, 0.1, 0.1, 0.1, 0.07, 0.07, 0.07, 0.05, 0.09, 0.04, // 21-30
	0.05, 0.03, 0.02, 0.03, 0.03, 0.03, 0.02, 0.02, 0.01, 0.01, // 31-40
	0.01, 0.01, 0.005, 0.008, 0.005, 0.003, 0.003, 0.003, 0.003, 0.001, // 41-50
	0.001, 0.0005, 0.0005, 0.0005, // 51-54
}

var (
	ethnicPick   weighted
	religionPick weighted
	familyPick   []weighted
)

// Religion 0 is none (NULL); shares per the 2019 census.
var religions = []string{"", "Phật giáo", "Công giáo", "Tin lành", "Cao Đài", "Phật giáo Hòa Hảo", "Hồi giáo"}
var religionShares = []float64{86.3, 4.8, 6.1, 1.0, 0.6, 1.1, 0.1}

// Relations to the household head, as the NPD records them.
const (
	relHead = iota
	relWife
	relHusband
	relChild
	relFather
	relMother
	relOther
)

var relations = []string{"Chủ hộ", "Vợ", "Chồng", "Con", "Bố", "Mẹ", "Khác"}

const (
	msSingle = iota
	msMarried
	msDivorced
	msWidowed
)

var maritalStatuses = []string{"single", "married", "divorced", "widowed"}

// familyNames lists every family name; familyGroups picks among them per
// ethnic group with approximate shares.
var familyNames = []string{
	"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng",
	"Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Đào", "Đoàn", "Vương", "Trịnh",
	"Trương", "Lâm", "Phùng", "Mai", "Tô", "Hà", "Tạ", "Lương", "Đinh", "Lưu",
	"Cao", "Chu", "Quách", "Thái", "Kiều", "Khúc", // 0-35 Kinh
	"Nông", "Lăng", "Bế", "Triệu", "Hứa", "Đàm", // 36-41 Tày, Nùng
	"Lò", "Cầm", "Lường", "Quàng", "Tòng", "Vi", // 42-47 Thái
	"Giàng", "Vàng", "Sùng", "Thào", "Mùa", "Hạng", // 48-53 Hmông
	"Thạch", "Sơn", "Danh", "Kim", "Châu", // 54-58 Khmer
}

type familyShare struct {
	idx   uint8
	share float64
}

var familyGroups = [][]familyShare{
	{ // Kinh and default
		{0, 38}, {1, 11}, {2, 9.5}, {3, 7}, {4, 5.5}, {5, 5}, {6, 4.5}, {7, 2}, {8, 2}, {9, 2.1},
		{10, 2}, {11, 1.4}, {12, 1.3}, {13, 1.3}, {14, 1}, {15, 0.5}, {16, 0.4}, {17, 0.4},
		{18, 0.3}, {19, 0.4}, {20, 0.4}, {21, 0.3}, {22, 0.2}, {23, 0.3}, {24, 0.2}, {25, 0.3},
		{26, 0.2}, {27, 0.3}, {28, 0.3}, {29, 0.2}, {30, 0.2}, {31, 0.2}, {32, 0.1}, {33, 0.1},
		{34, 0.1}, {35, 0.1},
	},
	{{4, 20}, {36, 20}, {37, 8}, {38, 8}, {39, 10}, {40, 5}, {41, 6}, {25, 8}, {27, 8}, {2, 7}}, // Tày, Nùng
	{{42, 25}, {43, 15}, {44, 15}, {45, 10}, {46, 10}, {47, 10}, {25, 10}, {27, 5}},             // Thái
	{{48, 25}, {49, 20}, {50, 15}, {51, 15}, {52, 10}, {53, 8}, {15, 7}},                        // Hmông
	{{54, 30}, {55, 20}, {56, 20}, {57, 15}, {58, 10}, {21, 5}},                                 // Khmer
	{{1, 20}, {15, 20}, {21, 15}, {20, 10}, {32, 10}, {39, 5}, {0, 10}, {29, 10}},               // Hoa
}

// familyGroup maps an ethnicity index (code-1) to a familyGroups entry.
func familyGroup(ethnic int) int {
	switch ethnic + 1 {
	case 2, 7, 15, 25:
		return 1
	case 3, 37, 42:
		return 2
	case 8:
		return 3
	case 5:
		return 4
	case 4, 11:
		return 5
	}
	return 0
}

// Middle names: index 0 is the traditional Văn / Thị.
var middleMale = []string{
	"Văn", "Đức", "Minh", "Quang", "Hữu", "Công", "Thanh", "Xuân", "Ngọc", "Anh",
	"Hoàng", "Gia", "Đình", "Trọng", "Tuấn", "Thế", "Mạnh", "Bảo", "Quốc", "Tiến",
	"Duy", "Nhật", "Thành", "Khắc", "Việt", "Hải", "Đăng", "Trung", "Phúc", "Văn Minh",
}

var middleFemale = []string{
	"Thị", "Ngọc", "Thanh", "Thu", "Kim", "Minh", "Phương", "Bảo", "Khánh", "Mai",
	"Hồng", "Thùy", "Diệu", "Hải", "Quỳnh", "Thị Thu", "Thị Ngọc", "Thị Thanh", "Thị Kim", "Hoài",
	"Tuyết", "Mỹ", "Cẩm", "Bích", "Như", "Gia", "Tú", "Lan", "Yến", "Hà",
}

var givenMale = []string{
	"An", "Bình", "Cường", "Dũng", "Duy", "Đạt", "Đức", "Hải", "Hiếu", "Hòa",
	"Hùng", "Huy", "Khánh", "Khoa", "Kiên", "Long", "Lâm", "Minh", "Nam", "Nghĩa",
	"Phong", "Phúc", "Quân", "Quang", "Sơn", "Tài", "Thắng", "Thành", "Tiến", "Toàn",
	"Trung", "Tuấn", "Tùng", "Việt", "Vinh", "Vũ", "Hoàng", "Khôi", "Bảo", "Huân",
	"Thịnh", "Lộc", "Tâm", "Trí", "Hậu", "Đông", "Chiến", "Công", "Hưng", "Phát",
	"Nhân", "Thái", "Hiển", "Tú", "Quý", "Khải", "Lực", "Sang", "Thuận", "Tường",
}

var givenFemale = []string{
	"Anh", "Châu", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hiền", "Hoa",
	"Hồng", "Hương", "Huyền", "Lan", "Linh", "Loan", "Mai", "My", "Nga", "Ngân",
	"Ngọc", "Nhung", "Oanh", "Phương", "Quỳnh", "Thảo", "Thu", "Thủy", "Trang", "Trâm",
	"Tuyết", "Uyên", "Vân", "Vy", "Xuân", "Yến", "Nhi", "Thư", "Hân", "Lệ",
	"Diệp", "Hậu", "Huệ", "Liên", "Lý", "Mơ", "Nguyệt", "Nhàn", "Phượng", "Quyên",
	"Sen", "Tâm", "Thắm", "Thoa", "Trinh", "Tú", "Vi", "Ánh", "Đào", "Ly",
}

var hmongGivenMale = []string{"Páo", "Sính", "Chứ", "Dính", "Lử", "Súa", "Tủa", "Vảng", "Chơ", "Pó"}
var hmongGivenFemale = []string{"Mỷ", "Dợ", "Sua", "Mai", "Pà", "Chi", "Say", "Dung", "Lìa", "Cở"}

var streets = []string{
	"Lê Lợi", "Trần Hưng Đạo", "Nguyễn Trãi", "Hai Bà Trưng", "Lý Thường Kiệt", "Quang Trung",
	"Nguyễn Huệ", "Lê Duẩn", "Điện Biên Phủ", "Hùng Vương", "Phan Đình Phùng", "Bà Triệu",
	"Nguyễn Du", "Trần Phú", "Lê Hồng Phong", "Võ Thị Sáu", "Nguyễn Văn Cừ", "Hoàng Diệu",
	"Phạm Ngũ Lão", "Cách Mạng Tháng Tám", "Nguyễn Thị Minh Khai", "Lạc Long Quân", "Tôn Đức Thắng", "Ngô Quyền",
}

// Health: ICD-10 codes with relative frequency per age band (under 6, 6-59,
// 60+) and a typical cost in thousand VND.
type diagnosis struct {
	code    string
	w       [3]float64
	costKVN float64
}

var diagnoses = []diagnosis{
	{"J06", [3]float64{30, 14, 6}, 180}, {"J20", [3]float64{12, 5, 5}, 220},
	{"J18", [3]float64{6, 1, 4}, 1800}, {"A09", [3]float64{10, 4, 2}, 250},
	{"B34", [3]float64{8, 3, 1}, 200}, {"R50", [3]float64{8, 2, 1}, 150},
	{"H10", [3]float64{3, 3, 2}, 120}, {"L30", [3]float64{4, 3, 2}, 160},
	{"K29", [3]float64{0.5, 8, 6}, 350}, {"K21", [3]float64{0.2, 4, 4}, 420},
	{"M54", [3]float64{0, 6, 8}, 300}, {"I10", [3]float64{0, 6, 22}, 280},
	{"E11", [3]float64{0, 3, 10}, 450}, {"E78", [3]float64{0, 3, 6}, 320},
	{"I25", [3]float64{0, 0.5, 5}, 2500}, {"J45", [3]float64{2, 2, 3}, 380},
	{"N39", [3]float64{1, 3, 3}, 260}, {"S93", [3]float64{0.5, 2, 1}, 400},
	{"O80", [3]float64{0, 2, 0}, 3500}, {"Z00", [3]float64{12, 10, 6}, 100},
}

var diagnosisPick [3]weighted

func init() {
	for band := range diagnosisPick {
		w := make([]float64, len(diagnoses))
		for i, d := range diagnoses {
			w[i] = d.w[band]
		}
		diagnosisPick[band] = newWeighted(w)
	}
}

// Health-insurance groups: card prefix, benefit code digit and level (%).
type cardGroup struct {
	prefix  string
	benefit int
	level   int64 // percent
}

var (
	groupTE = cardGroup{"TE", 1, 100} // children under 6
	groupHS = cardGroup{"HS", 4, 80}  // pupils and students
	groupDN = cardGroup{"DN", 4, 80}  // employees
	groupGD = cardGroup{"GD", 4, 80}  // household scheme
	groupHC = cardGroup{"HC", 4, 80}  // civil servants
	groupCN = cardGroup{"CN", 2, 100} // poor households
	groupDT = cardGroup{"DT", 2, 100} // minorities in hard areas
	groupHT = cardGroup{"HT", 3, 95}  // pensioners
	groupBT = cardGroup{"BT", 2, 100} // social assistance (80+)
)

// Mobile prefixes of the three big carriers.
var phonePrefixes = []string{
	"032", "033", "034", "035", "036", "037", "038", "039", "070", "076", "077", "078", "079",
	"081", "082", "083", "084", "085", "086", "088", "089", "090", "091", "093", "094", "096", "097", "098", "099",
}

// COVID-19 vaccines used in Viet Nam in 2021-2022.
var covidVaccines = []string{"COVID-19 AstraZeneca", "COVID-19 Pfizer", "COVID-19 Moderna", "COVID-19 Vero Cell"}

// Expanded Programme on Immunisation doses: vaccine, dose, age in days.
type epiDose struct {
	vaccine string
	series  int // doses of one series share it; a missed dose ends the series
	dose    int64
	ageDays int
}

var epiSchedule = []epiDose{
	{"VGB", 0, 1, 0}, {"BCG", 1, 1, 3},
	{"DPT-VGB-Hib", 2, 1, 60}, {"DPT-VGB-Hib", 2, 2, 90}, {"DPT-VGB-Hib", 2, 3, 120},
	{"Sởi", 3, 1, 270}, {"VNNB", 4, 1, 365}, {"VNNB", 4, 2, 379},
	{"MR", 5, 1, 540}, {"DPT", 6, 4, 540}, {"VNNB", 4, 3, 730},
}

func init() {
	for i := range epiSchedule {
		epiSchedule[i].vaccine = norm.NFC.String(epiSchedule[i].vaccine)
	}
}
