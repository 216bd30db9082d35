package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

func TestBuiltInTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	addr := freeAddr(t)
	vars := map[string]string{"CLINIKAPI_DATA_DIR": dir, "CLINIKAPI_ADDR": addr, "TLS_CERT_FILE": cert, "TLS_KEY_FILE": key}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, env(vars), &bytes.Buffer{}, &bytes.Buffer{}) }()

	client := func(maxVersion uint16) *http.Client {
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MaxVersion: maxVersion}}}
	}
	var res *http.Response
	var err error
	for i := 0; i < 100; i++ {
		if res, err = client(tls.VersionTLS13).Get("https://" + addr + "/signin"); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("HTTPS: %v", err)
	}
	res.Body.Close()
	if hsts := res.Header.Get("Strict-Transport-Security"); hsts == "" {
		t.Fatalf("no HSTS over TLS")
	}
	c := client(tls.VersionTLS13)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err = c.PostForm("https://"+addr+"/signup", url.Values{"email": {"tls@example.com"}, "password": {"copper meadow falcon 7"}, "org_name": {"TLS"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if len(res.Cookies()) == 0 {
		t.Fatalf("sign-up over TLS set no cookie (status %d)", res.StatusCode)
	}
	for _, ck := range res.Cookies() {
		if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
			t.Fatalf("cookie %s over TLS: Secure %t HttpOnly %t SameSite %v", ck.Name, ck.Secure, ck.HttpOnly, ck.SameSite)
		}
	}
	if _, err := client(tls.VersionTLS11).Get("https://" + addr + "/health"); err == nil {
		t.Fatalf("TLS 1.1 was accepted; the minimum is 1.2")
	}
	if res, err := client(tls.VersionTLS12).Get("https://" + addr + "/health"); err != nil {
		t.Fatalf("TLS 1.2: %v", err)
	} else {
		res.Body.Close()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}
