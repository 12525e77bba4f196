package config_test

// Which kinds a config may name is what the connector packages register;
// importing package open registers the built-in ones for config's tests.
import _ "lienthong/connectors/open"
