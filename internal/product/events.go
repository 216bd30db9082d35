package product

// PlanChange is the event billing captures when an organization's plan
// changes; userID is the person who changed it (or the owner, for changes
// that come from Stripe).
func PlanChange(userID, orgID, from, to string) Event {
	return Event{Name: PlanChanged, UserID: userID, OrgID: orgID, Props: map[string]any{"plan": to, "previous_plan": from}}
}

// KeyEvent describes an API key event by its id, environment and scope:
// never the secret, never its display prefix.
func KeyEvent(name, userID, orgID, keyID, env, scope string) Event {
	n := 1
	if scope == "*" {
		n = 2 // read and write
	}
	return Event{Name: name, UserID: userID, OrgID: orgID, Props: map[string]any{"key_id": keyID, "environment": env, "scope": scope, "scopes_count": n}}
}
