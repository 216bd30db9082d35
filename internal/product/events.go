package product

// PlanChange is the one definition of the "plan changed" event: the plan ids
// before and after (plan, previous_plan) and what changed it (source:
// development, stripe or operator), all on Sanitize's allow-list. userID is
// the person who changed it, or "system:<actor>" for a change that came from
// Stripe or an operator command. The PostHog tracker also describes the
// organization group with the new plan.
func PlanChange(userID, orgID, from, to, source string) Event {
	return Event{Name: PlanChanged, UserID: userID, OrgID: orgID, Props: map[string]any{"plan": to, "previous_plan": from, "source": source}}
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
