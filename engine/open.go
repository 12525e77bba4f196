package engine

import "lienthong/connectors/open"

// openSource is a variable so tests can count or fail connections.
var openSource = open.Source
