package engine

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"lienthong/policy"
)

// pseudonymUDF is lt_pseudonym(value, purpose): the keyed hash the access
// policy's "pseudonym" mask stands for. The key is looked up by purpose
// inside the engine, so it never appears in SQL, plans or logs.
type pseudonymUDF struct {
	key func(purpose string) ([]byte, bool)
}

func (u pseudonymUDF) Config() duckdb.ScalarFuncConfig {
	v, _ := duckdb.NewTypeInfo(duckdb.TYPE_VARCHAR)
	return duckdb.ScalarFuncConfig{InputTypeInfos: []duckdb.TypeInfo{v, v}, ResultTypeInfo: v}
}

func (u pseudonymUDF) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{RowExecutor: func(values []driver.Value) (any, error) {
		val, _ := values[0].(string)
		purpose, _ := values[1].(string)
		k, ok := u.key(purpose)
		if !ok {
			return nil, fmt.Errorf("no pseudonym key for purpose %s", purpose)
		}
		return policy.PseudonymOf(k, val), nil
	}}
}

func registerPseudonym(db *sql.DB, key func(string) ([]byte, bool)) error {
	conn, err := db.Conn(context.Background())
	if err != nil {
		return err
	}
	defer conn.Close()
	return duckdb.RegisterScalarUDF(conn, "lt_pseudonym", pseudonymUDF{key: key})
}
