package supabase

import "context"

// VerifyForTest checks a token's signature and claims only, without the
// session check that Authenticate adds.
func VerifyForTest(p *Provider, token string) error {
	_, err := p.verifyLocal(context.Background(), token)
	return err
}
