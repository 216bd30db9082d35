package resource

// clinical are the contract's clinical resources beyond the core ones:
// problems, allergies, immunizations, care plans and the like.
var clinical = []*Def{}
