# oh-mcp hosted over Streamable HTTP. Needs OH_MCP_AUTH_TOKEN (or OH_MCP_ALLOW_UNAUTHENTICATED=true
# behind a proxy that authenticates): it refuses to serve 0.0.0.0 without auth.
FROM python:3.12-slim

RUN useradd --create-home --uid 10001 oh-mcp
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY oh_mcp ./oh_mcp
RUN pip install --no-cache-dir . && rm -rf /root/.cache

USER oh-mcp
ENV OH_MCP_TRANSPORT=streamable-http \
    OH_MCP_HOST=0.0.0.0 \
    OH_MCP_PORT=8000 \
    OH_MCP_STATELESS=true \
    OH_MCP_LOG_LEVEL=INFO
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"
STOPSIGNAL SIGTERM
CMD ["oh-mcp"]
