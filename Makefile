.PHONY: help install serve test lint format typecheck bundle
help:            ## list the targets
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## / — /'
install:         ## create .venv with oh-mcp and the dev tools
	scripts/setup --dev
serve:           ## set up and run oh-mcp over stdio
	scripts/serve
test:            ## set up, then lint, type-check and run every test
	scripts/test
lint:            ## ruff lint and format check
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
format:          ## apply ruff's formatting and fixes
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .
typecheck:       ## mypy, strict
	.venv/bin/mypy
bundle:          ## build dist/oh-mcp.mcpb, the MCP Bundle for Claude Desktop
	scripts/bundle
