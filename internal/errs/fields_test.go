package errs

import (
	"errors"
	"testing"
)

func TestFieldsKeepsEveryFieldError(t *testing.T) {
	if Fields(nil, nil) != nil {
		t.Fatal("no failure must be nil")
	}
	inner := Fields(FieldError("name", "name?"), nil, FieldError("scope", "scope?"))
	err := Fields(FieldError("expires_at", "date?"), inner, FieldError("name", "a second name message"))
	if CodeOf(err) != Invalid || FieldOf(err) != "expires_at" || MessageOf(err) != "date?" {
		t.Fatalf("the first failure is %v", err)
	}
	got := FieldErrors(err)
	want := map[string]string{"expires_at": "date?", "name": "name?", "scope": "scope?"}
	if len(got) != len(want) {
		t.Fatalf("field errors %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("field errors %v, want %v", got, want)
		}
	}
	// A failure that is not about a field stands alone.
	boom := errors.New("database down")
	if err := Fields(FieldError("name", "name?"), boom); err != boom {
		t.Fatalf("Fields = %v, want the database error", err)
	}
	forbidden := E(Forbidden, "no")
	if err := Fields(forbidden, FieldError("name", "name?")); err != forbidden {
		t.Fatalf("Fields = %v, want the refusal", err)
	}
}
