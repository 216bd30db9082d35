package resource

// administrative are the contract's administrative, scheduling, financial
// and quality resources.
var administrative = []*Def{}
