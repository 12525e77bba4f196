package planner_test

// The golden plans name sources of the built-in kinds; which dialect each
// speaks is what their connector packages register. Importing package open
// registers them (the planner itself imports no connector).
import _ "lienthong/connectors/open"
