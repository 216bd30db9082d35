# ClinikAPI — common tasks. `make run` and `make test` are the two you need.

GO ?= go

.PHONY: run test build generate css check fmt vet staticcheck

run: ## run on the embedded default (SQLite under ./data, built-in accounts)
	$(GO) run ./cmd/clinikapi serve

test: ## run every test (PostgreSQL too when CLINIKAPI_TEST_POSTGRES_URL is set)
	@test -n "$$CHROMIUM_PATH" || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || command -v google-chrome >/dev/null 2>&1 || \
		echo 'note: Chromium is not installed: the browser tests (web/browser_*_test.go) will be skipped (apt-get install chromium)'
	@test -f node_modules/axe-core/axe.min.js || echo 'note: node_modules/axe-core is missing: the accessibility checks will be skipped (npm ci)'
	$(GO) test -count=1 -timeout 20m ./...

build: ## build the binary into ./bin/clinikapi
	$(GO) build -trimpath -o bin/clinikapi ./cmd/clinikapi

generate: ## regenerate templ code, go:generate output (the resource base, required_gen.go) and the Tailwind CSS (needs `npm ci` once)
	$(GO) tool templ generate
	$(GO) generate ./...
	npm run --silent build

fmt: ## format Go and templ sources
	gofmt -w $$(git ls-files '*.go')
	$(GO) tool templ fmt views

vet:
	$(GO) vet ./...

staticcheck: ## staticcheck, pinned as a Go tool in go.mod
	$(GO) tool staticcheck ./...

check: vet staticcheck ## the checks CI runs before the tests
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting'; exit 1)
